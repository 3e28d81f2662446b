"""The hyperparameter sweep (``snakemake sweep``): trials of the training, scoring and
validation chain with settings drawn from ``sweep.space``, judged on the annotated
validation images only.

How a sweep runs (rules/sweep.smk):

- Trials come in rounds of ``sweep.parallel``. Before each round one job asks Optuna's TPE
  sampler (ask-and-tell) for that round's settings, given every finished trial; the study is
  rebuilt in memory from the trials' result files each time, so an interrupted sweep run
  again continues where it stopped (finished trials are Snakemake outputs and are not
  repeated; the rounds already asked keep their settings). Trial 0 is the configuration as
  it is (the defaults), so every sweep measures what it gains over them.
- Each trial is one job (one GPU on a cluster): it trains the autoencoder and the flaw
  detector with its settings, fits the texture predictor, scores the validation images and
  measures every scorer on their annotated fragments (standard protocol: a fragment holding
  any defect pixel is positive). Its value: the validation AUROC of its best learned scorer
  (recall at 1 % FPR breaks ties); the training-free filter does not depend on the settings.
  The supervised detector is not part of a trial. The test split is never read.
- The trial with the best value is chosen; its settings are written as a config file for
  ``--configfile`` and as ``dvc exp run -S`` arguments, the whole study as an Optuna journal
  file, and only then are the test images scored, once, with the chosen trial's models.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from weld_anomaly.errors import ConfigError
from weld_anomaly.files import write_text
from weld_anomaly.score import metrics, scorers
from weld_anomaly.workflow.search_space import lookup

log = logging.getLogger(__name__)


def _code(value):
    """A choice as Optuna stores it (lists become their JSON text)."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def distributions(space: dict) -> dict:
    """Optuna's distribution of every setting (choices by their JSON text)."""
    import optuna.distributions as d

    out = {}
    for path, spec in space.items():
        if "choices" in spec:
            out[path] = d.CategoricalDistribution([_code(c) for c in spec["choices"]])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            out[path] = d.IntDistribution(spec["low"], spec["high"], log=spec.get("log", False))
        else:
            out[path] = d.FloatDistribution(
                float(spec["low"]), float(spec["high"]), log=spec.get("log", False)
            )
    return out


def decode(space: dict, params: dict) -> dict:
    """Optuna's parameters as configuration values."""
    out = {}
    for path, value in params.items():
        if "choices" in space[path]:
            value = space[path]["choices"][[_code(c) for c in space[path]["choices"]].index(value)]
        out[path] = value
    return out


def encode(space: dict, settings: dict) -> dict:
    return {path: _code(value) for path, value in settings.items() if path in space}


def defaults(space: dict, config: dict) -> dict:
    """The configuration's own value of every setting (trial 0)."""
    return {path: lookup(config, path) for path in space}


def _put(tree: dict, path: str, value) -> None:
    """Set the value at a dotted path of a nested mapping (missing levels are made)."""
    *parents, key = path.split(".")
    for parent in parents:
        tree = tree.setdefault(parent, {})
    tree[key] = value


def trial_config(config: dict, settings: dict) -> dict:
    """The configuration with a trial's settings in place."""
    out = copy.deepcopy(config)
    for path, value in settings.items():
        _put(out, path, value)
    return out


def _sampler(seed: int, startup: int):
    """TPE, seeded; its first ``startup`` trials at random. Multivariate (settings interact)
    with a constant liar (the trials of a round are asked before any of them is told)."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # both options are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, constant_liar=True, multivariate=True
        )


def _study(space: dict, finished: Sequence[dict], sampler, storage=None):
    """An Optuna study holding the finished trials (a trial without a value as failed)."""
    import optuna

    study = optuna.create_study(
        study_name="sweep", direction="maximize", sampler=sampler, storage=storage
    )
    dists = distributions(space)
    for result in finished:
        value = result.get("value")
        ok = value is not None and math.isfinite(value)
        study.add_trial(
            optuna.trial.create_trial(
                params=encode(space, result["settings"]),
                distributions=dists,
                value=value if ok else None,
                state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
                user_attrs={"trial": result["trial"], **result.get("attributes", {})},
            )
        )
    return study


def ask_round(
    space: dict, config: dict, finished: Sequence[dict], numbers: Sequence[int], seed: int,
    startup: int,
) -> list[dict]:  # fmt: skip
    """The settings of the trials ``numbers`` (one round), given the finished trials.

    Deterministic: the study is rebuilt from ``finished`` and the sampler seeded with
    ``seed`` plus the round's first trial number; trial 0 is the configuration itself."""
    study = _study(space, finished, _sampler(seed + numbers[0], startup))
    if 0 in numbers:
        study.enqueue_trial(encode(space, defaults(space, config)))
    dists = distributions(space)
    asked = [study.ask(dists) for _ in numbers]
    return [
        {"trial": n, "settings": decode(space, t.params)}
        for n, t in zip(numbers, asked, strict=True)
    ]


