"""Label fragments, calibrate thresholds on normal data, choose a scorer, measure it honestly.

Fragment labels (the thesis's three classes): a fragment takes the severity of a defect
(``likely`` beats ``possible``) when at least ``min_overlap`` of the defect box, or of the
fragment for defects larger than it, lies inside the fragment. A fragment that touches a
defect less than that is ``ambiguous`` and left out of the metrics; every other fragment
is ``none``.

Three kinds of data, never mixed up:

- *normal validation*: fragments of non-faulty validation images (never trained on). Every
  threshold is calibrated on them alone: a static one per scorer (exceeded by
  ``target_fpr`` of them) and the factor ``k`` of the adaptive per-crop threshold
  ``median + k * MAD`` of each crop's own scores.
- *labelled validation*: the validation split including its faulty images. It chooses the
  scorer that flags fragments (highest validation AUROC among the autoencoder's scorers)
  and the orientation of each statistic, and gives the F1-optimal threshold, the only
  number here that uses labels, reported as such.
- *test*: everything reported as a result: AUROC, average precision, recall at 1 % and
  0.1 % false-positive rate for ``likely`` and ``likely + possible``, the false-positive
  rate the thresholds achieve, and per-defect recall by size.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly.files import write_text
from weld_anomaly.ingest.inventory import read_manifest
from weld_anomaly.ingest.manifests import Annotation, load_annotations
from weld_anomaly.score import metrics

log = logging.getLogger(__name__)
LABELS = ("none", "possible", "likely")
TASKS = {"likely": ("likely",), "likely+possible": ("likely", "possible")}
POSITION = (
    "image",
    "fragment",
    "crop",
    "y",
    "x",
    "masked",
    "split",
    "status",
    "label",
    "flagged",
    "flagged_adaptive",
)
MULTISCALE = "residual_multiscale"
SIZE_BUCKETS = ((0, 50), (50, 200), (200, 1000), (1000, 10**9))  # px², cf. weld-radiographs.md


def label_fragments(
    corners: np.ndarray, size: int, defects: Sequence[Annotation], min_overlap: float
) -> np.ndarray:
    """The label of each fragment: ``none``, ``possible``, ``likely`` or ``ambiguous``."""
    n = len(corners)
    rank = np.zeros(n, dtype=np.int8)  # 0 none, 1 possible, 2 likely
    touched = np.zeros(n, dtype=bool)
    fy0, fx0 = corners[:, 0], corners[:, 1]
    fy1, fx1 = fy0 + size, fx0 + size
    for d in defects:
        iy = np.clip(np.minimum(fy1, d.y1) - np.maximum(fy0, d.y), 0, None)
        ix = np.clip(np.minimum(fx1, d.x1) - np.maximum(fx0, d.x), 0, None)
        inter = iy * ix
        reference = min(d.width * d.height, size * size)
        inside = inter >= min_overlap * reference
        touched |= inter > 0
        rank = np.where(inside, np.maximum(rank, 2 if d.severity == "likely" else 1), rank)
    labels = np.array(LABELS, dtype=object)[rank]
    labels[(rank == 0) & touched] = "ambiguous"
    return labels.astype(str)


def is_residual_column(column: str) -> bool:
    """A residual-map score: ``residual_s<sigma>`` or ``residual_l<length>``."""
    return re.fullmatch(r"residual_[sl][0-9p]+", column) is not None


def multiscale_parameters(table: pd.DataFrame, normal: np.ndarray) -> dict:
    """Median and robust standard deviation of each residual score on normal fragments."""
    out = {}
    for column in table.columns:
        if is_residual_column(column):
            med, scale = metrics.robust_location_scale(table[column].to_numpy()[normal])
            out[column] = {"median": med, "scale": scale}
    return out


def multiscale_scores(table: pd.DataFrame, parameters: dict) -> np.ndarray:
    """``residual_multiscale``: the largest residual score in robust z units of normal data.

    A small pore stands out at the narrow smoothing widths, a large faint pore only at the
    wide ones, a crack in a line filter; each filter's score is put on the scale of the
    normal validation fragments (median 0, robust standard deviation 1) and a fragment
    takes the largest.
    """
    return np.max(
        [(table[c].to_numpy() - p["median"]) / p["scale"] for c, p in parameters.items()],
        axis=0,
    )


def scorer_columns(table: pd.DataFrame) -> list[str]:
    """The score columns of a scores table (everything but the position columns)."""
    return [c for c in table.columns if c not in POSITION]


def is_autoencoder(scorer: str) -> bool:
    return scorer != "baseline"


def _task_metrics(labels: pd.Series, scores: np.ndarray) -> dict:
    out = {}
    for task, positives in TASKS.items():
        keep = labels.isin(("none", *positives)).to_numpy()
        y = labels.isin(positives).to_numpy()[keep]
        s = scores[keep]
        out[task] = {
            "auroc": metrics.roc_auc(y, s),
            "average_precision": metrics.average_precision(y, s),
            "recall_at_fpr_1pct": metrics.recall_at_fpr(y, s, 0.01),
            "recall_at_fpr_0.1pct": metrics.recall_at_fpr(y, s, 0.001),
            "positives": int(y.sum()),
            "negatives": int((~y).sum()),
        }
    return out


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _robust_z(table: pd.DataFrame, scores: np.ndarray) -> np.ndarray:
    """(score - crop median) / crop MAD, per image and crop (the adaptive threshold's scale)."""
    z = np.zeros(len(table))
    for _, rows in table.groupby(["image", "crop"]).indices.items():
        z[rows] = metrics.robust_z(scores[rows])
    return z


def _f1_threshold(labels: pd.Series, scores: np.ndarray) -> tuple[float, float]:
    keep = labels.isin(("none", "likely")).to_numpy()
    y = (labels == "likely").to_numpy()[keep]
    if not y.any():
        return float("nan"), float("nan")
    precision, recall, thresholds = metrics.precision_recall_curve(y, scores[keep])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    # flag strictly above: the threshold sits just below the chosen score
    return float(np.nextafter(thresholds[best], -np.inf)), float(f1[best])


def _f1_at(labels: pd.Series, scores: np.ndarray, threshold: float) -> float:
    keep = labels.isin(("none", "likely")).to_numpy()
    y = (labels == "likely").to_numpy()[keep]
    flagged = scores[keep] > threshold
    tp = int((flagged & y).sum())
    return 2 * tp / max(int(flagged.sum()) + int(y.sum()), 1)


def defect_recall(
    table: pd.DataFrame, flagged: np.ndarray, annotations: dict[str, list[Annotation]], size: int
) -> dict:
    """Share of test defects touched by at least one flagged fragment, by size and severity."""
    found: dict[str, list[int]] = {}
    for image_id, rows in table.groupby("image").indices.items():
        corners = table.loc[table.index[rows], ["y", "x"]].to_numpy()
        hits = corners[flagged[rows]]
        for d in annotations.get(image_id, []):
            hit = bool(len(hits)) and bool(
                np.any(
                    (hits[:, 0] < d.y1)
                    & (hits[:, 0] + size > d.y)
                    & (hits[:, 1] < d.x1)
                    & (hits[:, 1] + size > d.x)
                )
            )
            area = d.width * d.height
            bucket = next(
                f"{lo}-{hi}" if hi < 10**9 else f">{lo}"
                for lo, hi in SIZE_BUCKETS
                if lo <= area < hi
            )
            for key in (f"{d.severity}, area {bucket} px²", d.severity, "all"):
                found.setdefault(key, []).append(int(hit))
    return {k: {"defects": len(v), "recall": float(np.mean(v))} for k, v in sorted(found.items())}


def evaluate(
    manifest_csv: str | Path,
    images_csv: str | Path | None,
    score_csvs: Sequence[str | Path],
    annotations_path: str | Path | None,
    fragments_out: str | Path,
    metrics_out: str | Path,
    *,
    size: int,
    min_overlap: float,
    target_fpr: float,
    flag_statistic: str = "auto",
    adaptive_k: float | str = "auto",
    roc_out: str | Path | None = None,
) -> dict:
    """Label, calibrate, choose and measure; write the fragment table and the metrics JSON."""
    records = {r.image_id: r for r in read_manifest(manifest_csv)}
    table = pd.concat([pd.read_csv(p) for p in score_csvs], ignore_index=True)
    rejected: list[str] = []
    if images_csv is not None:
        images = pd.read_csv(images_csv)
        rejected = sorted(images.loc[images["rejected"].astype(str) == "True", "image"])
        table = table[~table["image"].isin(rejected)].reset_index(drop=True)
    table["split"] = table["image"].map(lambda i: records[i].split)
    table["status"] = table["image"].map(lambda i: records[i].status)
    normal_val = ((table["split"] == "validation") & (table["status"] == "nonfaulty")).to_numpy()
    if not normal_val.any():
        raise ValueError("no non-faulty validation fragments to calibrate thresholds on")
    combined = {}
    multiscale = multiscale_parameters(table, normal_val)
    if len(multiscale) > 1:
        combined[MULTISCALE] = multiscale
        table[MULTISCALE] = multiscale_scores(table, multiscale)
    scorers = scorer_columns(table)
    if flag_statistic != "auto" and flag_statistic not in scorers:
        raise ValueError(f"unknown flag statistic {flag_statistic!r}")

    annotations = load_annotations(annotations_path) if annotations_path else None
    labels = np.full(len(table), "none", dtype=object)
    if annotations is not None:
        for image_id, rows in table.groupby("image").indices.items():
            corners = table.loc[rows, ["y", "x"]].to_numpy()
            labels[rows] = label_fragments(
                corners, size, annotations.get(image_id, []), min_overlap
            )
    else:
        labels[(table["status"] == "faulty").to_numpy()] = "unknown"
    table["label"] = labels

    labelled_val = (table["split"] == "validation").to_numpy()
    test = (table["split"] == "test").to_numpy()
    normal_test = test & (table["status"] == "nonfaulty").to_numpy()

    # Orientation of each scorer: from the labelled validation split when it has defects,
    # else "high = anomalous" (the residual and baseline scores are built that way).
    val_labels = table["label"][labelled_val]
    has_val_defects = bool((val_labels == "likely").any())
    oriented: dict[str, np.ndarray] = {}
    direction: dict[str, str] = {}
    validation: dict[str, dict] = {}
    for s in scorers:
        values = table[s].to_numpy(dtype=np.float64)
        if has_val_defects:
            m = _task_metrics(val_labels, values[labelled_val])
            if m["likely"]["auroc"] < 0.5:
                values = -values
                m = _task_metrics(val_labels, values[labelled_val])
                direction[s] = "low"
            else:
                direction[s] = "high"
            validation[s] = m
        else:
            direction[s] = "high"
        oriented[s] = values

    if flag_statistic == "auto":
        candidates = [s for s in scorers if is_autoencoder(s)]
        if has_val_defects:
            flag_statistic = max(candidates, key=lambda s: validation[s]["likely"]["auroc"])
        else:
            defaults = [s for s in (MULTISCALE, "residual_s2") if s in scorers]
            flag_statistic = (defaults or candidates)[0]
    thresholds = {s: metrics.threshold_at_fpr(oriented[s][normal_val], target_fpr) for s in scorers}
    flag_scores = oriented[flag_statistic]
    table["flagged"] = flag_scores > thresholds[flag_statistic]

    # adaptive per-crop threshold: median + k * MAD of each crop's own scores
    z = _robust_z(table, flag_scores)
    k = (
        float(adaptive_k)
        if adaptive_k != "auto"
        else metrics.threshold_at_fpr(z[normal_val], target_fpr)
    )
    table["flagged_adaptive"] = z > k

    result: dict = {
        "target_fpr": target_fpr,
        "flag_statistic": flag_statistic,
        "flag_statistic_chosen_by": (
            "validation AUROC (likely)"
            if has_val_defects
            else "default (no annotated validation images)"
        ),
        "direction": direction,
        "thresholds": thresholds,
        "combined": combined,
        "adaptive_k": k,
        "counts": {
            "images": {
                s: int(table.loc[table["split"] == s, "image"].nunique())
                for s in ("validation", "test")
            },
            "fragments": {
                "normal_validation": int(normal_val.sum()),
                "validation": int(labelled_val.sum()),
                "test": int(test.sum()),
            },
            "test_labels": {k: int(v) for k, v in table["label"][test].value_counts().items()},
            "validation_labels": {k: int(v) for k, v in val_labels.value_counts().items()},
        },
        "rejected_images": rejected,
        "annotations": annotations is not None,
        "achieved_fpr_on_test_normals": {
            s: float(np.mean(oriented[s][normal_test] > thresholds[s]))
            if normal_test.any()
            else None
            for s in scorers
        },
        "adaptive": {
            "achieved_fpr_on_test_normals": float(table["flagged_adaptive"][normal_test].mean())
            if normal_test.any()
            else None,
        },
        "validation": validation,
        "scorers": {},
    }
    if annotations is not None:
        test_labels = table["label"][test]
        for s in scorers:
            result["scorers"][s] = _task_metrics(test_labels, oriented[s][test])
        keep = test_labels.isin(("none", "likely")).to_numpy()
        y = (test_labels == "likely").to_numpy()[keep]
        result["static"] = {
            "recall_likely": float(np.mean(table["flagged"][test].to_numpy()[keep][y])),
            "f1_likely": _f1_at(test_labels, flag_scores[test], thresholds[flag_statistic]),
        }
        result["adaptive"]["recall_likely"] = float(
            np.mean(table["flagged_adaptive"][test].to_numpy()[keep][y])
        )
        if has_val_defects:
            f1_threshold, f1_val = _f1_threshold(val_labels, flag_scores[labelled_val])
            result["f1_optimal"] = {
                "uses_labels": "chosen on the annotated validation images",
                "threshold": f1_threshold,
                "f1_validation": f1_val,
                "f1_test": _f1_at(test_labels, flag_scores[test], f1_threshold),
            }
        test_table = table[test]
        result["defect_recall"] = {
            flag_statistic: defect_recall(
                test_table, table["flagged"][test].to_numpy(), annotations, size
            ),
            "baseline": defect_recall(
                test_table, oriented["baseline"][test] > thresholds["baseline"], annotations, size
            ),
        }
    if roc_out is not None:
        rows = []
        if annotations is not None:
            test_labels = table["label"][test]
            keep = test_labels.isin(("none", "likely")).to_numpy()
            y = (test_labels == "likely").to_numpy()[keep]
            for s in dict.fromkeys([flag_statistic, "baseline"]):
                fpr, tpr, _ = metrics.roc_curve(y, oriented[s][test][keep])
                rows += [{"scorer": s, "fpr": f, "tpr": t} for f, t in zip(fpr, tpr, strict=True)]
        roc = pd.DataFrame(rows, columns=["scorer", "fpr", "tpr"])
        write_text(roc_out, roc.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    result = _clean(result)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    write_text(fragments_out, buffer.getvalue())
    write_text(metrics_out, json.dumps(result, indent=2) + "\n")
    if result["scorers"]:
        log.info(
            "flagging with %s: test AUROC (likely) %.3f; baseline %.3f",
            flag_statistic,
            result["scorers"][flag_statistic]["likely"]["auroc"] or np.nan,
            result["scorers"]["baseline"]["likely"]["auroc"] or np.nan,
        )
    return result
