"""A real single-node Slurm for the workflow's cluster tests (marker ``slurm``).

``tests/slurm/slurm-local.sh`` installs (Debian packages, first time only), configures and
starts munge, MariaDB + slurmdbd, slurmctld and slurmd on this machine: partition ``debug``,
account ``testacct``, two fake GPUs (GRES on character devices, so a GPU job gets a real
``CUDA_VISIBLE_DEVICES``). It needs root, as a CI runner has. The daemons are left running
after the session (starting is idempotent and takes ~5 s when they are); stop them with
``bash tests/slurm/slurm-local.sh stop``. The ``slurm_cluster`` fixture is in conftest.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parent / "slurm/slurm-local.sh"
SITE = {
    "SITE_ACCOUNT": "testacct",
    "SITE_CPU_PARTITION": "debug",
    "SITE_GPU_PARTITION": "debug",
}


def slurm_local(*args: str, gpus: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLURM_LOCAL_FAKE_GPUS": str(gpus)}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600
    )


def start_cluster(gpus: int) -> None:
    done = slurm_local("start", gpus=gpus)
    if done.returncode != 0:
        pytest.fail(
            f"could not start the local Slurm (tests/slurm/slurm-local.sh start; needs root "
            f"and Debian packages):\n{done.stderr[-3000:]}",
            pytrace=False,
        )


def site_profile(repo: Path, name: str = "slurm_local", **overrides) -> str:
    """``profiles/slurm`` filled in for the local cluster, with fast polling for tests.

    Written as ``profiles/<name>/config.yaml`` in ``repo``; returns the profile path. The
    shipped profile is used as it is, except: the SITE placeholders, the test config, status
    checks 2 s after submission (not 40 s), and requests the 2-CPU test node can meet.
    """
    text = (repo / "profiles/slurm/config.yaml").read_text()
    for placeholder, value in SITE.items():
        text = text.replace(placeholder, value)
    profile = yaml.safe_load(text)
    profile.update(
        {
            "configfile": "config/test.yaml",
            "slurm-init-seconds-before-status-checks": 2,
            "latency-wait": 5,
            "resources": ["image_jobs=2"],  # the test node has 2 CPUs
        }
    )
    for rule in ("train_autoencoder", "train_detector", "sweep_trial"):  # the test node: 2 CPUs
        train = profile["set-resources"][rule]
        train.update({"mem_mb": "4000 * attempt", "runtime": 30, "cpus_per_gpu": 2})
        profile["set-threads"][rule] = 2
    profile.update(overrides)
    path = repo / "profiles" / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return f"profiles/{name}"


def sacct(*fields: str) -> list[dict[str, str]]:
    """This cluster's finished and running jobs (all users, from the accounting DB)."""
    done = subprocess.run(
        ["sacct", "-a", "-X", "-n", "-P", "-S", "now-1days", "-o", ",".join(fields)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("|") for line in done.stdout.splitlines() if line]
    return [dict(zip(fields, row, strict=True)) for row in rows]
