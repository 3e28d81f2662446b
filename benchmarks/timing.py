"""Shared by the benchmark scripts: the median wall-clock time of repeated calls, and a
fixed calibration step whose time says how busy the machine was."""

from __future__ import annotations

import statistics
import time


def timed(func, repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``func()``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def calibration() -> float:
    """Seconds of a fixed single-threaded NumPy step (20 sorts of a million numbers): timed
    next to every case, its quickest value is the quiet machine's; a slower one means the
    case shared the CPU."""
    import numpy as np

    a = np.random.default_rng(0).normal(size=(1_000_000,))
    start = time.perf_counter()
    for _ in range(20):
        np.sort(a)
    return time.perf_counter() - start
