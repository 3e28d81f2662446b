"""Probability of detection: the hit/miss fit recovers a known curve and says when it can't."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from weld_anomaly.ingest.manifests import Annotation
from weld_anomaly.score import pod
from weld_anomaly.score.evaluation import probability_of_detection


def _hit_miss(n: int, a50: float, slope: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = np.exp(rng.uniform(math.log(a50 / 6), math.log(a50 * 6), n))
    p = 1 / (1 + np.exp(-slope * np.log(sizes / a50)))
    return sizes, rng.random(n) < p


def test_the_fit_recovers_a_known_pod_curve_and_its_bound_lies_beyond_a90():
    a50, slope = 0.5, 3.0  # mm; a90 = a50 * exp(ln 9 / slope) = 1.04 mm
    sizes, hits = _hit_miss(2000, a50, slope)
    fit = pod.fit(sizes, hits, "mm")
    assert fit["converged"] and fit["warnings"] == []
    assert fit["a50"] == pytest.approx(a50, rel=0.08)
    assert fit["a90"] == pytest.approx(a50 * math.exp(math.log(9) / slope), rel=0.1)
    assert fit["a90"] < fit["a90_95"] < fit["a90"] * 1.15  # many targets: a narrow band
    assert fit["targets"] == 2000 and fit["hits"] == int(hits.sum())
    # the curve: POD rising, its lower bound below it, 90 % reached at a90/95 by the bound
    curve = fit["curve"]
    assert np.all(np.diff(curve["pod"]) >= 0)
    assert np.all(np.array(curve["lower_95"]) <= np.array(curve["pod"]) + 1e-9)
    json.dumps(fit)  # goes into the metrics JSON as it is


def test_few_targets_widen_the_bound_and_are_flagged():
    sizes, hits = _hit_miss(40, 0.5, 3.0, seed=2)
    fit = pod.fit(sizes, hits, "mm")
    assert any("at least 60 hit/miss targets" in w for w in fit["warnings"])
    many = pod.fit(*_hit_miss(2000, 0.5, 3.0), "mm")
    if fit["a90_95"] is not None:
        assert fit["a90_95"] / fit["a90"] > many["a90_95"] / many["a90"]
    assert pod.summary(fit).startswith(f"{fit['hits']} of 40 annotated defects found")


@pytest.mark.parametrize(
    ("sizes", "hits", "words"),
    [
        ([1, 2, 3, 4], [True] * 4, "every defect was found"),
        ([1, 2, 3, 4], [False] * 4, "every defect was missed"),
        ([1, 2, 3, 4], [False, False, True, True], "separate completely by size"),
        ([], [], "absent"),
    ],
)
def test_no_curve_when_the_data_cannot_give_one(sizes, hits, words):
    fit = pod.fit(np.array(sizes, float), np.array(hits, bool), "px")
    assert fit["a90"] is None and fit["a90_95"] is None and "curve" not in fit
    assert any(words in w for w in fit["warnings"]), fit["warnings"]


def test_defects_are_sized_in_mm_when_every_image_has_a_pixel_size():
    """Boxes as targets: their longest side, times the image's pixel size."""
    table = pd.DataFrame({"image": ["a", "a", "b"], "y": [0, 0, 0], "x": [0, 64, 0]})
    flagged = np.array([True, False, False])
    annotations = {
        "a": [Annotation(10, 10, 20, 5, "likely"), Annotation(100, 10, 8, 8, "likely")],
        "b": [Annotation(10, 10, 40, 10, "likely")],
    }
    both = probability_of_detection(table, flagged, (annotations, {}), 64, {"a": 0.05, "b": 0.1})
    assert both["unit"] == "mm" and both["targets"] == 3 and both["hits"] == 1
    one = probability_of_detection(table, flagged, (annotations, {}), 64, {"a": 0.05})
    assert one["unit"] == "px"  # b's pixel size unknown: every size in px
    assert "3 annotated defects" in both["sentence"]


def test_figures_beyond_the_sizes_annotated_are_bounds_not_numbers():
    """Nearly every defect found: a50 would be an extrapolation below the smallest."""
    sizes = np.linspace(1.0, 10.0, 200)
    hits = np.ones(len(sizes), bool)
    hits[[0, 7, 30]] = False  # a few misses among the smaller ones, hits between them
    fit = pod.fit(sizes, hits, "mm")
    assert fit["a50"] is None and fit["a50_outside"] == "below"
    words = pod.size_text(fit, "a50")
    assert words == f"under {sizes.min():.2f} mm (the smallest defect annotated)"
