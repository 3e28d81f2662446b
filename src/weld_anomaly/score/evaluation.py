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

import functools
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly.files import write_text
from weld_anomaly.ingest import tiling
from weld_anomaly.ingest.inventory import read_manifest
from weld_anomaly.ingest.manifests import Annotation, load_annotations, load_masks
from weld_anomaly.score import findings, metrics, pod, scorers
from weld_anomaly.score.scorers import DEFAULT_FLAG, ScoredFragments

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
    "defect_pixels",
    "flagged",
    "flagged_adaptive",
)
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


def scorer_columns(table: pd.DataFrame) -> list[str]:
    """The score columns of a scores table (everything but the position columns)."""
    return [c for c in table.columns if c not in POSITION]


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


def pixel_labels(
    table: pd.DataFrame, annotations: dict, masks: dict[str, np.ndarray], size: int
) -> np.ndarray:
    """Whether each fragment holds any defect pixel: from the image's mask when there is
    one, else from its annotation boxes."""
    out = np.zeros(len(table), dtype=bool)
    for image_id, rows in table.groupby("image").indices.items():
        corners = table.loc[table.index[rows], ["y", "x"]].to_numpy()
        mask = masks.get(image_id)
        if mask is not None:
            padded = np.pad(mask, ((0, size), (0, size)))
            out[rows] = tiling.max_per_fragment(padded.astype(np.uint8), corners, size) > 0
            continue
        for d in annotations.get(image_id, []):
            out[rows] |= (
                (corners[:, 0] < d.y1)
                & (corners[:, 0] + size > d.y)
                & (corners[:, 1] < d.x1)
                & (corners[:, 1] + size > d.x)
            )
    return out


def lost_defects(table: pd.DataFrame, annotations: dict, masks: dict, size: int) -> dict:
    """Per image: annotated defect pixels outside every fragment (hence every crop), and how
    many defects lose some. Only images that lose some are listed."""
    from weld_anomaly.ingest.manifests import CropSpec, defects_outside

    out = {}
    for image_id, rows in table.groupby("image").indices.items():
        defects, mask = annotations.get(image_id, []), masks.get(image_id)
        if not defects and mask is None:
            continue
        corners = table.loc[table.index[rows], ["y", "x"]].to_numpy()
        frags = [CropSpec(int(x), int(y), size, size, "f") for y, x in corners]
        if mask is not None:
            shape = mask.shape
        else:
            shape = (
                max([d.y1 for d in defects] + [int(corners[:, 0].max()) + size]),
                max([d.x1 for d in defects] + [int(corners[:, 1].max()) + size]),
            )
        pixels, lost = defects_outside(frags, defects, shape, mask)
        if pixels:
            out[image_id] = {"pixels": pixels, "defects": lost}
    return out


def _warn_lost(lost: dict) -> dict:
    for image_id, n in lost.items():
        log.warning(
            "%s: %d annotated defect pixel(s) of %d defect(s) lie outside every crop",
            image_id,
            n["pixels"],
            n["defects"],
        )
    return lost


def _any_pixel_metrics(y: np.ndarray, scores: np.ndarray) -> dict:
    return {
        "auroc": metrics.roc_auc(y, scores),
        "average_precision": metrics.average_precision(y, scores),
        "recall_at_fpr_1pct": metrics.recall_at_fpr(y, scores, 0.01),
        "recall_at_fpr_0.1pct": metrics.recall_at_fpr(y, scores, 0.001),
        "positives": int(y.sum()),
        "negatives": int((~y).sum()),
    }


def _bucket(area: float) -> str:
    return next(
        f"{lo}-{hi}" if hi < 10**9 else f">{lo}" for lo, hi in SIZE_BUCKETS if lo <= area < hi
    )


SEVERITIES = ("likely", "possible")


def _in_order(found: dict[str, list[int]]) -> list[tuple[str, list[int]]]:
    """Groups of defects in reading order: all, by size (smallest first, not as text, which
    puts "200-1000" before "50-200"), then each severity and its sizes."""
    sizes = [f"area {_bucket(lo)} px²" for lo, _ in SIZE_BUCKETS]
    order = ["all", *sizes]
    for severity in SEVERITIES:
        order += [severity, *(f"{severity}, {size}" for size in sizes)]
    rank = {group: i for i, group in enumerate(order)}
    return sorted(found.items(), key=lambda item: (rank.get(item[0], len(order)), item[0]))


