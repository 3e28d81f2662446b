import json

import numpy as np
import pandas as pd
import pytest

from weld_anomaly.ingest.inventory import ImageRecord, to_csv
from weld_anomaly.ingest.manifests import Annotation
from weld_anomaly.score import metrics
from weld_anomaly.score.evaluation import defect_recall, evaluate, label_fragments


def test_labels_follow_overlap_and_severity():
    corners = np.array([[0, 0], [0, 32], [0, 64], [0, 200]])
    defects = [Annotation(40, 10, 10, 10, "possible"), Annotation(60, 10, 8, 8, "likely")]
    labels = label_fragments(corners, 64, defects, 0.25)
    # fragment 0 holds the possible defect fully and 4/8 columns of the likely one
    assert labels.tolist() == ["likely", "likely", "likely", "none"]
    # a defect barely touching a fragment makes it ambiguous, not a positive
    labels = label_fragments(np.array([[0, 0]]), 64, [Annotation(62, 5, 10, 10, "likely")], 0.25)
    assert labels.tolist() == ["ambiguous"]
    # a defect larger than a fragment counts relative to the fragment's area
    big = [Annotation(0, 0, 300, 40, "likely")]
    assert label_fragments(np.array([[0, 100]]), 64, big, 0.25).tolist() == ["likely"]


def _image(image, n, rng, defect_score=None):
    x = np.arange(n) % 10 * 32
    y = np.arange(n) // 10 * 32
    mse = rng.normal(0, 1, n)
    if defect_score is not None:
        mse[0] = defect_score  # the fragment at (0, 0) holds the defect
    return pd.DataFrame(
        {
            "image": image,
            "fragment": np.arange(n),
            "crop": "weld",
            "y": y,
            "x": x,
            "mse": mse,
            "low": -mse,
            "noise": rng.normal(0, 1, n),
        }
    )


def test_evaluate_calibrates_chooses_and_measures(tmp_path):
    rng = np.random.default_rng(0)
    records = [
        ImageRecord("val", "v", "nonfaulty", "validation"),
        ImageRecord("vbad", "vb", "faulty", "validation"),
        ImageRecord("wbad", "wb", "faulty", "validation"),
        ImageRecord("ok", "o", "nonfaulty", "test"),
        ImageRecord("bad", "b", "faulty", "test"),
    ]
    (tmp_path / "manifest.csv").write_text(to_csv(records))
    frames = [
        _image("val", 2000, rng),
        _image("vbad", 100, rng, 9.0),
        _image("ok", 2000, rng),
        _image("wbad", 100, np.random.default_rng(5), 9.5),
        _image("bad", 100, rng, 8.0),
    ]
    paths = []
    for f in frames:
        # a filter that misses the defect (fragment 0): it scores like a sound fragment
        f["baseline"] = np.where(f["fragment"] == 0, 0.0, f["noise"])
        paths.append(tmp_path / f"{f['image'][0]}.csv")
        f.to_csv(paths[-1], index=False)
    (tmp_path / "ann.yaml").write_text(
        "images:\n"
        "  vbad:\n    - {x: 5, y: 5, width: 10, height: 10, severity: likely}\n"
        "  wbad:\n    - {x: 5, y: 5, width: 10, height: 10, severity: likely}\n"
        "  bad:\n    - {x: 5, y: 5, width: 10, height: 10, severity: likely}\n"
    )
    result = evaluate(
        tmp_path / "manifest.csv",
        None,
        paths,
        tmp_path / "ann.yaml",
        tmp_path / "frags.csv",
        tmp_path / "m.json",
        size=64,
        min_overlap=0.25,
        target_fpr=0.01,
    )
    assert json.loads((tmp_path / "m.json").read_text()) == result
    assert result["direction"] == {"mse": "high", "low": "low", "noise": "high", "baseline": "high"}
    assert result["flag_statistic"] == "mse"
    assert result["flag_statistic_chosen_by"].startswith(
        "Flagging with mse: on the annotated validation"
    )
    assert result["counts"]["test_labels"]["likely"] == 1
    assert result["scorers"]["mse"]["likely"]["auroc"] == 1.0
    assert result["scorers"]["low"]["likely"]["auroc"] == 1.0  # oriented by validation
    # the threshold comes from the 2,000 normal validation fragments: ~2.33 for N(0, 1)
    assert result["thresholds"]["mse"] == pytest.approx(2.33, abs=0.2)
    assert result["achieved_fpr_on_test_normals"]["mse"] == pytest.approx(0.01, abs=0.006)
    assert result["adaptive"]["achieved_fpr_on_test_normals"] == pytest.approx(0.01, abs=0.006)
    assert result["f1_optimal"]["uses_labels"].startswith("chosen on the annotated validation")
    assert result["defect_recall"]["mse"]["all"] == {"defects": 1, "recall": 1.0}
    # the filter misses the defect that mse finds (measured beside it, never read upside down)
    assert result["defect_recall"]["baseline"]["all"] == {"defects": 1, "recall": 0.0}
    assert result["scorers"]["baseline"]["likely"]["auroc"] == pytest.approx(0.5, abs=0.01)
    table = pd.read_csv(tmp_path / "frags.csv")
    assert table.loc[(table.image == "bad") & (table.fragment == 0), "flagged"].item()
    assert set(table["split"]) == {"validation", "test"}


