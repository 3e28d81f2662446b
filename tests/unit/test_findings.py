"""Findings: flagged fragments merged into what an operator acts on, and the worklist."""

import json

import numpy as np
import pandas as pd
import pytest

from weld_anomaly.score import findings


def test_an_outline_is_the_exact_union_of_the_squares():
    # an L of three 64 px fragments at stride 32 and a lone one
    assert findings.outline(np.array([[100, 200], [100, 232], [132, 232]]), 64) == [
        [296.0, 196.0],
        [232.0, 196.0],
        [232.0, 164.0],
        [200.0, 164.0],
        [200.0, 100.0],
        [296.0, 100.0],
    ]
    assert findings.outline(np.array([[400, 500]]), 64) == [
        [564.0, 464.0],
        [500.0, 464.0],
        [500.0, 400.0],
        [564.0, 400.0],
    ]


def test_overlapping_flags_become_one_finding_with_size_centre_and_confidence():
    table = pd.DataFrame(
        {
            "image": ["a"] * 5 + ["b"],
            "crop": ["weld"] * 4 + ["root", "weld"],
            "y": [100, 100, 132, 400, 100, 0],
            "x": [200, 232, 232, 500, 200, 0],
        }
    )
    scores = np.array([5.0, 9.0, 6.0, 3.5, 8.0, 1.0])
    flagged = np.array([True, True, True, True, True, False])
    normal = np.random.default_rng(0).normal(0, 1, 10_000)
    found = findings.find(table, scores, flagged, 3.0, normal, 64, "fused", {"a": 0.1})
    assert [(f.image, f.crop, f.finding) for f in found] == [
        ("a", "weld", 1),  # peak 9: the L of three fragments
        ("a", "root", 2),  # same place, another crop: its own finding
        ("a", "weld", 3),
    ]
    first = found[0]
    assert (first.x, first.y, first.width_px, first.height_px, first.fragments) == (
        200, 100, 96, 96, 3,
    )  # fmt: skip
    assert first.length_mm == pytest.approx(9.6) and first.breadth_mm == pytest.approx(9.6)
    # the centre leans towards the strongest fragment (at x 232..296, y 100..164)
    assert 232 < first.centre_x < 264 and 100 + 32 < first.centre_y < 164
    assert first.margin == pytest.approx(6.0, rel=0.05)  # (9 - 3) / σ of N(0, 1)
    assert first.false_alarm_rate == 0 and first.confidence == "high"
    weak = found[2]
    assert weak.confidence == "low" and weak.false_alarm_rate == pytest.approx(
        np.mean(normal >= 3.5)
    )
    assert not any(f.image == "b" for f in found)  # nothing flagged there


