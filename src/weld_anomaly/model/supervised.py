"""Learning from the lab's annotations: the flaw detector fine-tuned on annotated welds.

Labs annotate some welds, and confirm findings in the viewer's review (its export is an
annotations file). When annotated images exist outside the test split (the faulty
validation images), a second detector, ``detector_supervised``, starts from the trained
unsupervised detector (:mod:`weld_anomaly.model.detector`) and trains further on patches of
those images, their annotated flaw pixels as targets, mixed with the sound training welds
and their synthetic flaws as before: a few annotated crops teach it what the lab's real
flaws look like on its films.

Evaluation stays honest:

- test images are never trained on (only validation images are annotated for training);
- the annotated validation images choose the flagging scorer, so each of them is scored by
  a model that did not see it: one model per left-out image (leave-one-out folds), besides
  the model trained on all of them, which scores everything else (sound validation images,
  test images, new radiographs); :func:`weld_anomaly.score.cross_fit.score_folds` scores
  them.

Targets: a defect mask's pixels (``data.annotation_masks``) are flaw pixels; with boxes
only, the pixels of a box that stand out darker than their surroundings (1 noise sd after
smoothing) are flaw pixels and the rest of the box is left out of the loss; everything
outside the annotations is sound weld; markers and film edges are left out.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from weld_anomaly.files import write_text
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.normalize import CONTRAST_RANGE as CLIP
from weld_anomaly.ingest.normalize import normalize
from weld_anomaly.model.detector import (
    DetectorSettings,
    PatchBatches,
    _training_crops,
    load_detector,
    weighted_logistic,
)

log = logging.getLogger(__name__)
ALL = "all"  # the fold of the model trained on every annotated image


@dataclass(frozen=True)
class SupervisedSettings:
    """``detector.supervised`` in the configuration."""

    epochs: int = 3
    steps_per_epoch: int = 60
    learning_rate: float = 0.001
    annotated_share: float = 0.5  # share of the patches cut from the annotated images

    @classmethod
    def from_config(cls, group: dict) -> SupervisedSettings:
        return cls(
            epochs=int(group["epochs"]),
            steps_per_epoch=int(group["steps_per_epoch"]),
            learning_rate=float(group["learning_rate"]),
            annotated_share=float(group["annotated_share"]),
        )


@dataclass
class AnnotatedImage:
    """One annotated image's inputs: its crops, its annotation boxes, its mask (or None)."""

    image_id: str
    crops_h5: str | Path
    boxes: list
    mask: np.ndarray | None = None


def targets(pixels: np.ndarray, x0: int, y0: int, boxes, mask, robust: bool = True):
    """A crop's contrast (float16) and its per-pixel target: 1 flaw, 0 sound, -1 left out.

    ``x0, y0``: the crop's place in its image (boxes and the mask are in image pixels)."""
    from scipy import ndimage

    norm = normalize(pixels, robust=robust)
    contrast = np.clip(norm.contrast, *CLIP)
    h, w = pixels.shape
    target = np.zeros((h, w), np.float32)
    if mask is not None:
        target[mask[y0 : y0 + h, x0 : x0 + w] > 0] = 1.0
    else:
        visible = ndimage.gaussian_filter(contrast, 1.5) > 1.0
        for box in boxes:
            ys = slice(max(box.y - y0, 0), max(min(box.y1 - y0, h), 0))
            xs = slice(max(box.x - x0, 0), max(min(box.x1 - x0, w), 0))
            target[ys, xs] = np.where(visible[ys, xs], 1.0, -1.0)
    target[norm.ignored] = -1.0
    return contrast.astype(np.float16), target


def annotated_patches(images: list[AnnotatedImage], robust: bool = True) -> list[tuple]:
    """Every crop of the annotated images as (contrast, target)."""
    out = []
    for image in images:
        for crop in hdf5_io.read_crops(image.crops_h5)[0]:
            out.append(targets(crop.pixels, crop.x, crop.y, image.boxes, image.mask, robust))
    return out


