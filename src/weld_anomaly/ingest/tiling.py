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
    """The maximum of a 2-D map inside each fragment (for pixel-map scorers).

    Column bands first (one per fragment column: a row-wise maximum), then row bands of
    those: each pixel is read about twice, and the overlapping windows (4x the map) are
    never copied.
    """
    if not len(corners):
        return np.zeros(0, dtype=score_map.dtype)
    ys, row_of = np.unique(corners[:, 0], return_inverse=True)
    xs, column_of = np.unique(corners[:, 1], return_inverse=True)
    bands = np.empty((score_map.shape[0], len(xs)), dtype=score_map.dtype)
    for j, x in enumerate(xs):
        bands[:, j] = score_map[:, x : x + size].max(axis=1)
    grid = np.empty((len(ys), len(xs)), dtype=score_map.dtype)
    for i, y in enumerate(ys):
        grid[i] = bands[y : y + size].max(axis=0)
    return grid[row_of, column_of]


def mean_per_fragment(score_map: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """The mean of a 2-D map inside each fragment (e.g. the share of masked pixels), from
    the map's summed-area table (exact for masks; no copy of the overlapping windows)."""
    table = np.zeros((score_map.shape[0] + 1, score_map.shape[1] + 1))
    np.cumsum(np.cumsum(np.asarray(score_map, dtype=np.float64), axis=0), axis=1, out=table[1:, 1:])
    y, x = corners[:, 0], corners[:, 1]
    total = table[y + size, x + size] - table[y, x + size] - table[y + size, x] + table[y, x]
    return total / (size * size)


def scale(fragments: np.ndarray) -> np.ndarray:
    """Integer fragments ``(N, S, S)`` to float32 ``(N, S, S, 1)`` in [0, 1] (the model's input)."""
    top = 255.0 if fragments.dtype == np.uint8 else 65535.0
    return (fragments.astype(np.float32) / np.float32(top))[..., None]
