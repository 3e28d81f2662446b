"""Shared fixtures: the repository root and a scratch copy of the workflow."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
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


def quick_sweep(config: dict, parallel: int) -> dict:
    """A 2-trial sweep of seconds-long trials (the sweep's machinery under test, not what it
    finds): the learning rate searched, both models trained a few steps. Only the sweep's
    rules read these settings when the sweep's targets alone are asked for."""
    config["sweep"].update(
        trials=2,
        parallel=parallel,
        space=[{"setting": "train.learning_rate", "low": 0.0005, "high": 0.002, "log": True}],
    )
    config["train"].update(epochs=1, fragments_per_epoch=256)
    config["detector"].update(epochs=1, steps_per_epoch=4)
    config["score"]["texture_predictor"].update(samples=5000, images=2)
    return config


def shrink_test_config(repo: Path) -> None:
    """Apply :func:`mechanics_config` to ``config/test.yaml`` of a scratch copy."""
    path = repo / "config/test.yaml"
    path.write_text(yaml.safe_dump(mechanics_config(yaml.safe_load(path.read_text()))))


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run the Snakemake of this environment in ``workdir``; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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


# The complete workflow runs that many tests read. Each starts in the background as soon
# as the tests that need it are collected, so that it runs beside the unit and Slurm tiers
# (mostly single-threaded Python: the second CPU is free); its fixture waits for it.
HOSTILE = '"><img src=x onerror=alert(1)>.dcm'  # a file name that is an HTML injection


@dataclass
class BackgroundRun:
    """A ``snakemake`` run in ``workdir``, its output going to ``log``."""

    workdir: Path
    proc: subprocess.Popen
    log: Path
    args: tuple[str, ...]

    def wait(self, timeout: int = 1800) -> Path:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = f"still running after {timeout} s"
        if code != 0:
            tail = self.log.read_text(errors="replace")[-8000:]
            raise AssertionError(f"snakemake {' '.join(self.args)} failed ({code}):\n{tail}")
        return self.workdir


# Ctrl-C reaches Snakemake as it reaches a user's: a suite started in the background by a
# shell without job control inherits SIGINT ignored, and Python keeps it ignored
_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def start_snakemake(workdir: Path, *args: str) -> BackgroundRun:
    """Start the Snakemake of this environment in ``workdir``, in the background (Ctrl-C,
    SIGINT, interrupts it whatever the suite's own disposition)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = workdir.parent / "snakemake.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _DEFAULT_SIGINT, str(BIN / "snakemake"), *args],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return BackgroundRun(workdir, proc, log, args)


def _tiny(factory) -> BackgroundRun:
    workdir = copy_repo(factory.mktemp("tiny") / "repo")
    return start_snakemake(workdir, "--workflow-profile", "profiles/test")


def _hostile(factory) -> BackgroundRun:
    """The tiny demo's data as a user's own, one file's path an HTML injection attempt;
    the machinery's configuration (:func:`mechanics_config`)."""
    work = copy_repo(factory.mktemp("hostile") / "repo")
    snakemake(work, "generate_demo", "--workflow-profile", "profiles/test")
    data = work.parent / "data"
    shutil.move(work / "resources/demo-test", data)
    with open(data / "labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    (data / rows[1][1]).rename(data / "images" / HOSTILE)
    rows[1][1] = f"images/{HOSTILE}"
    # one faulty weld crop made far too grainy to judge, in the test split (the gate below)
    noisy = next(r for r in rows[1:] if r[2] == "faulty" and r[1].endswith(".png"))
    _add_noise(data / noisy[1], 40.0)
    rows = [[*r, "split" if i == 0 else ("test" if r is noisy else "")] for i, r in enumerate(rows)]
    (work.parent / "noisy.txt").write_text(noisy[0])
    with open(data / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    config = mechanics_config(yaml.safe_load((work / "config/test.yaml").read_text()))
    config["convert"]["min_snr_n"] = 12.0  # films and crops score 25 and more, the noisy one ~7
    (work / "config/test.yaml").write_text(yaml.safe_dump(as_user_data(config, data)))
    return start_snakemake(work, "--workflow-profile", "profiles/test")


def as_user_data(config: dict, data: Path) -> dict:
    """``config`` reading the demo's files copied to ``data`` as a user's own (a labels
    table, annotations, a crop manifest)."""
    config["data"].update(
        source="table",
        images_dir=str(data),
        labels=str(data / "labels.csv"),
        annotations=str(data / "annotations.yaml"),
        crops=str(data / "crops.yaml"),
    )
    return config


def _add_noise(png: Path, sd: float) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png), dtype=np.float64)
    noisy = pixels + np.random.default_rng(0).normal(0, sd, pixels.shape)
    Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8)).save(png)