class MixedBatches(keras.utils.PyDataset):
    """Patches of the annotated crops (a share of them centred on a flaw pixel) and, for the
    rest, the unsupervised detector's patches (sound welds, half with synthetic flaws).
    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``."""

    def __init__(self, annotated, synthetic: PatchBatches, share: float, steps: int, seed: int):
        super().__init__()
        self.annotated, self.synthetic, self.share = annotated, synthetic, share
        self.steps, self.seed, self.epoch = steps, seed, 0
        sizes = np.array([c.size for c, _ in annotated], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.flaws = [np.argwhere(t > 0) for _, t in annotated]

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def _annotated(self, rng: np.random.Generator):
        p = self.synthetic.s.patch
        k = int(rng.choice(len(self.annotated), p=self.weights))
        contrast, target = self.annotated[k]
        h, w = contrast.shape
        if len(self.flaws[k]) and rng.random() < 0.6:  # around a flaw pixel
            cy, cx = self.flaws[k][int(rng.integers(len(self.flaws[k])))]
            y = int(np.clip(cy - rng.integers(0, p), 0, h - p))
            x = int(np.clip(cx - rng.integers(0, p), 0, w - p))
        else:
            y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        return contrast[y : y + p, x : x + p].astype(np.float32), target[y : y + p, x : x + p]

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, 0x5E9, self.epoch, index])
        pairs = [
            self._annotated(rng) if rng.random() < self.share else self.synthetic._patch(rng)
            for _ in range(self.synthetic.s.batch_size)
        ]
        x = np.stack([a for a, _ in pairs])[..., None]
        y = np.stack([b for _, b in pairs])[..., None]
        return x, y


def fine_tune(base, synthetic_crops, annotated, detector: DetectorSettings, s, seed: int):
    """The base detector trained further on the annotated and the synthetic patches."""
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    synthetic = PatchBatches(synthetic_crops, detector, s.steps_per_epoch, seed)
    batches = MixedBatches(annotated, synthetic, s.annotated_share, s.steps_per_epoch, seed)
    model.compile(
        optimizer=keras.optimizers.Adam(s.learning_rate),
        loss=weighted_logistic(detector.positive_weight),
    )
    history = model.fit(batches, epochs=s.epochs, verbose=0, shuffle=False)
    return model, [round(float(v), 5) for v in history.history["loss"]]


def train_supervised(
    detector_path: str | Path,
    train_crops_h5s: list[str | Path],
    annotated: list[AnnotatedImage],
    models_out: dict[str, str | Path],
    info_out: str | Path,
    settings: SupervisedSettings,
    detector: DetectorSettings,
    precision: str = "float32",
) -> dict:
    """Fine-tune the detector on the annotated images: the model of every fold in
    ``models_out`` (:data:`ALL`: all of them; an image id: all but that image)."""
    from weld_anomaly.model.backend import set_precision
    from weld_anomaly.model.training import save_model

    keras.utils.set_random_seed(detector.seed)
    precision = set_precision(precision)
    start = time.perf_counter()
    base = load_detector(detector_path)
    synthetic = _training_crops(train_crops_h5s, detector)
    prepared = {i.image_id: annotated_patches([i], detector.robust) for i in annotated}
    info = {"images": sorted(prepared), "precision": precision, "folds": {}}
    for fold, path in models_out.items():
        used = [i for i in sorted(prepared) if i != fold]
        patches = [p for i in used for p in prepared[i]]
        if not patches:
            raise ValueError(f"fold {fold!r} has no annotated image to train on")
        keras.utils.set_random_seed(detector.seed)
        model, losses = fine_tune(base, synthetic, patches, detector, settings, detector.seed)
        save_model(model, path)
        info["folds"][fold] = {"trained_on": used, "loss": losses}
        log.info("supervised detector %s: trained on %s, loss %s", fold, used, losses)
    info["seconds"] = round(time.perf_counter() - start, 1)
    write_text(info_out, json.dumps(info, indent=2) + "\n")
    return info


def annotated_images(
    crops_h5s: dict[str, str | Path], annotations_path: str | Path, mask_pngs: list
) -> list[AnnotatedImage]:
    """The annotated images to learn from: each image's crops, boxes and mask (if any);
    images without an annotation are left out."""
    from weld_anomaly.ingest.manifests import load_annotations, load_masks

    boxes = load_annotations(annotations_path)
    masks = load_masks(mask_pngs)
    return [
        AnnotatedImage(image_id, path, boxes.get(image_id, []), masks.get(image_id))
        for image_id, path in crops_h5s.items()
        if boxes.get(image_id) or image_id in masks
    ]
