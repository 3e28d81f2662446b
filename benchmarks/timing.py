"""Shared by the benchmark scripts: the median wall-clock time of repeated calls, a fixed
calibration step whose time says how busy the machine was, and the host line every
benchmark prints first (CPU model, the flags that change the figures, CPUs, the quiet
calibration figure), so that a figure is never read for a host it was not measured on."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

# the CPU flags that change this project's figures: vector width and native bf16 units
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


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


def cpu() -> str:
    """The CPU's model name, family and model numbers and which of :data:`FLAGS` it has
    (Linux; the platform's processor string elsewhere)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()

    def field(name: str) -> str:
        return next(
            (ln.split(":", 1)[1].strip() for ln in lines if ln.split(":", 1)[0].strip() == name), ""
        )

    model = field("model name")
    # the family and model numbers tell apart CPU generations sold under one name
    # ("AMD EPYC": family 25 is Zen 3/4, family 26 Zen 5)
    if field("cpu family"):
        model += f" (family {field('cpu family')}, model {field('model')})"
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return f"{model}; {' '.join(f for f in FLAGS if f in flags) or 'none of ' + '/'.join(FLAGS)}"


def host_line() -> str:
    """``# host: <model>; <flags>; N CPUs; calibration step 0.23 s (quickest of 3)``."""
    quiet = min(calibration() for _ in range(3))
    return f"# host: {cpu()}; {os.cpu_count()} CPUs; calibration step {quiet:.3f} s (quickest of 3)"
