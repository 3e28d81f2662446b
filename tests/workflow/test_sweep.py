"""`snakemake sweep` on the tiny workflow: interrupted and run again, the test split out of
reach until the choice is made, the files a user takes away, the report section. The
trials are seconds long (:func:`conftest.quick_sweep`): the machinery is under test here."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import quick_sweep, snakemake, start_snakemake

from weld_anomaly.ingest.inventory import read_manifest

PROFILE = ("--workflow-profile", "profiles/test")


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


@pytest.fixture(scope="module")
def sweep_run(tiny_run, tmp_path_factory) -> SweepRun:
    """A copy of the tiny run; a 2-trial sweep (a trial per round) interrupted (Ctrl-C)
    once trial 0 has finished, run again up to the choice with the test images' crops and
    fragments moved away, then to the end with them back."""
    tmp = tmp_path_factory.mktemp("sweep")
    repo = tmp / "repo"
    shutil.copytree(tiny_run, repo, symlinks=True)
    config = yaml.safe_load((repo / "config/test.yaml").read_text())
    (repo / "config/test.yaml").write_text(yaml.safe_dump(quick_sweep(config, parallel=1)))
    test_images = [
        r.image_id for r in read_manifest(repo / "results/manifest.csv") if r.split == "test"
    ]
    hidden = [f"results/{kind}/{i}.h5" for i in test_images for kind in ("crops", "fragments")]
    (tmp / "hidden").mkdir()
    for rel in hidden:
        shutil.move(repo / rel, tmp / "hidden" / rel.replace("/", "_"))

    run = start_snakemake(repo, "results/sweep/sweep.json", *PROFILE)
    first = repo / "results/sweep/trials/0/result.json"
    deadline = time.monotonic() + 600
    while not first.exists() and run.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.exists(), run.log.read_text()[-4000:]
    time.sleep(3)  # into the next round
    run.proc.send_signal(signal.SIGINT)  # Ctrl-C
    interrupted = run.proc.wait(120)
    before = {
        p: (repo / p).stat().st_mtime_ns
        for p in ("results/sweep/trials/0/result.json", "logs/sweep/trial_0.log")
    }
    rerun = snakemake(repo, "results/sweep/sweep.json", *PROFILE, "--rerun-incomplete")
    recreated = [rel for rel in hidden if (repo / rel).exists()]
    for rel in hidden:
        shutil.move(tmp / "hidden" / rel.replace("/", "_"), repo / rel)
    final = snakemake(repo, "sweep", *PROFILE)
    return SweepRun(repo, test_images, interrupted, before, hidden, recreated, rerun, final)


def test_an_interrupted_sweep_continues_without_repeating_finished_trials(sweep_run):
    repo = sweep_run.repo
    assert sweep_run.interrupted != 0  # it was stopped before its end
    for path, mtime in sweep_run.before.items():
        assert (repo / path).stat().st_mtime_ns == mtime, f"{path} was made again"
    assert "trials/1/result.json" in sweep_run.rerun.stdout + sweep_run.rerun.stderr
    summary = json.loads((repo / "results/sweep/sweep.json").read_text())
    assert [t["trial"] for t in summary["trials"]] == [0, 1]
    assert all(0.5 < t["value"] <= 1 for t in summary["trials"])


def test_the_test_split_is_not_read_until_the_choice_is_made(sweep_run):
    repo = sweep_run.repo
    # every test image's crops and fragments were out of reach while the trials ran and
    # were compared, and no job of the sweep asked for them
    assert sweep_run.hidden and sweep_run.recreated == []
    for trial in (0, 1):
        result = json.loads((repo / f"results/sweep/trials/{trial}/result.json").read_text())
        assert result["validation"]["split"] == "validation"
        scored = {
            p.stem for p in (repo / f"results/sweep/trials/{trial}/work/scores").glob("*.csv")
        }
        assert scored and not scored & set(sweep_run.test_images)
    # then the chosen trial alone scored them, once
    test = json.loads((repo / "results/sweep/test.json").read_text())
    assert test["trial"] == json.loads((repo / "results/sweep/sweep.json").read_text())["chosen"]
    assert test["test"]["split"] == "test" and test["test"]["images"] >= 1
    scored = {p.stem for p in (repo / "results/sweep/test_scores").glob("*.csv")}
    assert scored == set(sweep_run.test_images)


def test_the_chosen_settings_run_as_a_configfile_and_the_report_shows_the_trials(sweep_run):
    repo = sweep_run.repo
    summary = json.loads((repo / "results/sweep/sweep.json").read_text())
    chosen = yaml.safe_load((repo / "results/sweep/chosen.yaml").read_text())
    for path, value in summary["settings"].items():
        node = chosen
        for key in path.split("."):
            node = node[key]
        assert node == value
    # the workflow takes it as it is (a dry run: the models would be trained with it)
    snakemake(repo, "-n", *PROFILE, "--configfile", "config/test.yaml", "results/sweep/chosen.yaml")
    args = (repo / "results/sweep/dvc_exp_args.txt").read_text().split()
    assert args[::2] == ["-S"] * len(summary["settings"])
    page = (repo / "results/sweep/sweep.html").read_text()
    assert page.count("<tr") == 1 + len(summary["trials"]) and "(defaults)" in page
    assert 'src="data:image/png;base64,' in page
    assert f"Sweep: {repo / 'results/sweep/sweep.html'}" in sweep_run.final.stdout
