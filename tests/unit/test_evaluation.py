import json

import numpy as np
import pandas as pd
import pytest

from weld_anomaly.evaluation import evaluate, label_fragments
from weld_anomaly.inventory import ImageRecord, to_csv
from weld_anomaly.manifests import Annotation


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


def test_evaluate_thresholds_and_metrics(tmp_path):
    rng = np.random.default_rng(0)
    records = [
        ImageRecord("val", "v", "nonfaulty", "validation"),
        ImageRecord("bad", "b", "faulty", "test"),
    ]
    (tmp_path / "manifest.csv").write_text(to_csv(records))
    frames = []
    for image, n in (("val", 400), ("bad", 100)):
        x = np.arange(n) % 10 * 32
        y = np.arange(n) // 10 * 32
        score = rng.normal(0, 1, n)
        frames.append(
            pd.DataFrame(
                {
                    "image": image,
                    "fragment": np.arange(n),
                    "crop": "weld",
                    "y": y,
                    "x": x,
                    "mse": score,
                    "baseline": -score,
                }
            )
        )
    frames[1].loc[0, ["mse", "baseline"]] = [10.0, -10.0]  # the defect at (0, 0)
    paths = []
    for f in frames:
        paths.append(tmp_path / f"{f['image'][0]}.csv")
        f.to_csv(paths[-1], index=False)
    (tmp_path / "ann.yaml").write_text(
        "images:\n  bad:\n    - {x: 5, y: 5, width: 10, height: 10, severity: likely}\n"
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
        flag_statistic="mse",
    )
    assert json.loads((tmp_path / "m.json").read_text()) == result
    assert result["counts"]["test_labels"]["likely"] == 1
    assert result["scorers"]["mse"]["likely"]["auroc"] == 1.0
    assert result["scorers"]["baseline"]["likely"]["auroc"] == 0.0
    assert result["achieved_fpr_on_test_normals"]["mse"] == pytest.approx(0.01, abs=0.03)
    table = pd.read_csv(tmp_path / "frags.csv")
    assert table.loc[(table.image == "bad") & (table.fragment == 0), "flagged"].item()
