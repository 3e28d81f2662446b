import numpy as np
import pandas as pd
import pytest

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.preprocess import fragment_crops
from weld_anomaly.model.autoencoder import build_autoencoder
from weld_anomaly.score.residual import ResidualSettings, stitch
from weld_anomaly.score.scorers import score_columns
from weld_anomaly.score.scoring import score_image


def _fragmented(tmp_path, pixels, x=0, y=0, name="weld") -> int:
    """Write ``pixels`` as the one crop of image "img" (c.h5) and its fragments (f.h5)."""
    height, width = pixels.shape
    crop = hdf5_io.Crop(name, x, y, width, height, pixels)
    hdf5_io.write_crops(tmp_path / "c.h5", "img", [crop], {})
    return fragment_crops(tmp_path / "c.h5", tmp_path / "f.h5", 64, 32)


def _score(tmp_path, model, out="s.csv", batch_size=4, **settings):
    return score_image(
        None,
        tmp_path / "f.h5",
        tmp_path / "c.h5",
        tmp_path / out,
        "img",
        batch_size=batch_size,
        median_size=21,
        sigma=1.0,
        model=model,
        **settings,
    )


def test_score_image_writes_one_row_per_fragment(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(100, 140, (96, 160), dtype=np.uint8)
    pixels[40:44, 100:104] = 20  # a dark spot
    n = _fragmented(tmp_path, pixels, x=5, y=7)
    table = _score(tmp_path, build_autoencoder(64, (4, 8, 8)))
    back = pd.read_csv(tmp_path / "s.csv")
    assert len(back) == n == len(table)
    assert list(back.columns) == ["image", "fragment", "crop", "y", "x", "masked", *score_columns()]
    assert {"residual_s1", "residual_s2", "residual_s3"} <= set(back.columns)
    assert back["y"].min() == 7 and back["x"].min() == 5  # image coordinates
    spot = (back["y"] <= 47) & (back["y"] + 64 > 47) & (back["x"] <= 105) & (back["x"] + 64 > 105)
    assert back.loc[spot, "baseline"].min() > back.loc[~spot, "baseline"].max()
    assert np.allclose(back["frag_min"][spot], 20 / 255, atol=1e-6)
    assert back.loc[spot, "residual_s2"].min() > back.loc[~spot, "residual_s2"].max()


def test_scores_are_reproducible(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(90, 160, (64, 128), dtype=np.uint8)
    _fragmented(tmp_path, pixels, name="w")
    model = build_autoencoder(64, (4, 8, 8))
    for name in ("a.csv", "b.csv"):
        _score(tmp_path, model, out=name, batch_size=2)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_stitching_overlapping_fragments_restores_the_image():
    rng = np.random.default_rng(2)
    image = rng.random((96, 160))
    from weld_anomaly.ingest import tiling

    frags, corners = tiling.cut_fragments(image, 64, 32)
    stitched = stitch(image.shape, corners, frags)
    assert stitched.dtype == np.float32  # the reconstructions' precision
    np.testing.assert_allclose(stitched, image, rtol=1e-6)
    # reconstructions are worst at their borders: there the neighbour's interior must win
    # (an unweighted mean leaves 0.25 of the border error on average, 0.75 at worst)
    border = np.ones((64, 64))
    border[8:-8, 8:-8] = 0
    error = np.abs(stitch(image.shape, corners, frags + border) - image)[8:-8, 8:-8]
    assert error.mean() < 0.06 and error.max() < 0.2


def test_marker_mask_hides_the_residual_beside_bright_wires_not_dark_spots():
    # what a smoothing autoencoder does with a wire IQI: the bright wires are reconstructed
    # as a broad low bump, so the residual between the wires looks like dark spots
    from scipy import ndimage

    from weld_anomaly.score.baseline import background_map
    from weld_anomaly.score.residual import marker_mask, residual_map
    from weld_anomaly.score.scorers import residual_scores

    rng = np.random.default_rng(3)
    sound = 0.5 + 0.01 * rng.standard_normal((96, 256))
    for x in (40, 50, 60, 70):
        sound[:, x - 1 : x + 2] += 0.3  # bright wires
    recon = ndimage.uniform_filter(sound, 15)  # the model's blurred view of the sound weld
    crop = sound.copy()
    crop[40:48, 200:208] -= 0.15  # a cavity: darker than the model expects
    pixels = np.rint(np.clip(crop, 0, 1) * 255).astype(np.uint8)
    residual = residual_map(pixels, recon)
    background = background_map(pixels, 21, 1.0)
    mask = marker_mask(residual, background, 4.0, 8)
    assert mask[:, 40:71].all()  # the wires and the gaps between them
    assert not mask[:, 120:].any()  # sound weld and the cavity stay scored
    assert marker_mask(residual, background, None, 8).sum() == 0

    corners = np.array([[16, 24], [16, 176]])  # a fragment on the wires, one on the cavity
    plain = residual_scores(residual, np.zeros_like(mask), corners, 64, [1.0, 2.0])
    masked = residual_scores(residual, mask, corners, 64, [1.0, 2.0])
    wires, cavity = 0, 1
    assert plain["residual_s2"][wires] > 0.5 * plain["residual_s2"][cavity]  # the false alarm
    assert masked["residual_s2"][wires] < 0.2 * masked["residual_s2"][cavity]
    assert masked["residual_s2"][cavity] == plain["residual_s2"][cavity]


def test_score_image_keeps_the_marker_mask_with_the_reconstructions(tmp_path):
    rng = np.random.default_rng(4)
    pixels = rng.integers(120, 136, (64, 192), dtype=np.uint8)
    pixels[:, 30:33] = 250  # a bright wire in the first fragment only
    _fragmented(tmp_path, pixels)
    _score(
        tmp_path,
        build_autoencoder(64, (4, 8, 8)),
        residual=ResidualSettings(mask_z=4.0, mask_dilate=4),
        reconstructions_out=tmp_path / "r.h5",
    )
    mask = hdf5_io.read_masks(tmp_path / "r.h5")["weld"]
    assert mask.shape == pixels.shape and mask[:, 30:33].all() and not mask[:, 60:].any()
    back = pd.read_csv(tmp_path / "s.csv")
    assert back.loc[back["x"] == 0, "masked"].item() == pytest.approx(mask[:, :64].mean())
    assert (back.loc[back["x"] >= 64, "masked"] == 0).all()
    assert hdf5_io.read_masks(tmp_path / "c.h5") == {}  # crops files carry none


def test_marker_mask_leaves_the_bright_rim_around_a_dark_cavity():
    # a smoothing model fills a large dark cavity in part: the residual just outside it is
    # negative (brighter than expected) although the image is not bright there
    from scipy import ndimage

    from weld_anomaly.score.baseline import background_map
    from weld_anomaly.score.residual import marker_mask, residual_map

    rng = np.random.default_rng(5)
    crop = 0.5 + 0.01 * rng.standard_normal((128, 256))
    yy, xx = np.mgrid[:128, :256]
    crop[(yy - 64) ** 2 + (xx - 128) ** 2 < 15**2] -= 0.25  # a large pore
    pixels = np.rint(np.clip(crop, 0, 1) * 255).astype(np.uint8)
    recon = ndimage.uniform_filter(crop, 31) + 0.06 * (ndimage.uniform_filter(crop, 9) < 0.45)
    residual = residual_map(pixels, recon)
    assert (ndimage.gaussian_filter(-residual, 1.0) > 0.05).any()  # the rim is there
    assert not marker_mask(residual, background_map(pixels, 41, 1.0), 4.0, 8).any()


def test_score_image_with_a_texture_predictor_and_line_filters(tmp_path):
    from weld_anomaly.score.texture import Predictor, PredictorSettings

    rng = np.random.default_rng(6)
    pixels = rng.integers(110, 140, (96, 192), dtype=np.uint8)
    _fragmented(tmp_path, pixels)
    settings = PredictorSettings(hole=2, radius=4, step=2)
    kernel = np.zeros((9, 9))
    kernel[4, 0] = kernel[4, 8] = 0.5  # predicts a pixel by its neighbours 4 px left and right
    residual = ResidualSettings(
        sigmas=(1.0,), lines=(4.0,), predictor=Predictor(kernel, 0.5, 100, settings)
    )
    model = build_autoencoder(64, (4, 8, 8))
    table = _score(tmp_path, model, residual=residual)
    assert list(table.columns)[-3:] == ["residual_s1", "residual_l4", "baseline"]
    plain = _score(tmp_path, model, out="p.csv", residual=ResidualSettings(sigmas=(1.0,)))
    assert not np.allclose(plain["residual_s1"], table["residual_s1"])  # the texture taken out


def test_scoring_only_the_columns_a_flagging_rule_reads(tmp_path):
    """Inspection computes what its rule reads: the same numbers as the full table, and
    without the autoencoder when no column reads its reconstructions."""
    from weld_anomaly.score.scoring import score_fragments

    rng = np.random.default_rng(3)
    pixels = rng.integers(100, 140, (96, 192), dtype=np.uint8)
    pixels[40:46, 100:106] = 30
    _fragmented(tmp_path, pixels)
    frags = hdf5_io.read_fragments(tmp_path / "f.h5")
    crops, _ = hdf5_io.read_crops(tmp_path / "c.h5")
    model = build_autoencoder(64, (4, 8, 8))
    common = dict(batch_size=8, median_size=21, sigma=1.0, contrast_sigmas=(1.5,))
    full, maps, masks = score_fragments(model, frags, crops, "img", **common)
    # no autoencoder at all: the training-free columns only, the normalisation's mask
    part, no_maps, part_masks = score_fragments(
        None, frags, crops, "img", columns=["baseline", "contrast_s1p5"], **common
    )
    assert list(part.columns) == ["image", "fragment", "crop", "y", "x", "masked", "baseline",
                                  "contrast_s1p5"]  # fmt: skip
    for column in ("baseline", "contrast_s1p5"):
        np.testing.assert_array_equal(part[column], full[column])
    assert no_maps == [] and part_masks[0].shape == pixels.shape
    # a column that reads the reconstructions runs the autoencoder: the same numbers
    residual, recon_maps, _ = score_fragments(
        model, frags, crops, "img", columns=["residual_s2", "mse"], **common
    )
    assert list(residual.columns)[-2:] == ["mse", "residual_s2"]
    for column in ("residual_s2", "mse"):
        np.testing.assert_array_equal(residual[column], full[column])
    np.testing.assert_array_equal(recon_maps[0].pixels, maps[0].pixels)


@pytest.mark.parametrize("marker", [True, False])
def test_two_threads_score_as_one_does(tmp_path, monkeypatch, marker):
    """Scoring a crop two maps at a time (the normalisation beside the reconstruction's
    statistics and the texture's prediction, the residual scorers beside the others, each
    thread taking the other's from the far end when done): the same table, column order
    included, as one thread scoring each in turn; with a marker (the prediction made ahead
    is not used: the mask is not empty) and without (it is)."""
    from weld_anomaly.model.detector import build_detector
    from weld_anomaly.score.scoring import score_fragments
    from weld_anomaly.score.texture import Predictor, PredictorSettings

    rng = np.random.default_rng(4)
    pixels = rng.integers(100, 140, (160, 224), dtype=np.uint8)
    pixels[60:66, 100:106] = 30
    if marker:
        pixels[20:40, 30:36] = 250
    _fragmented(tmp_path, pixels)
    frags = hdf5_io.read_fragments(tmp_path / "f.h5")
    crops, _ = hdf5_io.read_crops(tmp_path / "c.h5")
    kernel = np.zeros((9, 9))
    kernel[4, 0] = kernel[4, 8] = 0.5
    predictor = Predictor(kernel, 0.5, 100, PredictorSettings(hole=2, radius=4, step=2))
    common = dict(
        batch_size=8, median_size=21, sigma=1.0, contrast_sigmas=(1.5,),
        residual=ResidualSettings(
            sigmas=(1.0, 2.0, 3.0), lines=(4.0,), mask_z=3.0 if marker else 8.0,
            predictor=predictor,
        ),
        detector=build_detector((4, 4, 4)),
    )  # fmt: skip
    model = build_autoencoder(64, (4, 8, 8))
    tables, masks = {}, {}
    for threads in ("1", "2"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        tables[threads], _, masks[threads] = score_fragments(model, frags, crops, "img", **common)
    assert {"detector", "contrast_s1p5", "residual_l4", "mse"} <= set(tables["2"].columns)
    assert masks["2"][0].any() == marker
    pd.testing.assert_frame_equal(tables["2"], tables["1"], check_exact=True)
