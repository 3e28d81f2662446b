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


def fragment_statistics(
    fragments: np.ndarray, reconstructions: np.ndarray
) -> dict[str, np.ndarray]:
    """The 14 statistics of each fragment, as columns of length N.

    ``fragments`` and ``reconstructions`` are float arrays of shape ``(N, S, S)`` or
    ``(N, S, S, 1)`` in [0, 1].
    """
    f = fragments.reshape(len(fragments), -1).astype(np.float64)
    r = reconstructions.reshape(len(reconstructions), -1).astype(np.float64)
    if f.shape != r.shape:
        raise ValueError(f"fragments {f.shape} and reconstructions {r.shape} differ in shape")
    d = r - f
    out: dict[str, np.ndarray] = {}
    for name, a in zip(SOURCES, (f, r, d), strict=True):
        out[f"{name}_sum"] = a.sum(axis=1)
        out[f"{name}_min"] = a.min(axis=1)
        out[f"{name}_max"] = a.max(axis=1)
        out[f"{name}_std"] = a.std(axis=1)
    out["mse"] = np.mean(d * d, axis=1)
    return out
