"""Shared by the benchmark scripts: the median wall-clock time of repeated calls."""

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
