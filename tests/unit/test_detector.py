"""The flaw detector: synthetic flaws, training that learns, tiled inference."""

import numpy as np
import pytest

from weld_anomaly.ingest import films, hdf5_io
from weld_anomaly.model.detector import (
    DetectorSettings,
    PatchBatches,
    _prepared,
    build_detector,
    train_detector,
)
from weld_anomaly.model.injection import inject
from weld_anomaly.score.scorers import detect

TINY = DetectorSettings(
    filters=(4, 8),
    patch=32,
    epochs=6,
    steps_per_epoch=16,
    batch_size=16,
    seed=1,
    learning_rate=0.005,
)


def test_injected_flaws_are_darker_where_their_mask_is():
    rng = np.random.default_rng(0)
    patch = rng.normal(0, 1, (64, 64)).astype(np.float32)
    for _ in range(20):
        out, mask = inject(rng, patch)
        if mask.sum() < 10:
            continue
        added = out - patch
        assert added[mask].mean() >= 0.9  # at least one noise sd darker, on average
        assert added[mask].mean() > 3 * abs(added[~mask].mean())


def _crops_file(tmp_path, seed=0):
    radiograph = films.render([seed, 1], "crop", 192, 512, 0)
    pixels = np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8)
    path = tmp_path / f"c{seed}.h5"
    hdf5_io.write_crops(path, f"img{seed}", [hdf5_io.Crop("weld", 0, 0, 512, 192, pixels)], {})
    return path, pixels


def test_patches_are_reproducible_and_half_hold_flaws(tmp_path):
    _, pixels = _crops_file(tmp_path)
    crops = [_prepared(pixels, 0.002)]
    a = PatchBatches(crops, TINY, 4, seed=3)[1]
    b = PatchBatches(crops, TINY, 4, seed=3)[1]
    np.testing.assert_array_equal(a[0], b[0])
    with_flaws = (a[1] > 0.5).any(axis=(1, 2, 3)).mean()
    assert 0.2 <= with_flaws <= 0.8
    assert a[0].shape == (16, 32, 32, 1) and set(np.unique(a[1])) <= {-1.0, 0.0, 1.0}


def test_training_lowers_the_loss_and_the_detector_finds_a_cavity(tmp_path):
    path, pixels = _crops_file(tmp_path)
    info = train_detector([path], tmp_path / "d.keras", tmp_path / "d.json", TINY)
    assert info["loss"][-1] < info["loss"][0]  # it learns
    import keras

    model = keras.saving.load_model(tmp_path / "d.keras", compile=False)
    contrast = np.random.default_rng(2).normal(0, 1, (100, 130)).astype(np.float32)
    yy, xx = np.mgrid[0:100, 0:130]
    contrast += 8 * (((yy - 50) ** 2 + (xx - 70) ** 2) < 25)  # a dark pore, 8 sd
    logits = detect(model, contrast)
    assert logits.shape == contrast.shape
    assert logits[45:56, 65:76].max() > np.percentile(logits, 99)


def test_detection_is_the_same_tiled_or_whole():
    model = build_detector((4, 8))
    contrast = np.random.default_rng(3).normal(0, 1, (600, 700)).astype(np.float32)
    whole = np.asarray(model.predict_on_batch(contrast[None, :600, :700, None]))[0, ..., 0]
    tiled = detect(model, contrast)
    assert tiled[100:500, 100:600] == pytest.approx(whole[100:500, 100:600], abs=1e-4)
