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


def interleaved(cases: dict, repeat: int, items: int) -> tuple[dict, list, list]:
    """Run each case of ``cases`` (name -> function) once per round, ``repeat`` rounds, so
    that a machine whose speed drifts favours no case; a calibration step before each.

    Returns the rates (``items`` per second of each run, per case), the CPU time / wall
    time of every run and the calibration times.
    """
    rates: dict = {name: [] for name in cases}
    loads, calibrations = [], []
    for _ in range(repeat):
        for name, func in cases.items():
            calibrations.append(calibration())
            start, cpu = time.perf_counter(), time.process_time()
            func()
            wall = time.perf_counter() - start
            loads.append((time.process_time() - cpu) / wall)
            rates[name].append(items / wall)
    return rates, loads, calibrations
