"""Label fragments from the annotations, calibrate thresholds, and measure every scorer.

Fragment labels (the thesis's three classes): a fragment takes the severity of a defect
(``likely`` beats ``possible``) when at least ``min_overlap`` of the defect box, or of the
fragment for defects larger than it, lies inside the fragment. A fragment that touches a
defect less than that is ``ambiguous`` and left out of the metrics; every other fragment
is ``none``.

Thresholds come from normal data only: for each scorer, the value that
``target_fpr`` of the validation fragments (non-faulty images never trained on) exceed.
Metrics are measured on the test split: fragment AUROC, average precision and recall at
1 % and 0.1 % false-positive rate, for ``likely`` defects and for ``likely + possible``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly import metrics
from weld_anomaly.files import write_text
from weld_anomaly.inventory import read_manifest
from weld_anomaly.manifests import Annotation, load_annotations

log = logging.getLogger(__name__)
LABELS = ("none", "possible", "likely")
TASKS = {"likely": ("likely",), "likely+possible": ("likely", "possible")}


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


def scorer_columns(table: pd.DataFrame) -> list[str]:
    """The score columns of a scores table (everything after the position columns)."""
    return [
        c
        for c in table.columns
        if c not in ("image", "fragment", "crop", "y", "x", "split", "status", "label", "flagged")
    ]


def _metrics_for(labels: np.ndarray, scores: np.ndarray) -> dict:
    return {
        "auroc": metrics.roc_auc(labels, scores),
        "average_precision": metrics.average_precision(labels, scores),
        "recall_at_fpr_1pct": metrics.recall_at_fpr(labels, scores, 0.01),
        "recall_at_fpr_0.1pct": metrics.recall_at_fpr(labels, scores, 0.001),
        "positives": int(labels.sum()),
        "negatives": int((~labels).sum()),
    }


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 6)
    return value


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
    flag_statistic: str,
) -> dict:
    """Label, calibrate and measure; write the labelled fragment table and the metrics JSON."""
    records = {r.image_id: r for r in read_manifest(manifest_csv)}
    table = pd.concat([pd.read_csv(p) for p in score_csvs], ignore_index=True)
    rejected: list[str] = []
    if images_csv is not None:
        images = pd.read_csv(images_csv)
        rejected = sorted(images.loc[images["rejected"].astype(str) == "True", "image"])
        table = table[~table["image"].isin(rejected)].reset_index(drop=True)
    table["split"] = table["image"].map(lambda i: records[i].split)
    table["status"] = table["image"].map(lambda i: records[i].status)
    scorers = scorer_columns(table)
    if flag_statistic not in scorers:
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

    validation = table[table["split"] == "validation"]
    thresholds = {
        s: metrics.threshold_at_fpr(validation[s].to_numpy(), target_fpr) for s in scorers
    }
    table["flagged"] = table[flag_statistic] > thresholds[flag_statistic]

    test = table[table["split"] == "test"]
    result: dict = {
        "target_fpr": target_fpr,
        "flag_statistic": flag_statistic,
        "thresholds": thresholds,
        "counts": {
            "images": {
                s: int(table.loc[table["split"] == s, "image"].nunique())
                for s in ("validation", "test")
            },
            "fragments": {s: int((table["split"] == s).sum()) for s in ("validation", "test")},
            "test_labels": {k: int(v) for k, v in test["label"].value_counts().items()},
        },
        "rejected_images": rejected,
        "annotations": annotations is not None,
        "scorers": {},
    }
    negatives_test = test[test["label"] == "none"]
    result["achieved_fpr_on_test_normals"] = {
        s: float(np.mean(negatives_test[s].to_numpy() > thresholds[s]))
        if len(negatives_test)
        else None
        for s in scorers
    }
    if annotations is not None:
        for scorer in scorers:
            result["scorers"][scorer] = {}
            for task, positives in TASKS.items():
                keep = test["label"].isin(("none", *positives)).to_numpy()
                y = test["label"].isin(positives).to_numpy()[keep]
                result["scorers"][scorer][task] = _metrics_for(y, test[scorer].to_numpy()[keep])
    result = _clean(result)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    write_text(fragments_out, buffer.getvalue())
    write_text(metrics_out, json.dumps(result, indent=2) + "\n")
    if annotations is not None:
        best = max(result["scorers"], key=lambda s: result["scorers"][s]["likely"]["auroc"] or 0)
        log.info(
            "best fragment AUROC (likely): %s %.3f; baseline %.3f",
            best,
            result["scorers"][best]["likely"]["auroc"],
            result["scorers"]["baseline"]["likely"]["auroc"] or float("nan"),
        )
    return result
