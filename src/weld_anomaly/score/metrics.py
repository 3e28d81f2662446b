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


SELECT_FROM = 100_000  # arrays this long or longer: the median by bracketing (median)


def median(values: np.ndarray) -> np.floating:
    """``np.median(values)`` (the whole array), bit for bit, in a third of the time on
    maps of millions of pixels (:func:`_bracketed_median`; NumPy's where it cannot)."""
    a = np.asarray(values).ravel()
    found = _bracketed_median(a) if a.size >= SELECT_FROM else None
    return np.median(a) if found is None else found


def _bracketed_median(a: np.ndarray) -> np.floating | None:
    """The median of a 1-D array by partitioning only the values near it, or None.

    A sorted sample of ~16,000 values brackets the middle; one pass counts the values
    below the bracket and gathers those inside it, and only those are partitioned. None
    where the bracket misses the middle (a sample unlike the whole) or NaN is among the
    values. Exact either way: the sample only decides how much is partitioned.
    """
    n = a.size
    sample = np.sort(a[:: max(1, n // 16384)])
    low, high = (n - 1) // 2, n // 2  # the middle (one value or two)
    at = low / n * sample.size
    margin = 4.0 * np.sqrt(sample.size) + 16  # ~8 sd of a random sample's rank
    lo = sample[max(0, int(at - margin))]
    hi = sample[min(sample.size - 1, int(at + margin))]
    below = np.count_nonzero(a < lo)
    inside = a[(a >= lo) & (a <= hi)]
    if a.dtype.kind == "f" and below + inside.size + np.count_nonzero(a > hi) < n:
        return None  # NaN among the values
    if not (below <= low and below + inside.size > high):
        return None
    part = np.partition(inside, [low - below, high - below])
    return np.mean(part[low - below : high - below + 1])  # as np.median: one, or two's mean


def robust_location_scale(values: np.ndarray) -> tuple[float, float]:
    """The median and 1.4826 × the median absolute deviation (a robust standard deviation)."""
    med = float(median(values))
    return med, max(1.4826 * float(median(np.abs(values - med))), 1e-12)


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(values - median) / robust standard deviation``: a z-score outliers barely move."""
    med, scale = robust_location_scale(values)
    return (values - med) / scale


# -- intervals by resampling images ------------------------------------------------------
# Fragments of one image are correlated (one film's grain, one weld's flaws), so intervals
# come from resampling whole images with replacement: a resample weights each fragment by
# how many times its image was drawn. The metrics below are those of the fragments
# repeated that many times, computed for every resample at once on one sorting.


def _groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order of ``scores`` from the highest down and the start of each run of ties."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    starts = np.r_[0, np.nonzero(np.diff(s))[0] + 1]
    return order, starts


def weighted_auroc_and_recall(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, fpr: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and recall at ``fpr`` for each row of ``weights`` (B, N): the figures of
    :func:`roc_auc` and :func:`recall_at_fpr` on the fragments repeated ``weights`` times
    (integer weights). ``nan`` where a row leaves a class empty."""
    labels, scores = _check(labels, scores)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    order, starts = _groups(scores)
    w = weights[:, order]
    y = labels[order]
    pos = np.add.reduceat(w * y, starts, axis=1)  # (B, G) positive weight per tie group
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # groups run from the highest score down: negatives below a group are those after it
        below = n_neg[:, None] - np.cumsum(neg, axis=1)
        auroc = (pos * (below + 0.5 * neg)).sum(1) / (n_pos * n_neg)
        # the threshold: the score of the (allowed+1)-th highest negative; positives count
        # when strictly above it, i.e. in the groups before the one holding it
        allowed = np.floor(fpr * n_neg)
        holding = np.argmax(np.cumsum(neg, axis=1) > allowed[:, None], axis=1)
        before = np.cumsum(pos, axis=1) - pos
        recall = before[np.arange(len(w)), holding] / n_pos
    empty = (n_pos == 0) | (n_neg == 0)
    auroc[empty] = np.nan
    recall[empty] = np.nan
    return auroc, recall


def resampled_metrics(
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    images: np.ndarray,
    n: int,
    seed: int,
    fpr: float = 0.01,
    chunk_cells: int = 4_000_000,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each scorer's AUROC and recall at ``fpr`` on ``n`` resamples of the images (the same
    resamples for every scorer, so differences between scorers are paired), computed a few
    resamples at a time (``chunk_cells`` weights in memory)."""
    counts, index = _image_counts(images, n, seed)
    step = max(1, chunk_cells // max(len(labels), 1))
    out = {}
    for name, values in scores.items():
        parts = [
            weighted_auroc_and_recall(labels, values, counts[i : i + step][:, index], fpr)
            for i in range(0, n, step)
        ]
        out[name] = (np.concatenate([a for a, _ in parts]), np.concatenate([r for _, r in parts]))
    return out


def _image_counts(images: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """How many times each image is drawn in each of ``n`` resamples (n, images), and each
    fragment's image."""
    codes, index = np.unique(np.asarray(images), return_inverse=True)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(codes), (n, len(codes)))
    counts = np.zeros((n, len(codes)))
    np.add.at(counts, (np.arange(n)[:, None], drawn), 1.0)
    return counts, index


def image_resamples(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` resamples of the images (with replacement), as fragment weights (n, N)."""
    counts, index = _image_counts(images, n, seed)
    return counts[:, index]


def resampled_ratio(
    numerators: np.ndarray, denominators: np.ndarray, n: int, seed: int
) -> list[float] | None:
    """95 % interval of ``sum(numerators) / sum(denominators)`` (one entry per image) over
    ``n`` resamples of the images (None with fewer than two images or no resamples)."""
    numerators = np.asarray(numerators, dtype=np.float64)
    denominators = np.asarray(denominators, dtype=np.float64)
    if not n or len(numerators) < 2:
        return None
    drawn = np.random.default_rng(seed).integers(0, len(numerators), (n, len(numerators)))
    return interval(numerators[drawn].sum(axis=1) / denominators[drawn].sum(axis=1))


def interval(values: np.ndarray, level: float = 0.95) -> list[float] | None:
    """The central ``level`` percentile interval of finite ``values`` (None without any)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
