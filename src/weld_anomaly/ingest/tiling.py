"""Cut a crop into square fragments with overlap, the border always covered.

Positions along one axis run ``0, stride, 2*stride, ...``; when the last fragment does not
end on the border, one more fragment is added flush with it. So a 64-pixel fragment with
stride 32 over 200 pixels starts at 0, 32, 64, 96, 128 and 136. A crop smaller than a
fragment cannot be fragmented (it is rejected when the crop manifest is checked).

>>> axis_positions(200, 64, 32).tolist()
[0, 32, 64, 96, 128, 136]
"""

from __future__ import annotations

import numpy as np


def axis_positions(length: int, size: int, stride: int) -> np.ndarray:
    """Start offsets of fragments of ``size`` along an axis of ``length`` pixels."""
    if size <= 0 or stride <= 0:
        raise ValueError(f"fragment size and stride must be positive, got {size} and {stride}")
    if stride > size:
        raise ValueError(f"stride {stride} is larger than the fragment size {size}: gaps")
    if length < size:
        raise ValueError(f"an axis of {length} px is shorter than one {size}-px fragment")
    starts = np.arange(0, length - size + 1, stride, dtype=np.int64)
    if starts[-1] != length - size:
        starts = np.append(starts, length - size)
    return starts


def fragment_count(height: int, width: int, size: int, stride: int) -> int:
    """How many fragments :func:`fragment_grid` yields for a ``height`` × ``width`` crop."""

    def per_axis(length: int) -> int:
        n, rest = divmod(length - size, stride)
        return n + 1 + (1 if rest else 0)

    return per_axis(height) * per_axis(width)


def fragment_grid(height: int, width: int, size: int, stride: int) -> np.ndarray:
    """Top-left corners ``(y, x)`` of every fragment, row by row, shape ``(N, 2)``."""
    ys = axis_positions(height, size, stride)
    xs = axis_positions(width, size, stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=1)


def cut_fragments(image: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 2-D image into fragments.

    Returns ``(fragments, corners)``: fragments of shape ``(N, size, size)`` with the image's
    dtype, and their top-left corners ``(N, 2)`` in the image's coordinates.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    corners = fragment_grid(image.shape[0], image.shape[1], size, stride)
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))
    fragments = windows[corners[:, 0], corners[:, 1]]
    return np.ascontiguousarray(fragments), corners


def max_per_fragment(score_map: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """The maximum of a 2-D map inside each fragment (for pixel-map scorers)."""
    return _per_fragment(np.max, score_map, corners, size, score_map.dtype)


def mean_per_fragment(score_map: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """The mean of a 2-D map inside each fragment (e.g. the share of masked pixels): exact
    counts for a boolean map; a number map through its summed-area table."""
    if score_map.dtype == bool:
        return count_per_fragment(score_map, corners, size) / (size * size)
    table = np.zeros((score_map.shape[0] + 1, score_map.shape[1] + 1))
    np.cumsum(np.cumsum(np.asarray(score_map, dtype=np.float64), axis=0), axis=1, out=table[1:, 1:])
    y, x = corners[:, 0], corners[:, 1]
    total = table[y + size, x + size] - table[y, x + size] - table[y + size, x] + table[y, x]
    return total / (size * size)


def count_per_fragment(mask: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """How many pixels of a boolean map are set inside each fragment (an empty map, the
    usual marker mask, costs one test)."""
    if not len(corners) or not mask.any():
        return np.zeros(len(corners), np.int64)
    return _per_fragment(np.sum, mask, corners, size, np.int64)


def _per_fragment(reduce, score_map: np.ndarray, corners: np.ndarray, size: int, dtype):
    """``reduce`` (``np.max``, ``np.sum``) of a 2-D map inside each fragment.

    Row bands first, one per fragment row (``size`` whole rows reduced to one: contiguous,
    vectorised), then the same over the bands turned on their side: each pixel is read
    about twice and the overlapping windows (4x the map) are never copied."""
    if not len(corners):
        return np.zeros(0, dtype=dtype)
    ys, row_of = np.unique(corners[:, 0], return_inverse=True)
    xs, column_of = np.unique(corners[:, 1], return_inverse=True)
    bands = np.empty((len(ys), score_map.shape[1]), dtype=dtype)
    for i, y in enumerate(ys):
        reduce(score_map[y : y + size], axis=0, out=bands[i])
    across = np.ascontiguousarray(bands.T)  # (columns of the map, fragment rows)
    grid = np.empty((len(xs), len(ys)), dtype=dtype)
    for j, x in enumerate(xs):
        reduce(across[x : x + size], axis=0, out=grid[j])
    return grid[column_of, row_of]


def scale(fragments: np.ndarray) -> np.ndarray:
    """Integer fragments ``(N, S, S)`` to float32 ``(N, S, S, 1)`` in [0, 1] (the model's input)."""
    top = 255.0 if fragments.dtype == np.uint8 else 65535.0
    return (fragments.astype(np.float32) / np.float32(top))[..., None]
