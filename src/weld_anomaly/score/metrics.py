"""Detection metrics on fragment scores (higher score = more anomalous).

Implemented with NumPy and checked against their textbook definitions in the tests:
the area under the ROC curve (ties count one half, as in the Mann-Whitney U statistic),
average precision (the step-wise area under the precision-recall curve, as scikit-learn
computes it), and the recall reached at a fixed false-positive rate.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    return labels, scores


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties: ½).

    ``nan`` when either class is empty.
    """
    labels, scores = _check(labels, scores)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds, from the highest score down."""
    labels, scores = _check(labels, scores)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    n_pos, n_neg = max(int(labels.sum()), 1), max(int((~labels).sum()), 1)
    return (np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos], np.r_[np.inf, s[distinct]])


def precision_recall_curve(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and thresholds, from the highest score down."""
    labels, scores = _check(labels, scores)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    predicted = distinct + 1
    precision = tps / predicted
    recall = tps / max(int(labels.sum()), 1)
    return precision, recall, s[distinct]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Sum over thresholds of (recall step) × precision; ``nan`` without positives."""
    labels, scores = _check(labels, scores)
    if not labels.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(labels, scores)
    steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(steps * precision))


def recall_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Recall when the threshold lets through at most ``fpr`` of the negatives."""
    labels, scores = _check(labels, scores)
    negatives, positives = scores[~labels], scores[labels]
    if len(negatives) == 0 or len(positives) == 0:
        return float("nan")
    allowed = int(np.floor(fpr * len(negatives)))
    ordered = np.sort(negatives)[::-1]
    # a threshold strictly above the (allowed+1)-th highest negative
    threshold = ordered[allowed] if allowed < len(ordered) else -np.inf
    return float(np.mean(positives > threshold))


def threshold_at_fpr(normal_scores: np.ndarray, fpr: float) -> float:
    """The score above which at most ``fpr`` of ``normal_scores`` lie."""
    normal = np.sort(np.asarray(normal_scores, dtype=np.float64))[::-1]
    if len(normal) == 0:
        return float("nan")
    allowed = int(np.floor(fpr * len(normal)))
    return float(normal[min(allowed, len(normal) - 1)])


def robust_location_scale(values: np.ndarray) -> tuple[float, float]:
    """The median and 1.4826 × the median absolute deviation (a robust standard deviation)."""
    med = float(np.median(values))
    return med, max(1.4826 * float(np.median(np.abs(values - med))), 1e-12)


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(values - median) / robust standard deviation``: a z-score outliers barely move."""
    med, scale = robust_location_scale(values)
    return (values - med) / scale