def test_defect_recall_by_size():
    table = pd.DataFrame({"image": ["a", "a"], "y": [0, 0], "x": [0, 200]})
    defects = {"a": [Annotation(10, 10, 5, 5, "likely"), Annotation(300, 10, 40, 40, "possible")]}
    out = defect_recall(table, np.array([True, False]), defects, 64)
    assert out["all"] == {"defects": 2, "recall": 0.5}
    assert out["likely, area 0-50 px²"]["recall"] == 1.0
    assert out["possible, area >1000 px²"]["recall"] == 0.0


def test_size_classes_are_listed_smallest_first_not_as_text():
    table = pd.DataFrame({"image": ["a"], "y": [0], "x": [0]})
    sides = [5, 12, 25, 40]  # areas 25, 144, 625, 1600: one defect per size class
    defects = {"a": [Annotation(10 * i, 10, s, s, "likely") for i, s in enumerate(sides)]}
    groups = list(defect_recall(table, np.array([True]), defects, 64))
    assert groups == ["all", "likely"] + [
        f"likely, area {b} px²" for b in ("0-50", "50-200", "200-1000", ">1000")
    ]


def test_multiscale_combines_residual_scores_in_normal_z_units():
    from weld_anomaly.score.scorers import multiscale_parameters, multiscale_scores

    table = pd.DataFrame(
        {
            "residual_s1": [1.0, 2.0, 3.0, 4.0, 5.0, 10.0],
            "residual_s8": [0.1, 0.1, 0.2, 0.3, 0.3, 0.4],
            "residual_l4": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "residual_multiscale": [99.0] * 6,
            "baseline": [9.0] * 6,
        }
    )
    normal = np.array([True] * 5 + [False])
    params = multiscale_parameters(table, normal)
    # line filters are residual scores too; the baseline and a combination are not
    assert set(params) == {"residual_s1", "residual_s8", "residual_l4"}
    params.pop("residual_l4")
    assert params["residual_s1"] == {"median": 3.0, "scale": pytest.approx(1.4826)}
    assert params["residual_s8"] == {"median": 0.2, "scale": pytest.approx(0.14826)}
    z = multiscale_scores(table, params)
    # fragment 5: (10 - 3) / 1.4826 = 4.72 at sigma 1, (0.4 - 0.2) / 0.14826 = 1.35 at sigma 8
    assert z[5] == pytest.approx(7 / 1.4826)
    assert z[0] == pytest.approx(max(-2 / 1.4826, -0.1 / 0.14826))


def test_inspection_computes_the_combined_statistic_as_calibrated(tmp_path):
    from weld_anomaly.errors import UserError
    from weld_anomaly.score.scorers import MULTISCALE
    from weld_anomaly.workflow.inspection import Calibration

    params = {
        "residual_s1": {"median": 0.1, "scale": 0.02},
        "residual_s8": {"median": 0.01, "scale": 0.005},
    }
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "flag_statistic": MULTISCALE,
                "thresholds": {MULTISCALE: 3.0},
                "direction": {MULTISCALE: "high"},
                "combined": {MULTISCALE: params},
            }
        )
    )
    calibration = Calibration.from_metrics(tmp_path / "m.json")
    table = pd.DataFrame({"residual_s1": [0.1, 0.2, 0.1], "residual_s8": [0.01, 0.01, 0.04]})
    assert calibration.scores(table) == pytest.approx([0.0, 5.0, 6.0])
    assert calibration.flags(calibration.scores(table)).tolist() == [False, True, True]
    with pytest.raises(UserError, match="residual_s8"):
        calibration.scores(table[["residual_s1"]])