def defect_targets(
    table: pd.DataFrame, flagged: np.ndarray, annotations: dict, masks: dict, size: int
) -> list[tuple[str, float, float, bool]]:
    """Every annotated defect of the table's images as a hit/miss target: (image, area in
    px², longest extent in px, found). A defect is a connected region of its image's mask,
    else an annotation box; it is found when a flagged fragment holds one of its pixels."""
    from scipy import ndimage

    targets = []
    for image_id, rows in table.groupby("image").indices.items():
        corners = table.loc[table.index[rows], ["y", "x"]].to_numpy()
        hits = corners[flagged[rows]]
        mask = masks.get(image_id)
        if mask is not None:
            covered = np.zeros(mask.shape, dtype=bool)
            for y, x in hits:
                covered[y : y + size, x : x + size] = True
            labels, n = ndimage.label(mask)
            if n:
                index = np.arange(1, n + 1)
                areas = ndimage.sum(mask, labels, index)
                seen = ndimage.maximum(covered, labels, index)
                boxes = ndimage.find_objects(labels)
                for area, hit, box in zip(areas, seen, boxes, strict=True):
                    extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
                    targets.append((str(image_id), float(area), float(extent), bool(hit)))
            continue
        for d in annotations.get(image_id, []):
            hit = bool(
                len(hits)
                and np.any(
                    (hits[:, 0] < d.y1)
                    & (hits[:, 0] + size > d.y)
                    & (hits[:, 1] < d.x1)
                    & (hits[:, 1] + size > d.x)
                )
            )
            area, extent = float(d.width * d.height), float(max(d.width, d.height))
            targets.append((str(image_id), area, extent, hit))
    return targets


def defect_detection(
    table: pd.DataFrame, flagged: np.ndarray, annotations: dict, masks: dict, size: int
) -> dict:
    """Probability of detection by defect size class (:func:`defect_targets`)."""
    found: dict[str, list[int]] = {}
    for _, area, _, hit in defect_targets(table, flagged, annotations, masks, size):
        for key in (f"area {_bucket(area)} px²", "all"):
            found.setdefault(key, []).append(int(hit))
    return {k: {"defects": len(v), "detected": float(np.mean(v))} for k, v in _in_order(found)}


def probability_of_detection(
    table: pd.DataFrame, flagged: np.ndarray, defects: tuple, size: int, spacing: dict
) -> dict:
    """The POD fit (:mod:`.pod`) of the table's annotated defects at these flags: sizes in
    mm when every image holding a defect has a pixel size (``spacing``), else in px."""
    annotations, masks = defects
    targets = defect_targets(table, flagged, annotations, masks, size)
    images = {t[0] for t in targets}
    in_mm = bool(images) and all(spacing.get(i) for i in images)
    sizes = np.array([t[2] * (spacing[t[0]] if in_mm else 1.0) for t in targets])
    result = pod.fit(sizes, np.array([t[3] for t in targets], bool), "mm" if in_mm else "px")
    result["sentence"] = pod.summary(result)
    return result


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
            bucket = _bucket(d.width * d.height)
            for key in (f"{d.severity}, area {bucket} px²", d.severity, "all"):
                found.setdefault(key, []).append(int(hit))
    return {k: {"defects": len(v), "recall": float(np.mean(v))} for k, v in _in_order(found)}


