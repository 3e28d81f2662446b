import itertools

import numpy as np
import pytest

from weld_anomaly.score import metrics


def brute_auc(labels, scores):
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    total = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return total / (len(pos) * len(neg))


def test_auroc_equals_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    labels = rng.random(200) < 0.2
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding creates ties
    assert metrics.roc_auc(labels, scores) == pytest.approx(brute_auc(labels, scores))
    assert metrics.roc_auc([True, False], [1.0, 0.0]) == 1.0
    assert metrics.roc_auc([True, False], [0.0, 1.0]) == 0.0
    assert np.isnan(metrics.roc_auc([False, False], [0.1, 0.2]))


def test_average_precision_hand_example():
    # ranking: P N P N -> precision 1 at recall .5, 2/3 at recall 1
    ap = metrics.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_roc_curve_ends_and_is_monotonic():
    fpr, tpr, _ = metrics.roc_curve([1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1])
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_threshold_and_recall_at_fpr():
    normal = np.arange(1000, dtype=float)
    t = metrics.threshold_at_fpr(normal, 0.01)
    assert np.mean(normal > t) == pytest.approx(0.01)
    labels = np.r_[np.zeros(1000, bool), np.ones(10, bool)]
    scores = np.r_[normal, [995, 996, 2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007]]
    assert metrics.recall_at_fpr(labels, scores, 0.001) == pytest.approx(0.8)


def test_auroc_hand_computed_case():
    # positives 0.9 and 0.4 against negatives 0.5, 0.3, 0.1: 0.9 wins 3, 0.4 wins 2 of 6
    assert metrics.roc_auc([1, 1, 0, 0, 0], [0.9, 0.4, 0.5, 0.3, 0.1]) == pytest.approx(5 / 6)


def test_threshold_calibration_on_a_known_distribution():
    rng = np.random.default_rng(7)
    normal = rng.normal(0.0, 1.0, 200_000)
    for fpr, z in ((0.01, 2.3263), (0.001, 3.0902)):
        t = metrics.threshold_at_fpr(normal, fpr)
        assert t == pytest.approx(z, abs=0.03)
        fresh = rng.normal(0.0, 1.0, 200_000)
        assert np.mean(fresh > t) == pytest.approx(fpr, rel=0.15)


def test_a_positive_tied_with_the_threshold_is_not_flagged():
    """Recall at a fixed FPR flags strictly above the threshold: a positive that ties the
    highest allowed negative does not count (``>=`` would count it)."""
    negatives = np.arange(1000, dtype=float)  # 1 % FPR lets 10 through: threshold 989
    labels = np.r_[np.zeros(1000, bool), np.ones(2, bool)]
    tie = np.r_[negatives, [989.0, 989.5]]
    assert metrics.recall_at_fpr(labels, tie, 0.01) == 0.5
    assert metrics.threshold_at_fpr(negatives, 0.01) == 989.0
    # and the calibrated threshold is exceeded by exactly 1 % of the normal scores
    assert np.mean(negatives > metrics.threshold_at_fpr(negatives, 0.01)) == 0.01


def test_resampled_metrics_are_those_of_the_repeated_fragments():
    """Weights from resampling images give exactly the AUROC and recall at 1 % FPR of the
    fragments repeated that many times (ties included)."""
    rng = np.random.default_rng(3)
    n = 900
    images = rng.integers(0, 12, n)
    labels = rng.random(n) < 0.15
    scores = np.round(rng.normal(labels * 1.2, 1.0), 1)  # coarse: many ties
    weights = metrics.image_resamples(images, 20, seed=5)
    auroc, recall = metrics.weighted_auroc_and_recall(labels, scores, weights, 0.01)
    for row, w in enumerate(weights):
        take = np.repeat(np.arange(n), w.astype(int))
        y, s = labels[take], scores[take]
        assert auroc[row] == pytest.approx(metrics.roc_auc(y, s), abs=1e-12)
        assert recall[row] == pytest.approx(metrics.recall_at_fpr(y, s, 0.01), abs=1e-12)
    # the same seed draws the same resamples; every image keeps its fragments together
    assert np.array_equal(weights, metrics.image_resamples(images, 20, seed=5))
    for image in range(12):
        assert (np.ptp(weights[:, images == image], axis=1) == 0).all()


def test_an_interval_holds_the_central_share_of_finite_values():
    values = np.r_[np.arange(1000.0), np.nan]
    low, high = metrics.interval(values)
    assert low == pytest.approx(24.975) and high == pytest.approx(974.025)
    assert metrics.interval([np.nan]) is None


def test_intervals_by_resampling_images_cover_the_true_auroc():
    """Welds differ (each has its own level and flaw contrast): the interval from
    resampling 40 welds covers the AUROC of the whole population in >= 90 % of repeats."""
    rng = np.random.default_rng(11)

    def welds(n, per=150):
        level = np.repeat(rng.normal(0, 0.6, n), per)
        contrast = np.repeat(rng.uniform(0.5, 2.5, n), per)
        labels = rng.random(n * per) < 0.12
        scores = level + rng.normal(0, 1, n * per) + contrast * labels
        return labels, scores, np.repeat(np.arange(n), per)

    labels, scores, _ = welds(4000, 50)
    truth = metrics.roc_auc(labels, scores)
    covered = 0
    repeats = 100
    for _ in range(repeats):
        y, s, images = welds(40)
        auroc, _ = metrics.resampled_metrics(y, {"s": s}, images, 300, int(rng.integers(1e6)))["s"]
        low, high = metrics.interval(auroc)
        covered += low <= truth <= high
    assert covered >= 0.9 * repeats, covered


def _median_cases():
    rng = np.random.default_rng(5)
    yield rng.normal(0, 1, 300_001).astype(np.float32)  # odd: one middle value
    yield rng.normal(0, 1, (600, 500)).astype(np.float32)  # even: the mean of two
    yield rng.exponential(1.0, 250_000)  # float64, skewed
    yield rng.integers(0, 7, 200_000)  # integers, nothing but ties
    yield np.rint(rng.normal(0, 3, 150_001)).astype(np.float32)  # ties at the middle
    yield np.sort(rng.random(400_000))  # already ordered
    yield np.full(120_000, 2.5, np.float32)  # constant


def test_the_bracketed_median_is_numpys():
    for values in _median_cases():
        found = metrics._bracketed_median(values.ravel())
        assert found is not None  # the quick path, not the fallback
        expected = np.median(values)
        assert found.dtype == expected.dtype
        assert found == expected
        assert metrics.median(values) == expected


def test_a_median_the_sample_cannot_bracket_is_still_numpys():
    n = 200_000
    stride = n // 16384
    values = np.arange(n, dtype=np.float64) + 1e6  # the sample sees only the large values...
    values[np.arange(n) % stride != 0] = np.arange(n - len(values[::stride]))  # ...others small
    assert metrics._bracketed_median(values) is None
    assert metrics.median(values) == np.median(values)
    values = np.random.default_rng(0).random(150_000)
    values[1234] = np.nan  # NaN, as NumPy says
    assert metrics._bracketed_median(values) is None
    assert np.isnan(metrics.median(values))
    short = np.array([3.0, 1.0, 2.0, 10.0])
    assert metrics.median(short) == np.median(short)
