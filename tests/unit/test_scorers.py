"""The scorer interface: a new scorer is one class and one registration."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import TRAIN_INFO

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.inventory import ImageRecord, to_csv
from weld_anomaly.ingest.preprocess import fragment_crops
from weld_anomaly.model.autoencoder import build_autoencoder
from weld_anomaly.report.html import render_report
from weld_anomaly.score import scorers
from weld_anomaly.score.evaluation import evaluate
from weld_anomaly.score.scoring import score_image

DESCRIPTION = "how dark the darkest pixel of the fragment is (a test scorer)"


class Darkest(scorers.Scorer):
    name = "darkest"
    description = DESCRIPTION

    def score(self, crop):
        return 1.0 - crop.fragments.min(axis=(1, 2)) / crop.top


@pytest.fixture
def darkest():
    scorers.register(Darkest)
    yield Darkest
    scorers.unregister(Darkest)


def _image(tmp_path, image_id, rng, dark_spot):
    pixels = rng.integers(110, 130, (96, 192), dtype=np.uint8)
    if dark_spot:
        pixels[40:46, 120:126] = 30
    hdf5_io.write_crops(
        tmp_path / f"{image_id}.crops.h5",
        image_id,
        [hdf5_io.Crop("weld", 0, 0, 192, 96, pixels)],
        {},
    )
    fragment_crops(tmp_path / f"{image_id}.crops.h5", tmp_path / f"{image_id}.frags.h5", 64, 32)


def _train_files(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps(TRAIN_INFO))
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,0.1,0.2\n")
    (tmp_path / "images.csv").write_text(
        "image,status,split,rejected,error_class,error\n"
        "val,nonfaulty,validation,False,,\nbad,faulty,test,False,,\n"
    )


def test_a_registered_scorer_is_scored_evaluated_and_reported(tmp_path, darkest):
    rng = np.random.default_rng(0)
    records = [
        ImageRecord("val", "v", "nonfaulty", "validation"),
        ImageRecord("bad", "b", "faulty", "test"),
    ]
    (tmp_path / "manifest.csv").write_text(to_csv(records))
    (tmp_path / "ann.yaml").write_text(
        "images:\n  bad:\n    - {x: 120, y: 40, width: 6, height: 6, severity: likely}\n"
    )
    model = build_autoencoder(64, (4, 8, 8))
    tables = []
    for image_id, spot in (("val", False), ("bad", True)):
        _image(tmp_path, image_id, rng, spot)
        tables.append(
            score_image(
                None,
                tmp_path / f"{image_id}.frags.h5",
                tmp_path / f"{image_id}.crops.h5",
                tmp_path / f"{image_id}.csv",
                image_id,
                batch_size=8,
                median_size=21,
                sigma=1.0,
                model=model,
            )
        )
    assert list(tables[0].columns)[-1] == "darkest"  # registered last, scored last
    assert tables[1]["darkest"].max() == pytest.approx(1 - 30 / 255)

    result = evaluate(
        tmp_path / "manifest.csv",
        None,
        [tmp_path / "val.csv", tmp_path / "bad.csv"],
        tmp_path / "ann.yaml",
        tmp_path / "frags.csv",
        tmp_path / "metrics.json",
        size=64,
        min_overlap=0.25,
        target_fpr=0.01,
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["scorers"]["darkest"]["likely"]["auroc"] == 1.0
    assert "darkest" in saved["thresholds"] and result["direction"]["darkest"] == "high"

    _train_files(tmp_path)
    render_report(
        tmp_path / "manifest.csv",
        tmp_path / "images.csv",
        tmp_path / "frags.csv",
        tmp_path / "metrics.json",
        tmp_path / "train.json",
        tmp_path / "history.csv",
        [tmp_path / "bad.crops.h5"],
        tmp_path / "ann.yaml",
        {},
        tmp_path / "report.html",
        tmp_path / "figures",
        size=64,
    )
    html = (tmp_path / "report.html").read_text()
    assert "<td>darkest</td>" in html.replace(" ◀ flags", "")
    assert DESCRIPTION in html


def test_every_column_has_a_scorer_with_words():
    columns = scorers.score_columns()
    assert columns[:13] == [*scorers.COLUMNS]
    for column in [*columns, scorers.MULTISCALE]:
        scorer = scorers.for_column(column)
        assert scorer.name == column and scorer.description and scorer.family != "other"
    assert not scorers.for_column("baseline").learned
    assert scorers.for_column("unheard_of").orientation == "either"


def test_combined_scorers_follow_the_columns_and_restore_from_parameters():
    table = pd.DataFrame({"residual_s1": [0.0, 1.0, 4.0], "residual_l4": [0.0, 2.0, 0.0]})
    (multiscale,) = scorers.combined_scorers(table.columns)
    params = multiscale.fit({c: table[c].to_numpy()[:2] for c in multiscale.parts})
    restored = scorers.for_column(scorers.MULTISCALE).restore(params)
    frame = scorers.ScoredFragments(table)
    assert restored.parts == ["residual_s1", "residual_l4"]
    assert restored.score(frame) == pytest.approx(multiscale.score(frame))
    # one residual column: nothing to combine
    assert scorers.combined_scorers(["residual_s1", "baseline"]) == []


def test_a_scorer_without_score_cannot_be_made():
    class Incomplete(scorers.Scorer):
        name = "incomplete"

    with pytest.raises(TypeError):
        Incomplete()