def _scores_table(
    manifest_csv: str | Path,
    images_csv: str | Path | None,
    score_csvs: Sequence[str | Path],
    cross_fitted: str | Path | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Every image's scores in one table with its split and status; rejected images left
    out; scores of images a model learnt from replaced by cross-fitted ones (:func:`cross_fit`)."""
    records = {r.image_id: r for r in read_manifest(manifest_csv)}
    table = cross_fit(
        pd.concat([pd.read_csv(p) for p in score_csvs], ignore_index=True), cross_fitted
    )
    rejected: list[str] = []
    if images_csv is not None:
        images = pd.read_csv(images_csv)
        rejected = sorted(images.loc[images["rejected"].astype(str) == "True", "image"])
        table = table[~table["image"].isin(rejected)].reset_index(drop=True)
    table["split"] = table["image"].map(lambda i: records[i].split)
    table["status"] = table["image"].map(lambda i: records[i].status)
    return table, rejected


def cross_fit(table: pd.DataFrame, cross_fitted: str | Path | None) -> pd.DataFrame:
    """The scores of images a model was trained on, replaced by those of a model that did
    not see them (``cross_fitted``: a CSV of image, fragment and score columns)."""
    if cross_fitted is None:
        return table
    folds = pd.read_csv(cross_fitted)
    columns = [c for c in folds.columns if c not in ("image", "fragment")]
    keyed = table.set_index(["image", "fragment"])
    folds = folds.set_index(["image", "fragment"])
    missing = folds.index.difference(keyed.index)
    if len(missing):
        raise ValueError(f"cross-fitted scores of unknown fragments: {list(missing[:3])}")
    keyed.loc[folds.index, columns] = folds[columns].to_numpy()
    log.info("%d fragments of %d images scored by models that did not see them",
             len(folds), folds.index.get_level_values(0).nunique())  # fmt: skip
    return keyed.reset_index()[table.columns]


def _split_masks(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which fragments are validation, test, and of non-faulty images in each."""
    nonfaulty = (table["status"] == "nonfaulty").to_numpy()
    masks = {
        "validation": (table["split"] == "validation").to_numpy(),
        "test": (table["split"] == "test").to_numpy(),
    }
    masks["normal_validation"] = masks["validation"] & nonfaulty
    masks["normal_test"] = masks["test"] & nonfaulty
    return masks


def _add_combined_scores(table: pd.DataFrame, normal: np.ndarray) -> dict:
    """Fit the combined scorers on the normal fragments, add their columns; their parameters."""
    fitted = {}
    for scorer in scorers.combined_scorers(scorer_columns(table)):
        fitted[scorer.name] = scorer.fit({c: table[c].to_numpy()[normal] for c in scorer.parts})
        table[scorer.name] = scorer.score(ScoredFragments(table))
    return fitted


def _label_table(
    table: pd.DataFrame, annotations: dict | None, size: int, min_overlap: float
) -> None:
    """The ``label`` column: from the annotations, else ``unknown`` for faulty images."""
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


def _orient(table: pd.DataFrame, names: list[str], validation_labels: pd.Series, rows):
    """Each score oriented so that higher is more anomalous, and its validation metrics.

    A scorer whose orientation is ``either`` is flipped when its validation AUROC is below ½
    (only when the validation images have annotated defects).
    """
    has_defects = bool((validation_labels == "likely").any())
    oriented, direction, validation = {}, {}, {}
    for name in names:
        values = table[name].to_numpy(dtype=np.float64)
        direction[name] = "high"
        if has_defects:
            m = _task_metrics(validation_labels, values[rows])
            if scorers.for_column(name).orientation == "either" and m["likely"]["auroc"] < 0.5:
                values = -values
                m = _task_metrics(validation_labels, values[rows])
                direction[name] = "low"
            validation[name] = m
        oriented[name] = values
    return oriented, direction, validation


def _any_pixel_scores(table: pd.DataFrame, oriented: dict, rows: np.ndarray) -> dict:
    """Every scorer under the standard protocol on the given fragments (none without
    annotations or defects)."""
    if "defect_pixels" not in table or not table["defect_pixels"][rows].any():
        return {}
    y = table["defect_pixels"].to_numpy()[rows]
    return {s: _any_pixel_metrics(y, values[rows]) for s, values in oriented.items()}


def _any_pixel_results(
    table, oriented, thresholds, flag, defects, size, splits, bootstrap=(0, 0), spacing=None
) -> dict:
    """The standard protocol on the test fragments (all of them, and those of the annotated
    images alone), and the probability of detection by defect size at the calibrated
    thresholds (flagging scorer and baseline)."""
    test = splits["test"]
    faulty = (table["status"] == "faulty").to_numpy()
    spacing = spacing or {}
    return {
        "protocol": "a fragment holding any defect pixel is positive; every fragment counts",
        "test": _any_pixel_scores(table, oriented, test),
        "test_annotated_images": _any_pixel_scores(table, oriented, test & faulty),
        "test_annotated_intervals": _intervals(table, oriented, test & faulty, flag, bootstrap),
        "defect_detection": {
            s: defect_detection(table[test], oriented[s][test] > thresholds[s], *defects, size)
            for s in dict.fromkeys([flag, "baseline"])
        },
        "probability_of_detection": {
            s: probability_of_detection(
                table[test], oriented[s][test] > thresholds[s], defects, size, spacing
            )
            for s in dict.fromkeys([flag, "baseline"])
        },
    }


def _intervals(table, oriented, rows, flag: str, bootstrap: tuple[int, int]) -> dict:
    """95 % intervals of every scorer's AUROC and recall at 1 % FPR on the annotated test
    images (standard protocol), by resampling whole images (fragments of one image are
    correlated), and the flagging scorer's lead over the filter on the same resamples
    (paired), with one sentence saying whether that lead is more than noise."""
    resamples, seed = bootstrap
    if not resamples or "defect_pixels" not in table or not table["defect_pixels"][rows].any():
        return {}
    y = table["defect_pixels"].to_numpy()[rows]
    images = table["image"].to_numpy()[rows]
    scores = {s: values[rows] for s, values in oriented.items()}
    drawn = metrics.resampled_metrics(y, scores, images, resamples, seed)
    out = {
        "images": int(len(np.unique(images))),
        "resamples": int(resamples),
        "seed": int(seed),
        "level": 0.95,
        "scorers": {
            s: {"auroc": metrics.interval(a), "recall_at_fpr_1pct": metrics.interval(r)}
            for s, (a, r) in drawn.items()
        },
    }
    if REFERENCE in drawn and flag in drawn:
        out["lead_over_filter"] = _lead(y, scores, drawn, flag, out["images"])
    return out


def _lead(y, scores, drawn, flag: str, images: int) -> dict:
    """The flagging scorer minus the filter: the test figures, their paired intervals, and
    a sentence."""
    lead = {"scorer": flag}
    for key, at, metric in (
        ("auroc", 0, metrics.roc_auc),
        ("recall_at_fpr_1pct", 1, lambda y_, s_: metrics.recall_at_fpr(y_, s_, 0.01)),
    ):
        value = metric(y, scores[flag]) - metric(y, scores[REFERENCE])
        lead[key] = {
            "value": float(value),
            "interval": metrics.interval(drawn[flag][at] - drawn[REFERENCE][at]),
        }
    a, r = lead["auroc"], lead["recall_at_fpr_1pct"]
    if flag == REFERENCE:
        low, high = metrics.interval(drawn[flag][0]) or (np.nan, np.nan)
        lead["beyond_noise"] = None
        lead["sentence"] = (
            f"The filter flags; its test AUROC on the {images} annotated test images is "
            f"{metrics.roc_auc(y, scores[flag]):.3f} (95 % interval {low:.3f} to {high:.3f}, "
            "by resampling images)"
        )
        return lead

    def beyond(d: dict) -> bool:
        return d["interval"] is not None and (d["interval"][0] > 0 or d["interval"][1] < 0)

    def words(d: dict, name: str, digits: int) -> str:
        low, high = d["interval"] or (np.nan, np.nan)
        value, low, high = (f"{v:+.{digits}f}" for v in (d["value"], low, high))
        return f"{value} {name} (95 % interval {low} to {high})"

    lead["beyond_noise"] = bool(beyond(a) or beyond(r))
    said = f"{words(a, 'AUROC', 3)} and {words(r, 'recall at 1 % FPR', 2)}"
    if not lead["beyond_noise"]:
        verdict = (
            f"within noise: {images} annotated test images cannot tell the two apart; "
            "annotate more test welds to know"
        )
    elif a["value"] >= 0 and r["value"] >= 0:
        verdict = "a lead beyond the noise of these images"
    else:
        verdict = "behind the filter beyond the noise of these images"
    lead["sentence"] = (
        f"Against the training-free filter on the {images} annotated test images, {flag} "
        f"scores {said}, by resampling images: {verdict}"
    )
    return lead


# The textbook filter is the reference: it needs no training and, on real weld films, no
# learned scorer of this project has beaten it yet. A few annotated validation crops measure
# an AUROC to about a hundredth and a recall at 1 % false-positive rate to a few hundredths,
# so another scorer replaces the filter only when, on those crops, it trails the filter in
# neither and leads it clearly in one: by more than CHOICE_MARGIN in AUROC or by more than
# RECALL_MARGIN in recall at 1 % FPR. Among such scorers the best AUROC (then recall) flags.
REFERENCE = "baseline"
CHOICE_MARGIN = 0.01
RECALL_MARGIN = 0.03
MIN_IMAGES = 2  # annotated validation images with defects needed to replace the filter


def _choice_metrics(names, validation: dict, validation_any: dict) -> tuple[dict, str]:
    """Validation AUROC and recall at 1 % FPR per scorer, and the protocol they come from."""
    if validation_any:
        table = {s: validation_any[s] for s in names if s in validation_any}
        return table, "the standard protocol"
    table = {s: validation[s]["likely"] for s in names if s in validation}
    return table, "likely defects"


def _choose_flag_statistic(
    names: list[str], validation: dict, validation_any: dict, images: int = MIN_IMAGES
) -> tuple[str, str]:
    """The flagging scorer, and one plain sentence saying why.

    Every scorer is a candidate, training-free ones included; the textbook filter
    (:data:`REFERENCE`) flags unless another leads it on the annotated validation images by
    the margin rule above. The metrics are the standard protocol's (a fragment with any
    defect pixel is positive, every fragment of the annotated validation images counts)
    when those images hold defects, else the overlap protocol's. Without annotated
    validation images the first of :data:`DEFAULT_FLAG` present flags; with fewer than
    :data:`MIN_IMAGES` of them (``images``: how many hold defects) the reference stays."""
    defaults = [s for s in DEFAULT_FLAG if s in names] or list(names)
    reference = REFERENCE if REFERENCE in names else defaults[0]
    table, protocol = _choice_metrics(names, validation, validation_any)
    ref = table.get(reference, {})
    if not table or ref.get("auroc") is None or np.isnan(ref["auroc"]):
        flag = defaults[0]
        return flag, (
            f"No annotated validation images to choose on: flagging with {flag}, the "
            "default (on real weld films the training-free filter led every learned "
            "scorer); annotate a few validation welds to let the workflow choose"
        )

    def leads(s: str) -> bool:
        m = table[s]
        if m.get("auroc") is None or np.isnan(m["auroc"]) or np.isnan(m["recall_at_fpr_1pct"]):
            return False
        auroc, recall = (
            m["auroc"] - ref["auroc"],
            m["recall_at_fpr_1pct"] - ref["recall_at_fpr_1pct"],
        )
        return auroc >= 0 and recall >= 0 and (auroc > CHOICE_MARGIN or recall > RECALL_MARGIN)

    def figures(s: str) -> str:
        m = table[s]
        return f"AUROC {m['auroc']:.3f}, recall at 1 % FPR {m['recall_at_fpr_1pct']:.3f}"

    leaders = [s for s in table if s != reference and leads(s)]
    if leaders and images < MIN_IMAGES:
        return reference, (
            f"Flagging with the training-free filter ({reference}): only {images} annotated "
            f"validation image(s) hold defects, too few to tell scorers apart ({MIN_IMAGES} "
            f"needed; {figures(reference)} there). Annotate another validation weld to let "
            "the workflow choose"
        )
    if leaders:
        flag = max(leaders, key=lambda s: (table[s]["auroc"], table[s]["recall_at_fpr_1pct"]))
        return flag, (
            f"Flagging with {flag}: on the annotated validation images ({protocol}) it found the "
            f"flaws better than the training-free filter ({figures(flag)} against "
            f"{figures(reference)}; the rule: behind in neither, ahead by more than "
            f"{CHOICE_MARGIN} AUROC or {RECALL_MARGIN} recall)"
        )
    learned = [s for s in table if s != reference and scorers.for_column(s).learned]
    best = max(
        learned or [s for s in table if s != reference] or [reference],
        key=lambda s: np.nan_to_num(table[s]["auroc"], nan=-1.0),
    )
    return reference, (
        f"Flagging with the training-free filter ({reference}): on the annotated validation images "
        f"({protocol}) no other scorer led it by more than {CHOICE_MARGIN} AUROC or "
        f"{RECALL_MARGIN} recall at 1 % FPR without trailing it in the other ({reference}: "
        f"{figures(reference)}; best learned, {best}: {figures(best)}). On these welds the "
        "learned models add nothing yet"
    )


def _images_with_defects(table: pd.DataFrame, splits: dict) -> int:
    """How many annotated validation images hold defects (those that choose the scorer)."""
    holding = splits["validation"] & (table["status"] == "faulty").to_numpy()
    if "defect_pixels" in table:
        holding &= table["defect_pixels"].to_numpy()
    return int(table.loc[holding, "image"].nunique())


def _test_results(
    table, oriented, thresholds, flag, annotations, size, validation_labels, masks
) -> dict:
    """Metrics of every scorer on the test fragments, flags, F1 and per-defect recall."""
    labelled_val, test = masks["validation"], masks["test"]
    test_labels = table["label"][test]
    out: dict = {"scorers": {s: _task_metrics(test_labels, oriented[s][test]) for s in oriented}}
    keep = test_labels.isin(("none", "likely")).to_numpy()
    y = (test_labels == "likely").to_numpy()[keep]
    flag_scores = oriented[flag]
    out["static"] = {
        "recall_likely": float(np.mean(table["flagged"][test].to_numpy()[keep][y])),
        "f1_likely": _f1_at(test_labels, flag_scores[test], thresholds[flag]),
    }
    out["adaptive_recall_likely"] = float(
        np.mean(table["flagged_adaptive"][test].to_numpy()[keep][y])
    )
    if (validation_labels == "likely").any():
        f1_threshold, f1_val = _f1_threshold(validation_labels, flag_scores[labelled_val])
        out["f1_optimal"] = {
            "uses_labels": "chosen on the annotated validation images",
            "threshold": f1_threshold,
            "f1_validation": f1_val,
            "f1_test": _f1_at(test_labels, flag_scores[test], f1_threshold),
        }
    test_table = table[test]
    out["defect_recall"] = {
        s: defect_recall(test_table, oriented[s][test] > thresholds[s], annotations, size)
        for s in dict.fromkeys([flag, "baseline"])
    }
    return out


def _write_roc(path, table, oriented, flag: str, test: np.ndarray, annotations) -> None:
    roc = _roc_table(table, oriented, flag, test, annotations is not None)
    write_text(path, roc.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def _roc_table(table, oriented, flag: str, test: np.ndarray, annotated: bool) -> pd.DataFrame:
    """The ROC curves of the flagging scorer and the baseline on the test fragments."""
    rows = []
    if annotated:
        test_labels = table["label"][test]
        keep = test_labels.isin(("none", "likely")).to_numpy()
        y = (test_labels == "likely").to_numpy()[keep]
        for s in dict.fromkeys([flag, "baseline"]):
            fpr, tpr, _ = metrics.roc_curve(y, oriented[s][test][keep])
            rows += [{"scorer": s, "fpr": f, "tpr": t} for f, t in zip(fpr, tpr, strict=True)]
    return pd.DataFrame(rows, columns=["scorer", "fpr", "tpr"])


def _counts(table: pd.DataFrame, masks: dict, validation_labels: pd.Series) -> dict:
    test = masks["test"]
    return {
        "images": {
            s: int(table.loc[table["split"] == s, "image"].nunique())
            for s in ("validation", "test")
        },
        "fragments": {
            "normal_validation": int(masks["normal_validation"].sum()),
            "validation": int(masks["validation"].sum()),
            "test": int(test.sum()),
        },
        "test_labels": {k: int(v) for k, v in table["label"][test].value_counts().items()},
        "validation_labels": {k: int(v) for k, v in validation_labels.value_counts().items()},
    }


def _flag(table, scores, threshold: float, normal: np.ndarray, target_fpr: float, adaptive_k):
    """Flag fragments (``flagged``: above the static threshold; ``flagged_adaptive``: above
    their crop's median + k MAD); return the robust z of every fragment and k."""
    table["flagged"] = scores > threshold
    z = _robust_z(table, scores)
    k = (
        float(adaptive_k)
        if adaptive_k != "auto"
        else metrics.threshold_at_fpr(z[normal], target_fpr)
    )
    table["flagged_adaptive"] = z > k
    return z, k


def _summary(table, splits, flag: dict, scored: tuple, extra: tuple) -> dict:
    """The calibration part of ``evaluation.json`` (no labels involved but the counts)."""
    oriented, direction, thresholds, validation = scored
    combined, z, k, rejected, annotated = extra
    normal_test = splits["normal_test"]
    return {
        "target_fpr": flag["target_fpr"],
        "flag_statistic": flag["flag"],
        "flag_statistic_chosen_by": flag["chosen_by"],
        "direction": direction,
        "thresholds": thresholds,
        "combined": combined,
        "adaptive_k": k,
        "counts": _counts(table, splits, table["label"][splits["validation"]]),
        "rejected_images": rejected,
        "annotations": annotated,
        "achieved_fpr_on_test_normals": {
            s: _achieved_fpr(v, thresholds[s], normal_test) for s, v in oriented.items()
        },
        "achieved_fpr_interval": _fpr_interval(
            table, oriented[flag["flag"]] > thresholds[flag["flag"]], normal_test, flag
        ),
        "adaptive": {"achieved_fpr_on_test_normals": _achieved_fpr(z, k, normal_test)},
        "validation": validation,
        "scorers": {},
    }


def _fpr_interval(table, flagged: np.ndarray, normal_test: np.ndarray, flag: dict):
    """95 % interval of the flagging scorer's false-positive rate on the sound test welds,
    by resampling those welds (None with fewer than two, or without resamples)."""
    resamples, seed = flag.get("bootstrap") or (0, 0)
    images = table["image"].to_numpy()[normal_test]
    per = pd.DataFrame({"image": images, "flagged": flagged[normal_test]}).groupby("image")
    return metrics.resampled_ratio(per["flagged"].sum(), per.size(), resamples, seed)


def _achieved_fpr(values: np.ndarray, threshold: float, normal_test: np.ndarray):
    return float(np.mean(values[normal_test] > threshold)) if normal_test.any() else None


def _pixel_spacing(images_csv) -> dict[str, float]:
    """Each image's pixel spacing in mm, when its file gave one (``images.csv``)."""
    if images_csv is None:
        return {}
    images = pd.read_csv(images_csv)
    if "pixel_spacing_mm" not in images:
        return {}
    known = images.dropna(subset=["pixel_spacing_mm"])
    return dict(
        zip(known["image"].astype(str), known["pixel_spacing_mm"].astype(float), strict=True)
    )


def _touches(finding, annotations: dict, masks: dict) -> bool:
    """Whether a finding's box holds a pixel of an annotated defect of its image."""
    x0, y0 = finding.x, finding.y
    x1, y1 = x0 + finding.width_px, y0 + finding.height_px
    mask = masks.get(finding.image)
    if mask is not None:
        return bool(mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)].any())
    return any(
        d.x < x1 and d.x1 > x0 and d.y < y1 and d.y1 > y0
        for d in annotations.get(finding.image, [])
    )


