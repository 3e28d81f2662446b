"""The flaw detector: synthetic flaws, training that learns, tiled inference."""

import numpy as np
import pytest

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.model.detector import (
    DetectorSettings,
    PatchBatches,
    _prepared,
    build_detector,
    train_detector,
)
from weld_anomaly.model.injection import inject
from weld_anomaly.score.scorers import detect
from weld_anomaly.simulate import films

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


def _annotated_crop(tmp_path):
    """A weld crop with real-looking flaws (the demo's painter), its crops file and mask."""
    radiograph = films.render([11, 2], "crop", 192, 512, 8, flaw_contrast=1.6)
    pixels = np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8)
    path = tmp_path / "annotated.h5"
    hdf5_io.write_crops(path, "a", [hdf5_io.Crop("weld", 0, 0, 512, 192, pixels)], {})
    return path, pixels, radiograph


def test_annotation_targets_from_a_mask_or_from_the_dark_pixels_of_boxes(tmp_path):
    from weld_anomaly.ingest.manifests import Annotation
    from weld_anomaly.model.supervised import targets

    _, pixels, radiograph = _annotated_crop(tmp_path)
    mask = radiograph.defect_mask
    _, from_mask = targets(pixels, 0, 0, [], mask)
    # flaw pixels are targets (unless under a bright marker's mask: left out), none else
    assert (from_mask[mask] != 0).all() and (from_mask[mask] == 1).mean() > 0.9
    assert (from_mask[~mask] <= 0).all()
    boxes = [Annotation(*f.box, severity="likely") for f in radiograph.flaws]
    contrast, from_boxes = targets(pixels, 0, 0, boxes, None)
    inside = np.zeros(mask.shape, bool)
    for b in boxes:
        inside[b.y : b.y1, b.x : b.x1] = True
    assert (from_boxes[~inside] <= 0).all()  # outside every box: sound weld (or left out)
    assert set(np.unique(from_boxes[inside])) <= {-1.0, 1.0}  # a box: flaw or left out
    assert (from_boxes == 1).sum() > 0.3 * mask.sum()  # the dark part of the boxes is found
    # the crop's place in its image: boxes and mask are in image pixels
    shifted, target = targets(pixels[:, 100:], 100, 0, [], mask)
    assert ((target == 1) <= mask[:, 100:]).all() and (target[mask[:, 100:]] != 0).all()


def test_fine_tuning_on_annotated_flaws_raises_their_logits(tmp_path):
    import json

    import keras

    from weld_anomaly.model.supervised import (
        AnnotatedImage,
        SupervisedSettings,
        targets,
        train_supervised,
    )

    train_path, _ = _crops_file(tmp_path)
    annotated_path, pixels, radiograph = _annotated_crop(tmp_path)
    train_detector([train_path], tmp_path / "d.keras", tmp_path / "d.json", TINY)
    images = [AnnotatedImage("a", annotated_path, [], radiograph.defect_mask)]
    settings = SupervisedSettings(epochs=3, steps_per_epoch=16, learning_rate=0.005)
    info = train_supervised(
        tmp_path / "d.keras", [train_path], images, {"all": tmp_path / "all.keras"},
        tmp_path / "info.json", settings, TINY,
    )  # fmt: skip
    assert json.loads((tmp_path / "info.json").read_text()) == info
    assert info["folds"]["all"]["trained_on"] == ["a"]
    contrast, target = targets(pixels, 0, 0, [], radiograph.defect_mask)
    contrast = contrast.astype(np.float32)

    def pixel_auroc(path):  # flaw pixels against sound ones, by the detector's logit
        from weld_anomaly.score.metrics import roc_auc

        logits = detect(keras.saving.load_model(path, compile=False), contrast)
        return roc_auc(target[target >= 0] == 1, logits[target >= 0])

    # measured: 0.81 before, 0.87 after (a sign error in the targets or the loss: below)
    assert pixel_auroc(tmp_path / "all.keras") > pixel_auroc(tmp_path / "d.keras") + 0.03
