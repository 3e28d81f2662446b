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


# --------------------------------------------------------------------------------------
# Each scorer's behaviour on a small synthetic weld: the bugs that flip a sign or break a
# scale fail here, not only on the tiny run.


def _weld(pore: bool = True, marker: bool = True, seed: int = 3):
    """A 192 x 640 sound weld (grain of sd 3 on a bead), a dark pore (8 noise sd deep, 5 px
    across) at x ~ 160 and a bright lead numeral at x ~ 480; the pore-free, marker-free image."""
    from scipy import ndimage

    from weld_anomaly.simulate import films

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:192, 0:640].astype(np.float32)
    sound = 60 + 90 * np.exp(-0.5 * ((yy - 96) / 45) ** 2) + 3 * films.grain(rng, (192, 640))
    grey = sound.copy()
    if pore:
        grey -= 24 * np.exp(-0.5 * (((yy - 100) ** 2 + (xx - 160) ** 2) / 2.5**2))
    if marker:
        letter = ndimage.gaussian_filter(films._text_mask("8", 42), 0.5)
        grey[60 : 60 + letter.shape[0], 470 : 470 + letter.shape[1]] += 80 * letter
    as_pixels = lambda g: np.clip(np.rint(g), 0, 255).astype(np.uint8)  # noqa: E731
    return as_pixels(grey), as_pixels(sound)


def _evidence(pixels, expected, detector=None):
    from weld_anomaly.ingest import tiling

    frags, corners = tiling.cut_fragments(pixels, 64, 32)
    recon = tiling.cut_fragments(expected, 64, 32)[0].astype(np.float32) / 255.0
    settings = scorers.ScoreSettings(contrast_sigmas=(1.5,), detector=detector)
    return scorers.CropEvidence(pixels, corners, 64, frags, recon, settings), corners


def _holding(corners, y, x):
    return (
        (corners[:, 0] <= y)
        & (corners[:, 0] + 64 > y)
        & (corners[:, 1] <= x)
        & (corners[:, 1] + 64 > x)
    )


@pytest.mark.parametrize("name", ["baseline", "contrast_s1p5", "residual_s2", "residual_s5"])
def test_a_dark_pore_outscores_sound_weld_and_a_bright_marker(name):
    pixels, sound = _weld()
    crop, corners = _evidence(pixels, sound)
    scorer = scorers.for_column(name)
    values = scorer.score(crop)
    pore, marker = _holding(corners, 100, 160), _holding(corners, 80, 480)
    sound_only = ~pore & ~marker
    # the pore's fragments score above every sound fragment, by a clear step
    assert values[pore].min() > values[sound_only].max(), name
    assert values[pore].min() > np.median(values[sound_only]) + 3 * np.std(values[sound_only])
    # a bright numeral is no flaw: its fragments score like sound weld, far below the pore
    assert values[marker].max() < values[pore].min(), name


def test_a_bright_spot_does_not_score_like_a_dark_one():
    """Sign: the scorers look for spots darker than expected (96 % of real flaws)."""
    pixels, sound = _weld(pore=False, marker=False)
    bright = pixels.astype(np.int16)
    bright[98:103, 158:163] += 40
    crop, corners = _evidence(np.clip(bright, 0, 255).astype(np.uint8), sound)
    spot = _holding(corners, 100, 160)
    for name in ("baseline", "contrast_s1p5", "residual_s2"):
        values = scorers.for_column(name).score(crop)
        assert values[spot].max() <= np.quantile(values[~spot], 0.95), name


@pytest.mark.parametrize("cls", [scorers.Fused, scorers.FilterFused])
def test_a_fused_score_rises_with_each_of_its_parts(cls):
    parts = cls.from_columns(["detector", "contrast_s1p5", "baseline"]).parts
    rng = np.random.default_rng(0)
    normal = {c: rng.normal(0, 1 + i, 500) for i, c in enumerate(parts)}
    fused = cls(parts)
    fused.fit(normal)
    base = {c: np.zeros(3) for c in parts}
    low = fused.score(scorers.ScoredFragments(base))
    for c in parts:
        raised = fused.score(scorers.ScoredFragments({**base, c: np.array([0.0, 1.0, 2.0])}))
        assert np.all(np.diff(raised) > 0) and raised[0] == pytest.approx(low[0]), c
    # in robust z of the sound welds: a part's spread does not let it drown the other
    z = fused.z(
        scorers.ScoredFragments({c: np.full(1, 2.0 * (1 + i)) for i, c in enumerate(parts)})
    )
    assert z[0, 0] == pytest.approx(z[1, 0], rel=0.15)


def test_multiscale_takes_the_strongest_residual_in_normal_units():
    table = {"residual_s1": np.array([0.0, 5.0, 0.0]), "residual_s8": np.array([0.0, 0.0, 9.0])}
    ms = scorers.Multiscale(list(table))
    rng = np.random.default_rng(1)
    ms.fit({"residual_s1": rng.normal(0, 1, 999), "residual_s8": rng.normal(0, 3, 999)})
    z = ms.score(scorers.ScoredFragments(table))
    assert np.argmax(z) == 1 and z[2] == pytest.approx(3.0, rel=0.15) and z[1] > 4