def false_calls(found, table, test, truth: tuple, size: int, bootstrap=(0, 0)) -> dict:
    """False calls of the test images at the flagging threshold: findings on sound welds and
    findings that touch no annotated defect, per image (with a 95 % interval by resampling
    images) and per metre of weld (each crop's long side, when every pixel size is known).
    ``truth``: annotations, defect masks, pixel sizes."""
    annotations, masks, spacing = truth
    images = sorted(table.loc[test, "image"].astype(str).unique())
    calls = dict.fromkeys(images, 0)
    for f in found:
        if f.image in calls and not _touches(f, annotations, masks):
            calls[f.image] += 1
    extent = table[test].groupby(["image", "crop"])[["y", "x"]].agg(["min", "max"])
    long_side = np.maximum(extent["y"]["max"] - extent["y"]["min"],
                           extent["x"]["max"] - extent["x"]["min"]) + size  # fmt: skip
    length_px = long_side.groupby(level="image").sum()
    per_image = np.array([calls[i] for i in images], dtype=np.float64)
    out = {
        "images": len(images),
        "false_calls": int(per_image.sum()),
        "per_image": float(per_image.mean()) if len(images) else None,
        "per_image_interval": None,
        "weld_length_m": None,
        "per_metre": None,
    }
    out["per_image_interval"] = metrics.resampled_ratio(per_image, np.ones(len(images)), *bootstrap)
    if images and all(spacing.get(i) for i in images):
        metres = sum(float(length_px[i]) * spacing[i] for i in images) / 1000.0
        out["weld_length_m"] = round(metres, 4)
        out["per_metre"] = float(per_image.sum() / metres) if metres else None
    return out