def test_the_worklist_ranks_welds_by_their_strongest_finding(tmp_path):
    table = pd.DataFrame(
        {"image": ["a", "b", "b", "c"], "crop": "w", "y": [0, 0, 500, 0], "x": [0, 0, 0, 0]}
    )
    normal = np.random.default_rng(1).normal(0, 1, 5000)
    found = findings.find(table, np.array([4.0, 9.0, 4.0, 0.0]), np.array([1, 1, 1, 0], bool),
                          3.0, normal, 64, "fused")  # fmt: skip
    rows = findings.worklist(["c", "a", "b", "d"], found)
    assert [r["image"] for r in rows] == ["b", "a", "c", "d"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["findings"] == 2 and rows[0]["largest_length_mm"] is None
    assert rows[2]["findings"] == 0 and rows[2]["strongest_margin"] is None
    findings.write(found, tmp_path / "f.csv", tmp_path / "f.json", meta={"scorer": "fused"})
    csv = pd.read_csv(tmp_path / "f.csv")
    assert list(csv.columns) == list(findings.COLUMNS) and len(csv) == 3
    data = json.loads((tmp_path / "f.json").read_text())
    assert data["scorer"] == "fused" and len(data["findings"][0]["outline"]) == 4


def test_the_worklist_ranks_by_margin_not_by_number_or_size_of_findings():
    """Weld a: three findings, the largest, all weak; b: one small strong finding; c: two
    medium ones. Ranked by the strongest margin: b, c, a (by count it would be a, c, b)."""
    rows_y = [0, 400, 800, 0, 0, 400]
    table = pd.DataFrame(
        {"image": ["a", "a", "a", "b", "c", "c"], "crop": "w", "y": rows_y, "x": [0] * 6}
    )
    # a's first finding spans two fragments side by side: the largest of the run
    table = pd.concat(
        [table, pd.DataFrame({"image": ["a"], "crop": "w", "y": [0], "x": [32]})],
        ignore_index=True,
    )
    scores = np.array([3.5, 3.4, 3.3, 12.0, 6.0, 5.5, 3.5])
    normal = np.random.default_rng(1).normal(0, 1, 5000)
    found = findings.find(table, scores, np.ones(len(table), bool), 3.0, normal, 64, "x")
    rows = findings.worklist(["a", "b", "c"], found)
    assert [r["image"] for r in rows] == ["b", "c", "a"]
    assert [r["findings"] for r in rows] == [1, 2, 3]
    margins = [r["strongest_margin"] for r in rows]
    assert margins == sorted(margins, reverse=True) and margins[0] > 3 * margins[2]


def test_every_finding_records_what_made_it(tmp_path):
    """The audit trail: software, commit, model digests (learned scorers only), the
    configuration's digest and the date, in findings.csv and the weld page's line."""
    import hashlib

    from weld_anomaly.provenance import config_sha256, record
    from weld_anomaly.report.viewer import _made_by

    model = tmp_path / "detector.keras"
    model.write_bytes(b"weights")
    provenance = record({"detector": model}, {"a": 1, "b": [2, 3]})
    assert provenance["models"] == {"detector": hashlib.sha256(b"weights").hexdigest()}
    assert provenance["config_sha256"] == config_sha256({"b": [2, 3], "a": 1})  # key order
    assert provenance["software"].startswith("weld-anomaly ")
    table = pd.DataFrame({"image": ["a"], "crop": ["weld"], "y": [0], "x": [0]})
    found = findings.find(table, np.array([9.0]), np.array([True]), 3.0,
                          np.random.default_rng(0).normal(0, 1, 1000), 64, "detector")  # fmt: skip
    learned = findings.with_provenance(found, provenance, learned=True)
    findings.write(
        learned, tmp_path / "f.csv", tmp_path / "f.json", meta={"provenance": provenance}
    )
    row = pd.read_csv(tmp_path / "f.csv", keep_default_na=False).iloc[0]
    assert row["models"] == f"detector:{hashlib.sha256(b'weights').hexdigest()}"
    assert row["config_sha256"] == provenance["config_sha256"]
    assert row["evaluated"] == provenance["evaluated"] and row["scorer"] == "detector"
    line = _made_by([json.loads((tmp_path / "f.json").read_text())["findings"][0]])
    assert "weld-anomaly" in line and "scorer detector, threshold 3" in line
    assert hashlib.sha256(b"weights").hexdigest() in line
    free = findings.with_provenance(found, provenance, learned=False)[0]
    assert free.models == "" and free.software == provenance["software"]
    assert "none (a training-free scorer)" in _made_by([free.__dict__])


@pytest.mark.parametrize("radius", [3, 6, 12])
def test_a_finding_is_measured_on_its_indication_not_its_fragments(radius):
    """A pore of known size under a finding of four fragments: the finding's length and
    area are the pore's (its half-depth contour), the fragment box stays the evidence."""
    from scipy import ndimage

    rng = np.random.default_rng(radius)
    crop = np.full((256, 512), 150.0)
    yy, xx = np.mgrid[0:256, 0:512]
    pore = (yy - 120) ** 2 + (xx - 300) ** 2 <= radius**2
    crop -= 25 * ndimage.gaussian_filter(pore.astype(float), 1.5) / 0.8
    crop += rng.normal(0, 1.5, crop.shape)
    pixels = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    # the crop sits at (x 1000, y 40) in its image; four fragments over the pore
    table = pd.DataFrame({"image": "a", "crop": "weld",
                          "y": [40 + 64, 40 + 64, 40 + 96, 40 + 96],
                          "x": [1000 + 256, 1000 + 288, 1000 + 256, 1000 + 288]})  # fmt: skip
    found = findings.find(table, np.full(4, 9.0), np.ones(4, bool), 3.0,
                          np.random.default_rng(0).normal(0, 1, 1000), 64, "baseline",
                          {"a": 0.05}, lambda image: {"weld": (pixels, (1000, 40))})  # fmt: skip
    (f,) = found
    assert (f.width_px, f.height_px) == (96, 96)  # the fragments: the evidence
    assert 0.5 <= f.area_px / pore.sum() <= 2.0, (f.area_px, pore.sum())
    assert f.length_px <= 2 * radius + 8 and f.length_mm == pytest.approx(f.length_px * 0.05)
    assert f.area_mm2 == pytest.approx(f.area_px * 0.05**2, rel=1e-3)
    # the indication's box holds the pore's centre, in image pixels
    assert f.indication_x <= 1000 + 300 <= f.indication_x + f.indication_width_px
    assert f.indication_y <= 40 + 120 <= f.indication_y + f.indication_height_px
    # without the pixels: the fragments' size, as before
    normal = np.random.default_rng(0).normal(0, 1, 1000)
    (plain,) = findings.find(table, np.full(4, 9.0), np.ones(4, bool), 3.0, normal, 64, "baseline")
    assert plain.length_px == 96 and plain.indication_x is None and plain.area_px is None
