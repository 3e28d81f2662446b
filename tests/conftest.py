"""Shared fixtures: the repository root and a scratch copy of the workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def repo_files() -> list[str]:
    """The repository's files as git sees them (tracked, plus new files not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [f for f in out.stdout.splitlines() if (REPO / f).is_file()]


def copy_repo(dest: Path) -> Path:
    """Copy the workflow (code and config, no results) into ``dest``."""
    for rel in repo_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    if (REPO / "node_modules").is_dir():  # the report's viewer (make viewer), not copied
        (dest / "node_modules").symlink_to(REPO / "node_modules")
    return dest


def mechanics_config(config: dict) -> dict:
    """The tiny configuration made smaller still, for tests of the machinery (Slurm, DVC,
    the browser), not of detection quality: fewer images at about half the pixels, one
    epoch, a few detector steps. The tiny run (``tiny_run``) keeps the full tiny config and
    guards what the models learn."""
    config["demo"].update(film_size=[256, 768], crop_size=[192, 768], films=5, faulty_crops=2)
    config["train"]["epochs"] = 1
    config["detector"].update(epochs=1, steps_per_epoch=8)
    config["score"]["texture_predictor"].update(samples=5000, images=2)
    return config


def shrink_test_config(repo: Path) -> None:
    """Apply :func:`mechanics_config` to ``config/test.yaml`` of a scratch copy."""
    path = repo / "config/test.yaml"
    path.write_text(yaml.safe_dump(mechanics_config(yaml.safe_load(path.read_text()))))


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run the Snakemake of this environment in ``workdir``; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(
            [str(BIN / "snakemake"), *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(
            f"snakemake {' '.join(args)} still running after {timeout} s:\n"
            f"{_text(hung.stdout)[-3000:]}\n{_text(hung.stderr)[-5000:]}\n{_scheduler_state()}"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-6000:]}"
        )
    return proc


def _text(out) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")


def _scheduler_state() -> str:
    """What a local Slurm says about its queue and node (for a run that hung), if any."""
    if not shutil.which("squeue"):
        return ""
    lines = []
    for cmd in (["squeue"], ["sinfo", "-R"], ["sacct", "-X", "-S", "now-1hour"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            lines.append(f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            lines.append(f"$ {' '.join(cmd)}: {exc}")
    return "\n".join(lines)


def fragment_set(path, n, seed, size=32):
    """A training-set HDF5 file of ``n`` random uint8 fragments (tests of the training)."""
    import numpy as np

    from weld_anomaly.ingest import hdf5_io

    rng = np.random.default_rng(seed)
    frags = rng.integers(60, 200, (n, size, size), dtype=np.uint8)
    one = path.with_suffix(".one.h5")
    hdf5_io.write_fragments(
        one, hdf5_io.Fragments(frags, np.zeros((n, 2), int), np.zeros(n, int), ["c"], {})
    )
    hdf5_io.write_fragment_set(path, [one], ["x"])
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A scratch copy of the workflow after one complete run of the test profile."""
    workdir = copy_repo(tmp_path_factory.mktemp("tiny") / "repo")
    snakemake(workdir, "--workflow-profile", "profiles/test")
    return workdir


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node Slurm with two fake GPUs (tests/slurm_harness.py)."""
    from slurm_harness import start_cluster

    start_cluster(gpus=2)
    yield
    start_cluster(gpus=2)  # left running for the next session, with its two GPUs


# a training summary as train_autoencoder writes it (for tests that render the report)
TRAIN_INFO = {
    "architecture": "thesis",
    "backend": "tensorflow",
    "fragments_train": 10,
    "train_seconds": 1.0,
    "fragments_per_s": 10.0,
    "epochs": 1,
    "best_epoch": 1,
    "batch_size": 2,
    "learning_rate": 0.001,
    "precision": "float32",
    "parameters": 5,
    "fragments_validation": 4,
    "gpus": [],
}