def _crop_reader(crop_files):
    """A function of an image id giving its crops (name: (pixels, (x, y))), read once."""
    from weld_anomaly.ingest import hdf5_io

    paths = {Path(p).name.removesuffix(".h5"): p for p in crop_files}

    @functools.lru_cache(maxsize=2)
    def crops(image: str) -> dict:
        if image not in paths:
            return {}
        return {c.name: (c.pixels, (c.x, c.y)) for c in hdf5_io.read_crops(paths[image])[0]}

    return crops


def _write_findings(table, scores, threshold, normal_val, size, source, paths, truth=None):
    """The findings of the validation and test images (see :mod:`.findings`); a summary
    (with the test images' false calls when ``truth`` (annotations, masks, test rows,
    bootstrap) is given). ``source``: scorer, images.csv, provenance (or None), the crop
    files the indications are found in."""
    flag, images_csv, provenance, crop_files = source
    normal = findings.NormalScores.of(scores[normal_val])
    spacing = _pixel_spacing(images_csv)
    found = findings.find(
        table, scores, table["flagged"].to_numpy(), threshold, normal, size, flag, spacing,
        _crop_reader(crop_files) if crop_files else None,
    )  # fmt: skip
    meta = {"scorer": flag, "threshold": float(threshold)}
    if provenance is not None:
        found = findings.with_provenance(found, provenance, scorers.for_column(flag).learned)
        meta["provenance"] = provenance
    findings.write(found, *paths, meta=meta)
    confidence = pd.Series([f.confidence for f in found], dtype=object)
    extra = {}
    if truth is not None:
        annotations, masks, test, bootstrap = truth
        extra["false_calls"] = false_calls(
            found, table, test, (annotations, masks, spacing), size, bootstrap
        )
    return extra | {
        "count": len(found),
        "images_with_findings": len({f.image for f in found}),
        "by_confidence": {k: int(v) for k, v in confidence.value_counts().items()},
        # the scores of the normal validation fragments, for findings in new radiographs
        "yardstick": normal.summary(),
    }


