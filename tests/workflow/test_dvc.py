"""Reproduce and version with DVC: real DVC, real git, the tiny configuration."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BIN, REPO, copy_repo, mechanics_config

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
}


# A user's shell: the system's programs, no activated venv (every command below names the
# project's own .venv/bin/..., as the README does)
CLEAN_PATH = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir())


def run(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` (``dvc`` means the project's ``.venv/bin/dvc``) with a clean PATH."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        **GIT_ENV,
        "PATH": CLEAN_PATH,
        "DVC_NO_ANALYTICS": "1",
    }
    argv = [".venv/bin/dvc", *cmd[1:]] if cmd[0] == "dvc" else list(cmd)
    shell = len(argv) == 1  # one README line, run as the user's shell would
    proc = subprocess.run(
        argv[0] if shell else argv,
        shell=shell,
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def ran_stages(proc: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", proc.stdout + proc.stderr))


def lock_hashes(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def test_dvc_yaml_is_the_projection_of_the_workflow(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    generated = subprocess.run(
        [sys.executable, "-m", "weld_anomaly.workflow.dvcgen"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert generated == (REPO / "dvc.yaml").read_text(), (
        "dvc.yaml has drifted from the Snakemake workflow: regenerate it with "
        "`.venv/bin/python -m weld_anomaly.workflow.dvcgen > dvc.yaml`"
    )
    stages = yaml.safe_load(generated)["stages"]
    targets = set(re.findall(r"^rule (stage_\w+):", (REPO / "rules/stages.smk").read_text(), re.M))
    assert {f"stage_{name}" for name in stages} == targets
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for name, stage in stages.items():
        assert stage["cmd"].startswith(f".venv/bin/snakemake stage_{name} ")
        assert all(group in config for group in stage["params"][0]["config/config.yaml"])
        assert all(
            (REPO / dep).exists() or dep.startswith(("results/", "resources/"))
            for dep in stage["deps"]
        )


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory) -> Path:
    """A scratch clone of the project as a git + DVC repository on the tiny configuration."""
    repo = copy_repo(tmp_path_factory.mktemp("dvc") / "repo")
    config = mechanics_config(yaml.safe_load((repo / "config/test.yaml").read_text()))
    config["demo"]["out_dir"] = "resources/demo"  # the path dvc.yaml versions
    (repo / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "scratch")
    # `make install` of the fresh clone: the venv this suite runs in (git-ignored)
    (repo / ".venv").symlink_to(BIN.parent)
    return repo


def readme_dvc_commands() -> list[str]:
    """The commands of the DVC page (docs/dvc.md) for a fresh clone, after `make install`."""
    section = (REPO / "docs/dvc.md").read_text()
    block = section[section.index("```bash\n") + 8 : section.index("```\n", 8)]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    assert lines[0].startswith("git clone") and lines[0].endswith("make install"), lines
    return [line for line in lines[1:] if line]


@pytest.mark.slow  # complete DVC runs: `make test-slow`, which CI runs too
def test_repro_push_pull_and_experiments(dvc_repo):
    repo = dvc_repo
    # the documentation, word for word, in the fresh clone
    commands = readme_dvc_commands()
    assert commands[0] == ".venv/bin/dvc repro", commands
    outputs = [run(repo, command) for command in commands]
    assert ran_stages(outputs[0]) == {"demo", "images", "fragments", "train", "score", "report"}
    assert (repo / "results/report/report.html").exists()
    assert "up to date" in outputs[-1].stdout and ran_stages(outputs[-1]) == set()
    assert "dvc.lock" in run(repo, "git", "show", "--stat", "HEAD").stdout
    hashes = lock_hashes(repo)

    # a training parameter re-runs train and what follows, not the image stages
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    config["train"]["learning_rate"] = 0.002
    (repo / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    status = run(repo, "dvc", "status").stdout
    assert "train" in status and "images:" not in status
    changed = run(repo, "dvc", "repro")
    assert ran_stages(changed) == {"train", "score", "report"}
    after = lock_hashes(repo)
    for path in ("resources/demo", "results/images", "results/crops", "results/fragments"):
        assert after[path] == hashes[path]
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "learning rate")

    # an experiment, listed with its metrics (a calibration setting: no retraining, so the
    # suite stays in its time budget; the learning rate above already retrained)
    exp = run(
        repo,
        "dvc",
        "exp",
        "run",
        "-n",
        "fpr-2pct",
        "-S",
        "config/config.yaml:evaluate.target_fpr=0.02",
    )
    assert ran_stages(exp) == {"score", "report"}
    show = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    text = json.dumps(show)
    assert "fpr-2pct" in text and "headline.json" in text and "flag_scorer" in text
    # the headline figures in a table a terminal shows; the plots' HTML ignored by git
    metrics = run(repo, "dvc", "metrics", "show").stdout
    assert "results/metrics/headline.json" in metrics and "test_auroc" in metrics
    assert max(len(line) for line in metrics.splitlines()) < 200, metrics
    run(repo, "dvc", "plots", "show")
    assert (repo / "dvc_plots").is_dir()
    assert "dvc_plots" not in run(repo, "git", "status", "--porcelain").stdout
    run(repo, "dvc", "exp", "apply", "fpr-2pct")
    assert json.loads((repo / "results/metrics/evaluation.json").read_text())["target_fpr"] == 0.02
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "target false-positive rate 2 %")

    # push to the default local remote, lose everything, pull it back
    assert (repo / ".dvc/config").read_text().count("remote = local") == 1
    run(repo, "dvc", "push")
    before = lock_hashes(repo)
    shutil.rmtree(repo / ".dvc/cache")
    shutil.rmtree(repo / "results")
    shutil.rmtree(repo / "resources/demo")
    assert "not in cache" in run(repo, "dvc", "status").stdout
    run(repo, "dvc", "pull")
    status = run(repo, "dvc", "status").stdout
    assert "up to date" in status, status
    assert lock_hashes(repo) == before
    assert (repo / "results/model/autoencoder.keras").exists()
    # after a pull, Snakemake inside a stage rebuilds nothing (no mtime trigger)
    assert ran_stages(run(repo, "dvc", "repro")) == set()


@pytest.mark.slow  # complete DVC runs: `make test-slow`, which CI runs too
def test_rebuilt_outputs_have_identical_hashes(dvc_repo):
    """Preprocessing (and CPU training) are byte-identical, so DVC hashes do not churn."""
    repo = dvc_repo
    if not (repo / "dvc.lock").exists():
        run(repo, "dvc", "repro")
    before = lock_hashes(repo)
    for stage in ("demo", "images", "fragments", "train"):
        run(repo, "dvc", "repro", "--force", "--single-item", stage)
    after = lock_hashes(repo)
    for path in (
        "resources/demo",
        "results/manifest.csv",
        "results/images",
        "results/images.csv",
        "results/crops",
        "results/fragments",
        "results/train",
        "results/model/autoencoder.keras",
        "results/model/autoencoder.weights.h5",
        "results/model/detector.keras",
    ):
        assert after[path] == before[path], path