def write_round(out_json, asked: list[dict]) -> None:
    write_text(out_json, json.dumps(asked, indent=2) + "\n")


def read_results(paths: Sequence[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]


def ask(
    out_json, results: Sequence[str | Path], *, space: dict, config: dict, numbers: list[int],
    seed: int, startup: int, annotated: bool = True,
) -> list[dict]:  # fmt: skip
    """The ``sweep_ask`` step: one round's settings, written as JSON. ``annotated``: whether
    there are annotated faulty validation images to judge the trials on."""
    if not annotated:
        raise ConfigError(
            "the sweep judges its trials on annotated validation images and there are none",
            "sweep", "annotate some faulty images (data.annotations: boxes or masks, or the "
            "viewer's review export) so that the validation split holds a few",
        )  # fmt: skip
    asked = ask_round(space, config, read_results(results), numbers, seed, startup)
    for entry in asked:
        log.info("trial %d: %s", entry["trial"], entry["settings"])
    write_round(out_json, asked)
    return asked


# --- one trial -------------------------------------------------------------------------


def trial_paths(inputs, images: Sequence[str]) -> dict:
    """A sweep job's named inputs (rules/sweep.smk) as :func:`run_trial` takes them."""
    paths = {
        "fragments": dict(zip(images, inputs.fragments, strict=True)),
        "crops": dict(zip(images, inputs.crops, strict=True)),
        "manifest": inputs.manifest,
        "images": inputs.images,
        "annotations": inputs.annotations[0] if inputs.annotations else None,
        "masks": list(inputs.masks),
    }
    named = set(inputs.keys())  # (a Snakemake input list: `in` would look at its values)
    for name in ("train_h5", "validation_h5"):
        if name in named:
            paths[name] = inputs[name]
    for name in ("train_crops", "texture_fragments", "texture_crops"):
        if name in named:
            paths[name] = list(inputs[name])
    return paths


def trial_dirs(work_dirs: Sequence[str | Path]) -> dict[int, Path]:
    """{trial number: its work folder} (``results/sweep/trials/<n>/work``)."""
    return {int(Path(p).parent.name): Path(p) for p in work_dirs}


def run_trial(
    round_json, trial: int, config: dict, paths: dict, work_dir: str | Path, out_json,
) -> dict:  # fmt: skip
    """Train, score the validation images and measure: one trial (``sweep_trial``).

    ``paths``: train_h5, validation_h5, train_crops (the detector's), texture_fragments and
    texture_crops (the texture predictor's), fragments and crops (validation images, by id),
    manifest, images, annotations, masks."""
    from weld_anomaly.score.evaluation import annotated_figures

    start = time.perf_counter()
    (entry,) = [e for e in json.loads(Path(round_json).read_text()) if e["trial"] == trial]
    settings = entry["settings"]
    cfg = trial_config(config, settings)
    log.info("trial %d: %s", trial, settings)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    _train_models(cfg, paths, work, trial)
    scores = _score_images(cfg, paths, work, work / "scores")
    figures, table = annotated_figures(
        paths["manifest"], paths["images"], scores, paths["annotations"], paths["masks"],
        size=cfg["fragments"]["size"], min_overlap=cfg["evaluate"]["min_overlap"],
    )  # fmt: skip
    best = best_learned(figures["scorers"])
    chosen_figures = figures["scorers"].get(best, {})
    result = {
        "trial": trial,
        "settings": settings,
        "value": chosen_figures.get("auroc"),
        "scorer": best,
        "recall_at_fpr_1pct": chosen_figures.get("recall_at_fpr_1pct"),
        "flag": figures["flag"],
        "chosen_by": figures["chosen_by"],
        "validation": figures,
        "seconds": round(time.perf_counter() - start, 1),
    }
    result["attributes"] = {k: result[k] for k in ("scorer", "recall_at_fpr_1pct", "flag")}
    if best is not None:
        table[["image", "fragment", "defect_pixels", best]].rename(columns={best: "score"}).to_csv(
            work / "validation_scores.csv", index=False
        )
    log.info("trial %d: validation AUROC %s (%s), %.0f s", trial, result["value"], best,
             result["seconds"])  # fmt: skip
    write_text(out_json, json.dumps(_finite(result), indent=2) + "\n")
    return result


def _train_models(cfg: dict, paths: dict, work: Path, trial: int) -> None:
    """A trial's autoencoder, texture predictor and flaw detector, in ``work``."""
    from weld_anomaly.model.detector import DetectorSettings, train_detector
    from weld_anomaly.model.training import train
    from weld_anomaly.score.scoring import fit_texture_predictor

    tr, sc = cfg["train"], cfg["score"]
    train(
        paths["train_h5"], paths["validation_h5"], work / "autoencoder.keras",
        work / "autoencoder.weights.h5", work / "history.csv", work / "train.json",
        epochs=tr["epochs"], batch_size=tr["batch_size"], learning_rate=tr["learning_rate"],
        seed=tr["seed"], precision=tr["precision"], architecture=cfg["model"]["architecture"],
        filters=tuple(cfg["model"]["filters"]),
        resume_dir=Path(tr["resume_dir"]).parent / f"sweep_trial_{trial}",
        early_stopping_patience=tr["early_stopping_patience"],
        memory_limit_mb=tr["memory_limit_mb"], workers=tr["workers"],
        corruption=tr["corruption"], blemish_max_radius=tr["blemish_max_radius"],
        fragments_per_epoch=tr["fragments_per_epoch"],
    )  # fmt: skip
    if sc["texture_predictor"]:
        fit_texture_predictor(
            work / "autoencoder.keras", list(paths["texture_fragments"]),
            list(paths["texture_crops"]), work / "texture_predictor.json",
            batch_size=sc["batch_size"], median_size=sc["baseline_median"],
            sigma=sc["baseline_sigma"], mask_z=sc["marker_mask_z"],
            mask_dilate=sc["marker_mask_dilate"], predictor=sc["texture_predictor"],
        )  # fmt: skip
    if sc["detector"]:
        detector = DetectorSettings.from_config(cfg["detector"])
        train_detector(
            list(paths["train_crops"]), work / "detector.keras", work / "detector.json",
            replace(detector, robust=sc["robust_normalisation"]), precision=tr["precision"],
        )  # fmt: skip


def _score_images(cfg: dict, paths: dict, work: Path, out_dir: Path) -> list[Path]:
    """Score the images of ``paths`` with the models of a trial (``work``) into ``out_dir``."""
    from weld_anomaly.score.residual import ResidualSettings
    from weld_anomaly.score.scoring import load_model, score_image

    sc = cfg["score"]
    model = load_model(work / "autoencoder.keras")
    detector = load_model(work / "detector.keras") if sc["detector"] else None
    predictor = work / "texture_predictor.json" if sc["texture_predictor"] else None
    residual = ResidualSettings.from_config(sc, predictor)
    scores = []
    for image, fragments in paths["fragments"].items():
        out = out_dir / f"{image}.csv"
        score_image(
            work / "autoencoder.keras", fragments, paths["crops"][image], out, image,
            batch_size=sc["batch_size"], median_size=sc["baseline_median"],
            sigma=sc["baseline_sigma"], residual=residual,
            contrast_sigmas=tuple(sc["contrast_sigmas"]), model=model, detector=detector,
            robust=sc["robust_normalisation"],
        )  # fmt: skip
        scores.append(out)
    return scores


def _finite(value):
    """NaN as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def best_learned(figures: dict) -> str | None:
    """The learned scorer with the best validation AUROC (then recall at 1 % FPR)."""
    learned = [
        s for s, m in figures.items()
        if scorers.for_column(s).learned and m.get("auroc") is not None
        and math.isfinite(m["auroc"])
    ]  # fmt: skip
    if not learned:
        return None
    return max(learned, key=lambda s: (figures[s]["auroc"], figures[s]["recall_at_fpr_1pct"]))


# --- the choice ------------------------------------------------------------------------


def chosen(results: Sequence[dict]) -> dict:
    """The trial with the best value (then recall; the earlier on a tie)."""
    done = [r for r in results if r.get("value") is not None]
    if not done:
        raise ValueError("no trial produced a validation figure")
    return max(done, key=lambda r: (r["value"], r["recall_at_fpr_1pct"] or 0.0, -r["trial"]))


def gain_interval(chosen_csv, default_csv, resamples: int, seed: int) -> dict:
    """The chosen trial's validation AUROC minus the defaults', with a 95 % interval by
    resampling the annotated validation images (paired: the same fragments, each trial's
    own best learned scorer)."""
    a, b = pd.read_csv(chosen_csv), pd.read_csv(default_csv)
    both = a.merge(b, on=["image", "fragment", "defect_pixels"], suffixes=("", "_default"))
    y = both["defect_pixels"].to_numpy(dtype=bool)
    images = both["image"].to_numpy()
    scores = {"chosen": both["score"].to_numpy(), "default": both["score_default"].to_numpy()}
    value = metrics.roc_auc(y, scores["chosen"]) - metrics.roc_auc(y, scores["default"])
    drawn = metrics.resampled_metrics(y, scores, images, resamples, seed) if resamples else {}
    return {
        "auroc": float(value),
        "interval": metrics.interval(drawn["chosen"][0] - drawn["default"][0]) if drawn else None,
        "images": int(len(np.unique(images))),
        "resamples": int(resamples),
    }


def choose(
    results: Sequence[str | Path], *, space: dict, config: dict, trial_dirs: dict,
    out_json, out_config, out_dvc_args, study_path, bootstrap: tuple[int, int],
) -> dict:  # fmt: skip
    """The ``sweep_choose`` step: the best trial by validation, its settings as a config file
    and as `dvc exp run -S` arguments, and the study as an Optuna journal file."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    trials = sorted(read_results(results), key=lambda r: r["trial"])
    best = chosen(trials)
    default = next((r for r in trials if r["trial"] == 0), None)
    gain = None
    if default is not None and default.get("value") is not None:
        gain = gain_interval(
            Path(trial_dirs[best["trial"]]) / "validation_scores.csv",
            Path(trial_dirs[0]) / "validation_scores.csv", *bootstrap,
        )  # fmt: skip
    summary = {
        "objective": "validation AUROC of the trial's best learned scorer (standard protocol)",
        "trials": trials,
        "chosen": best["trial"],
        "settings": best["settings"],
        "gain_over_defaults": gain,
        "space": space,
    }
    write_text(out_json, json.dumps(_finite(summary), indent=2) + "\n")
    nested: dict = {}
    for path, value in best["settings"].items():
        _put(nested, path, value)
    header = (
        f"# The sweep's chosen trial ({best['trial']} of {len(trials)}): validation AUROC "
        f"{best['value']:.4f} ({best['scorer']}). Use it with\n"
        "#     snakemake --cores all --configfile results/sweep/chosen.yaml\n"
    )
    write_text(out_config, header + yaml.safe_dump(nested, sort_keys=True))
    write_text(
        out_dvc_args, "".join(f"-S {dvc_setting(p, v)}\n" for p, v in best["settings"].items())
    )
    study_path = Path(study_path)
    study_path.unlink(missing_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _study(space, trials, _sampler(0, 1), JournalStorage(JournalFileBackend(str(study_path))))
    log.info("chose trial %d: %s", best["trial"], best["settings"])
    return summary


PARAMS_FILE = "config/config.yaml"  # DVC's parameter file (dvc.yaml)


def dvc_setting(path: str, value) -> str:
    """One `dvc exp run -S` argument: the parameter file, the key, the value in Hydra's
    override syntax (no spaces)."""
    return f"{PARAMS_FILE}:{path}={json.dumps(value, separators=(',', ':'))}"


# --- the test split, once --------------------------------------------------------------


def score_test(
    sweep_json, trial_dirs: dict, *, config: dict, paths: dict, out_json,
) -> dict:  # fmt: skip
    """The ``sweep_test`` step: the chosen trial's models score the test images, once; every
    scorer's figures on the annotated test images (combined scorers fitted, and thresholds
    calibrated, on the validation images, as the workflow does)."""
    from weld_anomaly.score.evaluation import annotated_figures

    summary = json.loads(Path(sweep_json).read_text())
    trial = summary["chosen"]
    result = next(r for r in summary["trials"] if r["trial"] == trial)
    cfg, work = trial_config(config, result["settings"]), Path(trial_dirs[trial])
    validation = sorted((work / "scores").glob("*.csv"))
    scores = validation + _score_images(cfg, paths, work, Path(out_json).parent / "test_scores")
    figures, _ = annotated_figures(
        paths["manifest"], paths["images"], scores, paths["annotations"], paths["masks"],
        size=cfg["fragments"]["size"], min_overlap=cfg["evaluate"]["min_overlap"],
        split="test",
    )  # fmt: skip
    out = {"trial": trial, "scorer": result["scorer"], "flag": result["flag"], "test": figures}
    write_text(out_json, json.dumps(_finite(out), indent=2) + "\n")
    return out