def _add_detection_results(
    result: dict, scored, defects, val_labels, bootstrap, spacing: dict
) -> None:
    """The test results that need annotations: per-task metrics, the standard protocol (with
    intervals from ``bootstrap``: resamples, seed), defects left outside every crop."""
    table, oriented, thresholds, flag, size, splits = scored
    annotations, defect_masks = defects
    test = _test_results(table, oriented, thresholds, flag, annotations, size, val_labels, splits)
    result["adaptive"]["recall_likely"] = test.pop("adaptive_recall_likely")
    result.update(test)
    result["any_pixel"] = _any_pixel_results(
        table, oriented, thresholds, flag, defects, size, splits, bootstrap, spacing
    )
    result["lost_defects"] = _warn_lost(lost_defects(table, annotations, defect_masks, size))


def _flag_choice(table, splits, names, oriented, validation, flag_statistic: str):
    """The flagging scorer, why, and every scorer's figures on the annotated validation
    images. The choice looks inside those images: does a scorer find the flaws among their
    sound fragments (not: does it tell one kind of image from another)."""
    faulty = (table["status"] == "faulty").to_numpy()
    validation_any = _any_pixel_scores(table, oriented, splits["validation"] & faulty)
    if flag_statistic != "auto":
        return flag_statistic, "configuration (evaluate.flag_statistic)", validation_any
    flag, why = _choose_flag_statistic(
        names, validation, validation_any, _images_with_defects(table, splits)
    )
    return flag, why, validation_any