def test_standard_protocol_counts_every_fragment_with_a_defect_pixel(tmp_path):
    from PIL import Image

    from weld_anomaly.score.evaluation import defect_detection, load_masks, pixel_labels

    mask = np.zeros((96, 160), np.uint8)
    mask[60:62, 60:62] = 255  # 4 px: in 4 fragments, a corner of some of them
    mask[10:40, 120:150] = 255  # 900 px
    Image.fromarray(mask).save(tmp_path / "a.png")
    masks = load_masks([tmp_path / "a.png"])
    corners = np.array([[y, x] for y in (0, 32) for x in (0, 32, 64, 96)])
    table = pd.DataFrame({"image": "a", "y": corners[:, 0], "x": corners[:, 1]})
    labels = pixel_labels(table, {}, masks, 64)
    # fragments (y, x) holding pixel (60..61, 60..61): x in {0, 32}, y in {0, 32}
    expected = {(0, 0), (0, 32), (32, 0), (32, 32), (0, 64), (0, 96), (32, 64), (32, 96)}
    assert {tuple(c) for c in corners[labels]} == expected
    # without a mask the box counts: one pixel of it suffices
    boxes = {"a": [Annotation(63, 63, 1, 1, "possible")]}
    assert {tuple(c) for c in corners[pixel_labels(table, boxes, {}, 64)]} == {
        (0, 0),
        (0, 32),
        (32, 0),
        (32, 32),
    }
    flagged = np.array([(y, x) == (0, 96) for y, x in corners])
    found = defect_detection(table, flagged, {}, masks, 64)
    assert found["all"] == {"defects": 2, "detected": 0.5}
    assert found["area 0-50 px²"]["detected"] == 0.0
    assert found["area 200-1000 px²"]["detected"] == 1.0


def test_a_broken_mask_is_one_clear_error(tmp_path):
    from weld_anomaly.errors import UserError
    from weld_anomaly.score.evaluation import load_masks

    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read the defect mask"):
        load_masks([tmp_path / "b.png"])


def test_defects_outside_every_crop_are_counted():
    from weld_anomaly.score.evaluation import lost_defects

    table = pd.DataFrame({"image": "a", "y": [0, 0], "x": [0, 32]})  # fragments cover x < 96
    annotations = {"a": [Annotation(90, 10, 20, 5, "likely"), Annotation(10, 10, 4, 4, "likely")]}
    assert lost_defects(table, annotations, {}, 64) == {"a": {"pixels": 14 * 5, "defects": 1}}


def test_without_annotated_validation_images_the_filter_flags():
    from weld_anomaly.score.evaluation import _choose_flag_statistic

    names = ["mse", "residual_s2", "residual_multiscale", "fused", "baseline"]
    flag, why = _choose_flag_statistic(names, {}, {})
    assert flag == "baseline"
    assert why.startswith("No annotated validation images to choose on")
    # tables without the filter fall back in the documented order
    assert _choose_flag_statistic(names[:4], {}, {})[0] == "fused"
    assert _choose_flag_statistic(names[:3], {}, {})[0] == "residual_multiscale"
    assert _choose_flag_statistic(names[:2], {}, {})[0] == "residual_s2"


def _validation(**figures):
    return {s: {"auroc": a, "recall_at_fpr_1pct": r} for s, (a, r) in figures.items()}


def test_the_filter_is_chosen_when_it_wins_validation():
    """The release measured on real films: the filter led validation (0.936 / 0.545)."""
    from weld_anomaly.score.evaluation import _choose_flag_statistic

    names = ["mse", "residual_s5", "contrast_s1p5", "detector", "fused", "baseline"]
    real = _validation(
        baseline=(0.936, 0.545),
        residual_s5=(0.882, 0.237),
        detector=(0.895, 0.151),
        fused=(0.905, 0.090),
        contrast_s1p5=(0.905, 0.090),
        mse=(0.438, 0.004),
    )
    flag, why = _choose_flag_statistic(names, {}, real)
    assert flag == "baseline"
    assert why.startswith("Flagging with the training-free filter (baseline)")
    assert "the learned models add nothing yet" in why
    assert "best learned, fused: AUROC 0.905" in why


