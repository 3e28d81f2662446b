"""Keep the memory a scoring process frees for its next maps.

Scoring a crop makes dozens of maps the size of the crop (40 MB each for 10 megapixels in
float32) and frees them again. The GNU C library hands every block of 32 MB or more back
to the kernel as soon as it is freed, and NumPy asks the kernel for huge pages for large
arrays, so each new map is faulted in afresh, its pages zeroed by the kernel. On virtual
machines that is slow: measured on a 2-CPU cloud VM, the kernel's share of normalising
one 10-MP crop was 2-3 s of 4.4-5.6 s, and 0 once the memory was kept (1.8-2.0 s in all,
the same peak resident memory).

:func:`keep_freed_memory` tells the C library to serve large blocks from its heap and to
keep what is freed there: the process holds on to its peak until it ends (a workflow job
or an ``inspect`` call: what its memory request covers anyway) and reuses it.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
KEEP_UP_TO = 2**31 - 1  # bytes of free memory at the heap's top kept (the most it allows)


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory (glibc on Linux); True when
    set, False where the C library is another (nothing changed there)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO))