def annotated_figures(
    manifest_csv: str | Path,
    images_csv: str | Path | None,
    score_csvs: Sequence[str | Path],
    annotations_path: str | Path | None,
    mask_pngs: Sequence[str | Path] = (),
    *,
    size: int,
    min_overlap: float,
    split: str = "validation",
) -> tuple[dict, pd.DataFrame]:
    """Every scorer's standard-protocol figures on the annotated images of one split, and
    the flagging scorer the validation images choose: the evaluation of a sweep's trial
    (no thresholds, findings or report). ``score_csvs`` must hold the validation images
    (combined scorers are fitted on their sound fragments); only the images of ``split``
    are measured. Also returns those images' fragments: image, fragment, ``defect_pixels``
    and every scorer oriented so that higher is more anomalous."""
    if not annotations_path:
        raise ValueError("annotated images are needed to measure the scorers")
    table, _ = _scores_table(manifest_csv, images_csv, score_csvs)
    splits = _split_masks(table)
    if not splits["normal_validation"].any():
        raise ValueError("no non-faulty validation fragments to fit the combined scorers on")
    _add_combined_scores(table, splits["normal_validation"])
    names = scorer_columns(table)
    annotations = load_annotations(annotations_path)
    _label_table(table, annotations, size, min_overlap)
    table["defect_pixels"] = pixel_labels(table, annotations, load_masks(mask_pngs), size)
    val_labels = table["label"][splits["validation"]]
    oriented, _, validation = _orient(table, names, val_labels, splits["validation"])
    flag, why, _ = _flag_choice(table, splits, names, oriented, validation, "auto")
    rows = splits[split] & (table["status"] == "faulty").to_numpy()
    measured = table.loc[rows, ["image", "fragment", "defect_pixels"]].reset_index(drop=True)
    for name in names:
        measured[name] = oriented[name][rows]
    figures = {
        "split": split,
        "images": int(measured["image"].nunique()),
        "fragments": int(rows.sum()),
        "positives": int(measured["defect_pixels"].sum()),
        "scorers": _any_pixel_scores(table, oriented, rows),
        "flag": flag,
        "chosen_by": why,
    }
    return figures, measured


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
    mask_pngs: Sequence[str | Path] = (),
    findings_out: tuple[str | Path, str | Path] | None = None,
    cross_fitted: str | Path | None = None,
    headline_out: str | Path | None = None,
    bootstrap: tuple[int, int] = (1000, 0),
    provenance: dict | None = None,
    crop_files: Sequence[str | Path] = (),
) -> dict:
    """Label, calibrate, choose and measure; write the fragment table and the metrics JSON
    (``headline_out``: the figures of :func:`headline`, for `dvc metrics show`).

    ``mask_pngs``: binary defect masks (``<image>.png``), else the annotation boxes are the
    defects' pixels. ``findings_out``: ``(csv, json)`` for the findings (:mod:`.findings`),
    their indications found in ``crop_files`` (``<image>.h5``). ``cross_fitted``: scores of
    the annotated images a supervised model learnt from, by models that did not see them
    (:func:`cross_fit`). ``bootstrap``: resamples and seed of the 95 % intervals (0: none);
    ``provenance``: every finding's audit fields."""
    table, rejected = _scores_table(manifest_csv, images_csv, score_csvs, cross_fitted)
    splits = _split_masks(table)
    normal_val = splits["normal_validation"]
    if not normal_val.any():
        raise ValueError("no non-faulty validation fragments to calibrate thresholds on")
    combined, names = _add_combined_scores(table, normal_val), scorer_columns(table)
    if flag_statistic != "auto" and flag_statistic not in names:
        raise ValueError(f"unknown flag statistic {flag_statistic!r}")
    annotations = load_annotations(annotations_path) if annotations_path else None
    _label_table(table, annotations, size, min_overlap)
    defect_masks = load_masks(mask_pngs)
    if annotations is not None:
        table["defect_pixels"] = pixel_labels(table, annotations, defect_masks, size)
    val_labels = table["label"][splits["validation"]]
    oriented, direction, validation = _orient(table, names, val_labels, splits["validation"])
    flag_statistic, chosen_by, validation_any = _flag_choice(
        table, splits, names, oriented, validation, flag_statistic
    )

    thresholds = {s: metrics.threshold_at_fpr(oriented[s][normal_val], target_fpr) for s in names}
    flag_scores, flag_threshold = oriented[flag_statistic], thresholds[flag_statistic]
    z, k = _flag(table, flag_scores, flag_threshold, normal_val, target_fpr, adaptive_k)
    result = _summary(
        table,
        splits,
        dict(flag=flag_statistic, chosen_by=chosen_by, target_fpr=target_fpr, bootstrap=bootstrap),
        (oriented, direction, thresholds, validation),
        (combined, z, k, rejected, annotations is not None),
    )
    if annotations is not None:
        scored = (table, oriented, thresholds, flag_statistic, size, splits)
        defects = (annotations, defect_masks)
        spacing = _pixel_spacing(images_csv)
        _add_detection_results(result, scored, defects, val_labels, bootstrap, spacing)
        result["any_pixel"]["validation_annotated_images"] = validation_any
    if roc_out is not None:
        _write_roc(roc_out, table, oriented, flag_statistic, splits["test"], annotations)
    if findings_out is not None:
        known = (annotations, defect_masks, splits["test"], bootstrap)
        truth = None if annotations is None else known
        result["findings"] = _write_findings(
            table, flag_scores, flag_threshold, normal_val, size,
            (flag_statistic, images_csv, provenance, crop_files), findings_out, truth,
        )  # fmt: skip
    result = _clean(result)
    _write_results(table, result, fragments_out, metrics_out)
    if headline_out is not None:
        write_text(headline_out, json.dumps(headline(result), indent=2) + "\n")
    return result


