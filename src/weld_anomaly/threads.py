"""The CPU threads a step may use."""

from __future__ import annotations

import os


def job_threads() -> int:
    """The process's thread budget: ``OMP_NUM_THREADS``, which
    :func:`weld_anomaly.model.backend.configure` sets from a workflow job's threads (and
    ``weld-anomaly inspect`` from the CPUs it may run on), else 1."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS") or 1))
    except ValueError:
        return 1


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