def test_a_scorer_replaces_the_filter_only_by_more_than_the_margin_and_no_less_recall():
    from weld_anomaly.score.evaluation import CHOICE_MARGIN, RECALL_MARGIN, _choose_flag_statistic

    names = ["detector", "fused", "contrast_s1p5", "baseline"]
    base = (0.90, 0.50)
    # ahead by more than the margin, more recall: chosen (the best AUROC among leaders)
    far = _validation(
        baseline=base,
        detector=(0.90 + CHOICE_MARGIN + 0.03, 0.62),
        fused=(0.90 + CHOICE_MARGIN + 0.02, 0.70),
        contrast_s1p5=(0.89, 0.55),
    )
    flag, why = _choose_flag_statistic(names, {}, far)
    assert flag == "detector"
    assert why.startswith(
        "Flagging with detector: on the annotated validation images (the standard"
    )
    # within both margins: the filter stays
    close = _validation(baseline=base, detector=(0.90 + CHOICE_MARGIN / 2, 0.5 + RECALL_MARGIN / 2))
    assert _choose_flag_statistic(names, {}, close)[0] == "baseline"
    # a clear lead in recall at 1 % FPR alone, not behind in AUROC: chosen
    recall = _validation(
        baseline=base, detector=(0.90 + CHOICE_MARGIN / 2, 0.5 + 2 * RECALL_MARGIN)
    )
    assert _choose_flag_statistic(names, {}, recall)[0] == "detector"
    # ahead in recall but behind in AUROC: the filter stays
    behind = _validation(baseline=base, detector=(0.899, 0.9))
    assert _choose_flag_statistic(names, {}, behind)[0] == "baseline"
    # far ahead in AUROC but less recall at 1 % FPR: the filter stays
    lower = _validation(baseline=base, detector=(0.99, 0.49))
    assert _choose_flag_statistic(names, {}, lower)[0] == "baseline"
    # a training-free scorer may win too
    free = _validation(baseline=base, contrast_s1p5=(0.95, 0.6), detector=(0.5, 0.0))
    assert _choose_flag_statistic(names, {}, free)[0] == "contrast_s1p5"
    # without the standard protocol's table, the overlap protocol's likely defects decide
    likely = {s: {"likely": m} for s, m in far.items()}
    assert _choose_flag_statistic(names, likely, {})[0] == "detector"


def test_a_box_larger_than_a_fragment_makes_every_fragment_it_touches_positive():
    """The standard protocol: any defect pixel inside a fragment makes it positive, however
    large the defect (a lack of penetration 150 px long never fits inside one fragment)."""
    from weld_anomaly.score.evaluation import pixel_labels

    corners = np.array([[y, x] for y in (0, 32, 64) for x in range(0, 288, 32)])
    table = pd.DataFrame({"image": "a", "y": corners[:, 0], "x": corners[:, 1]})
    boxes = {"a": [Annotation(70, 40, 150, 10, "likely")]}  # x 70..219, y 40..49
    labels = pixel_labels(table, boxes, {}, 64)
    touching = {(y, x) for y, x in corners if y < 50 and y + 64 > 40 and x < 220 and x + 64 > 70}
    assert {tuple(c) for c in corners[labels]} == touching and len(touching) == 12


def test_one_annotated_validation_image_is_too_few_to_replace_the_filter():
    from weld_anomaly.score.evaluation import _choose_flag_statistic

    names = ["detector", "baseline"]
    far = _validation(baseline=(0.80, 0.4), detector=(0.95, 0.8))
    flag, why = _choose_flag_statistic(names, {}, far, images=1)
    assert flag == "baseline" and "only 1 annotated validation image(s) hold defects" in why
    assert _choose_flag_statistic(names, {}, far, images=2)[0] == "detector"