def headline(result: dict) -> dict:
    """The run's few headline figures (the full metrics stay in the evaluation JSON): the
    flagging scorer, its standard-protocol test AUROC and recall at 1 % FPR, its validation
    AUROC on annotated images, the filter's test AUROC beside it, the share of sound test
    welds' fragments it flags, the number of findings, and the defect size it finds 90 % of
    the time with 95 % confidence (a90/95, in mm when the pixel size is known)."""
    flag = result["flag_statistic"]
    protocol = result.get("any_pixel") or {}

    def figure(part: str, scorer: str, key: str):
        value = (protocol.get(part) or {}).get(scorer, {}).get(key)
        return None if value is None else round(float(value), 4)

    false_alarms = (result.get("achieved_fpr_on_test_normals") or {}).get(flag)
    return {
        "flag_scorer": flag,
        "test_auroc": figure("test", flag, "auroc"),
        "test_recall_1pct_fpr": figure("test", flag, "recall_at_fpr_1pct"),
        "validation_auroc": figure("validation_annotated_images", flag, "auroc"),
        "filter_test_auroc": figure("test", REFERENCE, "auroc"),
        "sound_false_alarms": None if false_alarms is None else round(float(false_alarms), 4),
        "findings": (result.get("findings") or {}).get("count"),
        "pod_a90_95": _rounded(
            ((protocol.get("probability_of_detection") or {}).get(flag) or {}).get("a90_95")
        ),
    }


def _rounded(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def _write_results(table: pd.DataFrame, result: dict, fragments_out, metrics_out) -> None:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    write_text(fragments_out, buffer.getvalue())
    write_text(metrics_out, json.dumps(result, indent=2) + "\n")
    if result["scorers"]:
        log.info(
            "flagging with %s: test AUROC (likely) %.3f; baseline %.3f",
            result["flag_statistic"],
            result["scorers"][result["flag_statistic"]]["likely"]["auroc"] or np.nan,
            result["scorers"]["baseline"]["likely"]["auroc"] or np.nan,
        )
