"""The hyperparameter sweep's parts: the search space, Optuna's rounds, the choice, the
files a user takes away and the report section (the workflow runs are in
tests/workflow/test_sweep_workflow.py and tests/slurm/test_slurm.py)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from weld_anomaly.errors import ConfigError
from weld_anomaly.report.sweep import write_sweep_report
from weld_anomaly.workflow import search_space, sweep

CONFIG = {
    "model": {"filters": [32, 64, 128]},
    "train": {"learning_rate": 0.001, "epochs": 3},
    "detector": {"steps_per_epoch": 120},
    "score": {"texture_predictor": {"smooth": 2.0}},
}
ENTRIES = [
    {"setting": "model.filters", "choices": [[16, 32, 64], [32, 64, 128]]},
    {"setting": "train.learning_rate", "low": 0.0003, "high": 0.003, "log": True},
    {"setting": "train.epochs", "low": 2, "high": 4},
    {"setting": "score.texture_predictor.smooth", "low": 1.0, "high": 3.0},
]
SPACE = search_space.space_of(ENTRIES)


def test_the_space_must_name_settings_a_trial_can_change_and_hold_the_defaults():
    search_space.check_space(SPACE, CONFIG)
    cases = [
        (
            {"train.learning_rat": {"low": 0.1, "high": 1.0}},
            "sweep.space.train.learning_rat: no such",
        ),
        ({"data.split": {"choices": [1]}}, "sweep.space.data.split: a trial cannot change"),
        ({"train.epochs": {"choices": [5, 6]}}, "value 3 is not among the choices"),
        ({"train.learning_rate": {"low": 0.01, "high": 0.1}}, "lies outside 0.01..0.1"),
    ]
    for space, words in cases:
        with pytest.raises(ConfigError) as err:
            search_space.check_space(space, CONFIG)
        assert words in err.value.line() and "\n" not in err.value.line()
    with pytest.raises(ConfigError, match="listed twice"):
        search_space.space_of([ENTRIES[1], ENTRIES[1]])


def test_rounds_trial_zero_is_the_configuration_and_asking_is_deterministic():
    assert search_space.rounds(5, 2) == [[0, 1], [2, 3], [4]]
    first = sweep.ask_round(SPACE, CONFIG, [], [0, 1], seed=0, startup=2)
    assert first[0] == {"trial": 0, "settings": sweep.defaults(SPACE, CONFIG)}
    assert first == sweep.ask_round(SPACE, CONFIG, [], [0, 1], seed=0, startup=2)
    other = first[1]["settings"]
    assert other != first[0]["settings"]
    assert other["model.filters"] in SPACE["model.filters"]["choices"]  # a list again
    assert 0.0003 <= other["train.learning_rate"] <= 0.003
    assert isinstance(other["train.epochs"], int) and 2 <= other["train.epochs"] <= 4
    # the next round is proposed from the finished trials, whatever their files' order
    done = [{**e, "value": 0.8 + 0.01 * e["trial"], "recall_at_fpr_1pct": 0.5} for e in first]
    second = sweep.ask_round(SPACE, CONFIG, done, [2, 3], seed=0, startup=2)
    assert second == sweep.ask_round(SPACE, CONFIG, done[::-1], [2, 3], seed=0, startup=2)
    assert [e["trial"] for e in second] == [2, 3]
    assert all(e["settings"] != first[0]["settings"] for e in second)
    # a failed trial (no value) is kept as failed, not as a zero
    failed = [{**done[0], "value": None}, done[1]]
    assert len(sweep.ask_round(SPACE, CONFIG, failed, [2], seed=0, startup=2)) == 1


def test_a_trials_settings_go_into_a_copy_of_the_configuration():
    settings = {"model.filters": [16, 32, 64], "score.texture_predictor.smooth": 1.5}
    config = sweep.trial_config(CONFIG, settings)
    assert config["model"]["filters"] == [16, 32, 64]
    assert config["score"]["texture_predictor"]["smooth"] == 1.5
    assert CONFIG["model"]["filters"] == [32, 64, 128]


def _trial(number, value, recall=0.5, **settings):
    base = {"model.filters": [32, 64, 128], "train.learning_rate": 0.001}
    return {
        "trial": number, "settings": {**base, **settings}, "value": value,
        "recall_at_fpr_1pct": recall, "scorer": "detector", "flag": "baseline", "seconds": 10.0,
    }  # fmt: skip


def test_the_best_validation_figure_is_chosen_the_earlier_trial_on_a_tie():
    trials = [_trial(0, 0.90), _trial(1, 0.93, 0.4), _trial(2, 0.93, 0.6), _trial(3, None)]
    assert sweep.chosen(trials)["trial"] == 2
    assert sweep.chosen([_trial(0, 0.9), _trial(1, 0.9)])["trial"] == 0
    with pytest.raises(ValueError):
        sweep.chosen([_trial(0, None)])


def _scores(path, shift, rng):
    images = np.repeat(["a", "b", "c"], 100)
    y = rng.random(300) < 0.1
    score = rng.normal(0, 1, 300) + shift * y
    frame = pd.DataFrame(
        {"image": images, "fragment": np.tile(np.arange(100), 3), "defect_pixels": y}
    )
    frame.assign(score=score).to_csv(path, index=False)
    return frame


def test_choose_writes_a_configfile_dvc_arguments_and_an_optuna_study(tmp_path):
    import optuna

    rng = np.random.default_rng(0)
    dirs = {t: tmp_path / str(t) / "work" for t in range(3)}
    for t, d in dirs.items():
        d.mkdir(parents=True)
        (d.parent / "result.json").write_text(
            json.dumps(
                _trial(
                    t, [0.85, 0.95, 0.9][t], **({"model.filters": [16, 32, 64]} if t == 1 else {})
                )
            )
        )
    frame = _scores(dirs[0] / "validation_scores.csv", 1.0, rng)
    frame.assign(score=rng.normal(0, 1, 300) + 3.0 * frame["defect_pixels"]).to_csv(
        dirs[1] / "validation_scores.csv", index=False
    )
    out = {n: tmp_path / n for n in ("sweep.json", "chosen.yaml", "args.txt", "study.journal")}
    space = {
        "model.filters": SPACE["model.filters"],
        "train.learning_rate": SPACE["train.learning_rate"],
    }
    summary = sweep.choose(
        [d.parent / "result.json" for d in dirs.values()], space=space, config=CONFIG,
        trial_dirs=dirs, out_json=out["sweep.json"], out_config=out["chosen.yaml"],
        out_dvc_args=out["args.txt"], study_path=out["study.journal"], bootstrap=(200, 0),
    )  # fmt: skip
    assert summary["chosen"] == 1
    gain = summary["gain_over_defaults"]
    assert gain["auroc"] > 0.1 and gain["interval"][0] > 0 and gain["images"] == 3
    chosen = yaml.safe_load(out["chosen.yaml"].read_text())
    assert chosen == {"model": {"filters": [16, 32, 64]}, "train": {"learning_rate": 0.001}}
    assert "--configfile results/sweep/chosen.yaml" in out["chosen.yaml"].read_text()
    assert out["args.txt"].read_text().splitlines() == [
        "-S config/config.yaml:model.filters=[16,32,64]",
        "-S config/config.yaml:train.learning_rate=0.001",
    ]  # fmt: skip
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(out["study.journal"])))
    study = optuna.load_study(study_name="sweep", storage=storage)
    assert [t.value for t in study.trials] == [0.85, 0.95, 0.9]
    assert study.best_trial.user_attrs["trial"] == 1


def test_the_report_section_lists_every_trial_and_plots_each_setting(tmp_path):
    space = {path: SPACE[path] for path in ("model.filters", "train.learning_rate")}
    summary = {
        "objective": "validation AUROC",
        "space": space,
        "trials": [_trial(0, 0.9), _trial(1, 0.95), _trial(2, None)],
        "chosen": 1,
        "gain_over_defaults": {"auroc": 0.05, "interval": [0.01, 0.09], "images": 3},
    }  # fmt: skip
    (tmp_path / "sweep.json").write_text(json.dumps(summary))
    figures = {
        "detector": {"auroc": 0.91, "recall_at_fpr_1pct": 0.6},
        "baseline": {"auroc": 0.9, "recall_at_fpr_1pct": 0.5},
    }
    (tmp_path / "test.json").write_text(
        json.dumps({"trial": 1, "scorer": "detector", "test": {"images": 4, "scorers": figures}})
    )  # fmt: skip
    html, png = tmp_path / "sweep.html", tmp_path / "sweep.png"
    write_sweep_report(tmp_path / "sweep.json", tmp_path / "test.json", html, png)
    page = html.read_text()
    assert page.count("<tr") == 4 and "(chosen)" in page and "(defaults)" in page
    assert "+0.050 AUROC (95 % interval +0.010 to +0.090" in page
    assert "detector AUROC 0.910" in page and "filter: 0.900 / 0.500" in page
    assert 'src="data:image/png;base64,' in page and png.read_bytes()[:4] == b"\x89PNG"