def _test_images(n_images: int, per_image: int, rng) -> pd.DataFrame:
    """Annotated test images, each with its own level (fragments of an image correlate) and
    a tenth of its fragments holding a defect."""
    rows = []
    for i in range(n_images):
        level = rng.normal(0, 0.5)
        y = rng.random(per_image) < 0.1
        rows.append(pd.DataFrame({"image": f"w{i}", "defect_pixels": y, "level": level}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("images", [3, 12])
def test_intervals_come_from_resampling_images_and_say_when_a_lead_is_noise(images):
    from weld_anomaly.score.evaluation import _intervals

    rng = np.random.default_rng(1)
    table = _test_images(images, 400, rng)
    y = table["defect_pixels"].to_numpy()
    base = table["level"].to_numpy() + rng.normal(0, 1, len(y)) + 1.0 * y
    oriented = {
        "baseline": base,
        "better": table["level"].to_numpy() + rng.normal(0, 1, len(y)) + 2.5 * y,
        "same": base + rng.normal(0, 0.05, len(y)),
    }
    rows = np.ones(len(y), bool)
    for flag, ahead in (("better", True), ("same", False)):
        out = _intervals(table, oriented, rows, flag, (300, 0))
        assert out["images"] == images and out["resamples"] == 300
        for name, values in oriented.items():  # each figure inside its own interval
            low, high = out["scorers"][name]["auroc"]
            assert low <= metrics.roc_auc(y, values) <= high
            assert high - low > 0.005
        lead = out["lead_over_filter"]
        assert lead["scorer"] == flag
        assert lead["auroc"]["value"] == pytest.approx(
            metrics.roc_auc(y, oriented[flag]) - metrics.roc_auc(y, base)
        )
        if ahead:  # a large lead is beyond noise even on 3 images
            assert lead["beyond_noise"] and "a lead beyond the noise" in lead["sentence"]
            assert lead["auroc"]["interval"][0] > 0
        else:  # a scorer that is the filter plus a little noise is within noise
            assert not lead["beyond_noise"] and "within noise" in lead["sentence"]
            assert lead["auroc"]["interval"][0] < 0 < lead["auroc"]["interval"][1]
        assert f"{images} annotated test images" in lead["sentence"]
    # the same seed draws the same intervals; without resamples, none
    assert _intervals(table, oriented, rows, "same", (300, 0)) == out
    assert _intervals(table, oriented, rows, "better", (0, 0)) == {}
    only_filter = _intervals(table, oriented, rows, "baseline", (300, 0))["lead_over_filter"]
    assert only_filter["beyond_noise"] is None and "The filter flags" in only_filter["sentence"]


def test_false_calls_are_findings_on_sound_welds_or_off_every_defect_per_image_and_metre():
    from weld_anomaly.score.evaluation import false_calls
    from weld_anomaly.score.findings import Finding

    def finding(image, x, y):
        return Finding(image, "weld", 1, "high", 1.0, 3.0, 0.001, x + 32, y + 32, x, y, 64, 64,
                       64, 64, None, None, 1, "baseline", 0.5)  # fmt: skip

    # three test welds of one crop each, 1,000 px long at 0.05 mm: 50 mm of weld each
    rows = []
    for image in ("sound", "faulty", "boxed"):
        for x in [*range(0, 1000 - 64, 32), 1000 - 64]:  # the last aligned with the end
            rows.append({"image": image, "crop": "weld", "y": 0, "x": x})
    rows.append({"image": "validation", "crop": "weld", "y": 0, "x": 0})
    table = pd.DataFrame(rows)
    test = (table["image"] != "validation").to_numpy()
    mask = np.zeros((64, 1000), bool)
    mask[10:20, 110:120] = True  # faulty's defect, under its finding at x=100
    annotations = {"boxed": [Annotation(500, 10, 10, 10, "likely")]}
    found = [
        finding("sound", 0, 0),  # on a sound weld: false
        finding("faulty", 100, 0),  # on the defect: true
        finding("faulty", 600, 0),  # off it: false
        finding("boxed", 480, 0),  # touches the box: true
        finding("validation", 0, 0),  # not a test image: not counted
    ]
    spacing = {"sound": 0.05, "faulty": 0.05, "boxed": 0.05}
    out = false_calls(found, table, test, (annotations, {"faulty": mask}, spacing), 64, (200, 0))
    assert out["images"] == 3 and out["false_calls"] == 2
    assert out["per_image"] == pytest.approx(2 / 3)
    assert out["weld_length_m"] == pytest.approx(3 * 0.05)  # 1,000 px x 0.05 mm, three times
    assert out["per_metre"] == pytest.approx(2 / 0.15)
    low, high = out["per_image_interval"]
    assert 0 <= low <= 2 / 3 <= high <= 2
    # one pixel size unknown: no figure per metre, the rest stands
    part = false_calls(found, table, test, (annotations, {"faulty": mask}, {"sound": 0.05}), 64)
    assert part["per_metre"] is None and part["false_calls"] == 2


def test_the_false_positive_rate_on_sound_welds_has_an_interval_by_resampling_welds():
    from weld_anomaly.score.evaluation import _fpr_interval

    table = pd.DataFrame({"image": np.repeat(["a", "b", "c", "d"], 100)})
    flagged = np.zeros(400, bool)
    flagged[:4] = True  # 4 % of a's fragments, none elsewhere: 1 % in all
    normal = np.ones(400, bool)
    low, high = _fpr_interval(table, flagged, normal, {"bootstrap": (500, 0)})
    assert low == 0.0 and 0.01 < high <= 0.04
    assert _fpr_interval(table, flagged, normal, {"bootstrap": (0, 0)}) is None
    assert (
        _fpr_interval(table.iloc[:100], flagged[:100], normal[:100], {"bootstrap": (9, 0)}) is None
    )
