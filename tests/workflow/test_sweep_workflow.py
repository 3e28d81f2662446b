"""`snakemake sweep` on the tiny workflow: interrupted and run again, the test split out of
reach until the choice is made, the files a user takes away, the report section. The
trials are seconds long (:func:`conftest.quick_sweep`): the machinery is under test here."""

from __future__ import annotations

import csv
import io
import json
import shutil

import yaml
from conftest import BIN, REPO, snakemake

PROFILE = ("--workflow-profile", "profiles/test")


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


def test_the_chosen_settings_queue_as_a_dvc_experiment_that_dvc_exp_show_lists(sweep_run, tmp_path):
    """docs/sweep.md: `xargs dvc exp run < results/sweep/dvc_exp_args.txt` (real git and DVC;
    queued, not run: the pipeline itself is tested in test_dvc.py)."""
    from test_dvc import run

    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    for rel in ("dvc.yaml", "config/config.yaml", ".gitignore"):
        shutil.copy2(REPO / rel, repo / rel)
    (repo / ".venv").symlink_to(BIN.parent)
    run(repo, "git", "init", "-q")
    run(repo, "dvc", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "scratch")
    args = (sweep_run.repo / "results/sweep/dvc_exp_args.txt").read_text().split()
    run(repo, "dvc", "exp", "run", "--queue", *args)
    shown = run(repo, "dvc", "exp", "show", "--csv", "--no-pager").stdout
    rows = list(csv.DictReader(io.StringIO(shown)))
    queued = [r for r in rows if r["State"] == "Queued"]
    settings = json.loads((sweep_run.repo / "results/sweep/sweep.json").read_text())["settings"]
    assert len(queued) == 1 and settings
    for path, value in settings.items():
        assert yaml.safe_load(queued[0][path]) == value, (path, queued[0][path])
