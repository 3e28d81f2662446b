"""The median of every full square window of an image of integer levels, fast and exact.

:func:`window_medians` gives, for each pixel of an image padded by ``size // 2`` on every
side, the median of the ``size`` x ``size`` window around it: what scikit-image's rank
filter (``skimage.filters.rank.median``) gives there, bit for bit, including its choice
between two middle values (the first level whose running count exceeds half the window's
pixels: the upper one) and its mask (pixels whose mask is 0 are not counted; a window
with no pixel to count gives 0).

The kernel is Huang's sliding histogram, compiled by Numba: along each row, the column
leaving the window is taken out of the histogram and the column entering put in, and the
median is followed from its last position (a weld's background changes slowly: a step or
two per pixel) instead of searched from the first level: about six times quicker than the
rank filter. Loading it costs a process about 0.5-0.7 s once (Numba's import and its
code generator; compiled once per machine and cached on disk), the rank filter's time for
about 1.5 megapixels: a process loads it when it has that much to filter
(:func:`ahead`, ``LOAD_FROM``) and uses the rank filter, the same numbers, until then.
Without Numba (a platform it does not support) the rank filter computes them all.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

LOAD_FROM = 1_500_000  # pixels to filter in a process before loading the compiled kernel


def window_medians(q: np.ndarray, size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """The median of each full ``size`` x ``size`` window of ``q`` (uint16 levels).

    ``q``: shape ``(H + 2h, W + 2h)`` with ``h = size // 2``; returns ``(H, W)`` uint16.
    ``mask``: uint8 of ``q``'s shape, 0 where a pixel is not counted, or None.
    """
    kernel = _KERNEL[0] if _KERNEL else None
    if kernel is None:
        return rank_filter_medians(q, size, mask)
    q = np.ascontiguousarray(q, dtype=np.uint16)
    levels = int(q.max()) + 1 if q.size else 1
    if mask is None:
        return kernel(q, np.ones((1, 1), np.uint8), False, size, levels)
    return kernel(q, np.ascontiguousarray(mask, dtype=np.uint8), True, size, levels)


def rank_filter_medians(q: np.ndarray, size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """:func:`window_medians` by scikit-image's rank filter (the reference; the fallback)."""
    from skimage.filters.rank import median
    from skimage.morphology import footprint_rectangle

    half = size // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "bad performance": measured, fine
        out = median(q.astype(np.uint16), footprint_rectangle((size, size)), mask=mask)
    return out[half : out.shape[0] - half, half : out.shape[1] - half]


_KERNEL: list = []  # the compiled kernel once loaded (None: Numba is not installed)
_AHEAD = [0]  # pixels announced before it was loaded
_LOCK = threading.Lock()


def ahead(pixels: int) -> None:
    """Announce ``pixels`` of medians to compute: loads the compiled kernel once the
    process has announced ``LOAD_FROM`` (a no-op once loaded)."""
    if _KERNEL:
        return
    with _LOCK:
        _AHEAD[0] += int(pixels)
        if _AHEAD[0] >= LOAD_FROM:
            load()


def load():
    """The compiled kernel, loaded now if it was not (None where Numba is not installed)."""
    if not _KERNEL:
        _KERNEL.append(compiled(_huang))
    return _KERNEL[0]


def loaded() -> bool:
    """Whether this process has loaded the compiled kernel (and so Numba): the other
    compiled kernels (:mod:`.gaussian`) are used from then on."""
    return bool(_KERNEL) and _KERNEL[0] is not None


def compiled(func):
    """``func`` compiled by Numba, releasing the GIL, cached on disk where it can be (None
    where Numba is not installed)."""
    try:
        import numba
    except ImportError:
        return None
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # nowhere to cache it (a read-only install and home)
        return numba.njit(nogil=True)(func)  # compiled in every process


def _huang(q, mask, masked, size, levels):  # pragma: no cover - compiled by Numba
    half = size // 2
    rows, cols = q.shape[0] - 2 * half, q.shape[1] - 2 * half
    out = np.zeros((max(rows, 0), max(cols, 0)), np.uint16)
    hist = np.zeros(levels, np.int64)
    for y in range(rows):
        hist[:] = 0
        pop = 0
        for yy in range(y, y + size):
            for xx in range(size):
                if not masked or mask[yy, xx]:
                    hist[q[yy, xx]] += 1
                    pop += 1
        m, below = 0, 0  # the median's level; how many counted pixels lie below it
        for x in range(cols):
            if x:
                gone, new = x - 1, x + size - 1
                for yy in range(y, y + size):
                    if not masked or mask[yy, gone]:
                        v = q[yy, gone]
                        hist[v] -= 1
                        pop -= 1
                        if v < m:
                            below -= 1
                    if not masked or mask[yy, new]:
                        v = q[yy, new]
                        hist[v] += 1
                        pop += 1
                        if v < m:
                            below += 1
            if pop == 0:
                out[y, x] = 0
                continue
            # the lowest level whose running count exceeds half the window's pixels
            while 2 * below > pop:
                m -= 1
                below -= hist[m]
            while 2 * (below + hist[m]) <= pop:
                below += hist[m]
                m += 1
            out[y, x] = m
    return out
