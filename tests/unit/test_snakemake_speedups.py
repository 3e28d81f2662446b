"""The planning speed-ups (weld_anomaly.workflow.snakemake_speedups): written for one
Snakemake version, and planning the same jobs as stock Snakemake."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import BIN, REPO

from weld_anomaly.workflow import snakemake_speedups


def test_the_speedups_were_written_for_the_installed_snakemake():
    installed = snakemake_speedups.snakemake_version()
    assert installed == snakemake_speedups.WRITTEN_FOR, (
        f"Snakemake {installed} is installed; the planning speed-ups were written for "
        f"{snakemake_speedups.WRITTEN_FOR}. Check each against the new version's code "
        "(docs/snakemake-speedups.md), re-measure benchmarks/bench_dag.py, then update "
        "WRITTEN_FOR; until then they are not applied"
    )


def _planned_jobs(stock: bool) -> dict[str, int]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("WELD_ANOMALY_STOCK_SNAKEMAKE", None)
    if stock:
        env["WELD_ANOMALY_STOCK_SNAKEMAKE"] = "1"
    done = subprocess.run(
        [
            str(BIN / "snakemake"),
            "-n",
            "--nolock",
            "--quiet",
            "rules",
            "--configfile",
            "config/test.yaml",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", done.stdout, flags=re.M))
    assert counts.get("total"), done.stdout[-2000:]
    return counts


def test_the_speedups_plan_the_same_jobs_as_stock_snakemake():
    assert _planned_jobs(stock=False) == _planned_jobs(stock=True)