@dataclass
class SweepRun:
    repo: Path
    test_images: list[str]
    interrupted: int  # the interrupted run's exit status
    before: dict[str, int]  # trial 0's files and their times after the interruption
    hidden: list[str]  # the test images' files, out of reach until the choice
    recreated: list[str]  # those files Snakemake made again before the choice (none)
    rerun: subprocess.CompletedProcess  # the run after the interruption, to the choice
    final: subprocess.CompletedProcess  # `snakemake sweep`: the test split and the report


def _sweep(factory) -> SweepRun:
    """A copy of the tiny run; a 2-trial sweep (a trial per round) interrupted (Ctrl-C)
    once trial 0 has finished, run again up to the choice with the test images' crops and
    fragments moved away, then to the end with them back (tests/workflow/test_sweep_workflow.py)."""
    from weld_anomaly.ingest.inventory import read_manifest

    tiny = _finished("tiny_run", factory)
    tmp = factory.mktemp("sweep")
    repo = tmp / "repo"
    shutil.copytree(tiny, repo, symlinks=True)
    config = yaml.safe_load((repo / "config/test.yaml").read_text())
    (repo / "config/test.yaml").write_text(yaml.safe_dump(quick_sweep(config, parallel=1)))
    manifest = read_manifest(repo / "results/manifest.csv")
    test_images = [r.image_id for r in manifest if r.split == "test"]
    hidden = [f"results/{kind}/{i}.h5" for i in test_images for kind in ("crops", "fragments")]
    (tmp / "hidden").mkdir()
    for rel in hidden:
        shutil.move(repo / rel, tmp / "hidden" / rel.replace("/", "_"))
    profile = ("--workflow-profile", "profiles/test")
    run = start_snakemake(repo, "results/sweep/sweep.json", *profile)
    first = repo / "results/sweep/trials/0/result.json"
    deadline = time.monotonic() + 900
    while not first.exists() and run.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.exists(), run.log.read_text()[-4000:]
    # Ctrl-C once trial 1 has started (its script opens its log first thing): a fixed
    # pause let the whole seconds-long second round finish first on a quick machine
    second = repo / "logs/sweep/trial_1.log"
    while not second.exists() and run.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run.proc.send_signal(signal.SIGINT)  # Ctrl-C
    interrupted = run.proc.wait(120)
    before = {
        p: (repo / p).stat().st_mtime_ns
        for p in ("results/sweep/trials/0/result.json", "logs/sweep/trial_0.log")
    }
    rerun = snakemake(repo, "results/sweep/sweep.json", *profile, "--rerun-incomplete")
    recreated = [rel for rel in hidden if (repo / rel).exists()]
    for rel in hidden:
        shutil.move(tmp / "hidden" / rel.replace("/", "_"), repo / rel)
    final = snakemake(repo, "sweep", *profile)
    return SweepRun(repo, test_images, interrupted, before, hidden, recreated, rerun, final)


class BackgroundScenario(threading.Thread):
    """A scenario of several runs (``_sweep``) in a thread, so that it waits for the run
    it builds on and runs beside the other tests."""

    def __init__(self, scenario, factory):
        super().__init__(daemon=True)
        self.scenario, self.factory = scenario, factory
        self.result, self.error = None, None

    def run(self) -> None:
        try:
            self.result = self.scenario(self.factory)
        except BaseException as exc:  # re-raised in the test that needs the result
            self.error = exc

    def wait(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.result


RUNS = {"tiny_run": _tiny, "hostile_run": _hostile}
SCENARIOS = {"sweep_run": _sweep}
_started: dict[str, BackgroundRun] = {}
_scenarios: dict[str, BackgroundScenario] = {}
_lock = threading.Lock()


def pytest_collection_finish(session):
    """Start the complete runs (and the scenarios) the selected tests need."""
    if session.config.option.collectonly:
        return
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    factory = session.config._tmp_path_factory
    for name, start in RUNS.items():
        if name in needed:
            _started[name] = start(factory)
    for name, scenario in SCENARIOS.items():
        if name in needed:
            _scenarios[name] = BackgroundScenario(scenario, factory)
            _scenarios[name].start()


def pytest_sessionfinish(session):
    for run in _started.values():
        if run.proc.poll() is None:
            run.proc.kill()


def _finished(name: str, factory) -> Path:
    with _lock:  # a scenario's thread and a test may both ask for the same run
        run = _started.get(name) or _started.setdefault(name, RUNS[name](factory))
    return run.wait()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A scratch copy of the workflow after one complete run of the test profile."""
    return _finished("tiny_run", tmp_path_factory)


@pytest.fixture(scope="session")
def sweep_run(tmp_path_factory) -> SweepRun:
    """A sweep interrupted, run again and finished, in a copy of the tiny run (``_sweep``)."""
    scenario = _scenarios.get("sweep_run")
    if scenario is None:
        scenario = _scenarios["sweep_run"] = BackgroundScenario(_sweep, tmp_path_factory)
        scenario.start()
    return scenario.wait()


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory) -> Path:
    """The machinery's workflow on user data where one file's path is an HTML injection
    attempt (``HOSTILE``), after one complete run."""
    return _finished("hostile_run", tmp_path_factory)


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
