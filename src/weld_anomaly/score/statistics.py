"""The thesis's reconstruction-error statistics, vectorised over many fragments.

For each fragment ``f`` (scaled to [0, 1]), its reconstruction ``r`` and the difference
``d = r - f``: the sum, minimum, maximum and standard deviation of each of the three, and the
mean squared error ``mean(d**2)``. That is 3 × 4 + 1 = 13 columns named
``<source>_<statistic>`` (the project's issues speak of "14 statistics" while listing these
13; with the training-free ``baseline`` score every fragment gets 14 numbers). The
difference is taken as reconstruction minus fragment so that a cavity (darker than the weld
the model expects) gives positive values.
"""

from __future__ import annotations

import numpy as np

SOURCES = ("frag", "recon", "diff")
STATS = ("sum", "min", "max", "std")
COLUMNS = tuple(f"{s}_{t}" for s in SOURCES for t in STATS) + ("mse",)


CHUNK = 256  # fragments per pass: the float64 working copies stay ~25 MB at any image size


def fragment_statistics(
    fragments: np.ndarray, reconstructions: np.ndarray
) -> dict[str, np.ndarray]:
    """The 13 statistics of each fragment, as columns of length N.

    ``fragments`` and ``reconstructions`` are arrays of shape ``(N, S, S)`` or
    ``(N, S, S, 1)``: floats in [0, 1], or for ``fragments`` the integer grey levels, scaled
    here a chunk at a time as :func:`weld_anomaly.ingest.tiling.scale` does (no float copy of
    every fragment). Computed in float64, ``CHUNK`` fragments at a time (each row's numbers
    are the same as in one pass; the memory is not the whole image's 3×).
    """
    from weld_anomaly.ingest.tiling import scale

    f_all = fragments.reshape(len(fragments), -1)  # (a view: fragments are contiguous)
    r_all = reconstructions.reshape(len(reconstructions), -1)
    if f_all.shape != r_all.shape:
        raise ValueError(
            f"fragments {f_all.shape} and reconstructions {r_all.shape} differ in shape"
        )
    out = {c: np.empty(len(f_all)) for c in COLUMNS}
    for start in range(0, len(f_all), CHUNK):
        rows = slice(start, start + CHUNK)
        f = f_all[rows]
        f = (scale(f)[..., 0] if np.issubdtype(f.dtype, np.integer) else f).astype(np.float64)
        r = r_all[rows].astype(np.float64)
        d = r - f
        for name, a in zip(SOURCES, (f, r, d), strict=True):
            out[f"{name}_sum"][rows] = a.sum(axis=1)
            out[f"{name}_min"][rows] = a.min(axis=1)
            out[f"{name}_max"][rows] = a.max(axis=1)
            out[f"{name}_std"][rows] = a.std(axis=1)
        out["mse"][rows] = np.mean(d * d, axis=1)
    return out
