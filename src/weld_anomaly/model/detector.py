"""The flaw detector: a small fully convolutional network that marks flaw pixels.

Trained from scratch, on the training images only, without any annotated flaw: patches of
the sound training welds on the one grey scale (:mod:`weld_anomaly.ingest.normalize`) get
synthetic flaws injected (:mod:`weld_anomaly.model.injection`), and the network learns to
outline them pixel by pixel (a DRAEM-style segmentation objective). It sees everything a
sound weld shows (grain, ripple, the bead's flanks, streaks, specks, the remains of
markers) as "no flaw", and flaws of every size and contrast as "flaw": a matched filter
learnt for this film's texture instead of assumed.

Real "non-faulty" films carry a few unmarked flaws. The darkest 0.2 % of each training
crop (what such a flaw would be) is left out of the loss unless a synthetic flaw lies
there, so the network is never taught that a real flaw is sound weld.

The architecture is a U-Net of ``filters`` (two 3x3 convolutions per level, two
poolings): receptive field ~40 px, ~50 k parameters at (12, 24, 48); it runs on a crop of
any size (tiled, :func:`weld_anomaly.score.scorers.detect`). Its output is a logit per
pixel; a fragment's score is the largest logit inside it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from weld_anomaly.errors import UserError
from weld_anomaly.files import write_text
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.normalize import CONTRAST_RANGE as CLIP
from weld_anomaly.ingest.normalize import normalize
from weld_anomaly.model.injection import inject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorSettings:
    """``detector`` in the configuration."""

    filters: tuple[int, ...] = (12, 24, 48)
    patch: int = 64
    epochs: int = 6
    steps_per_epoch: int = 150
    batch_size: int = 32
    learning_rate: float = 0.002
    flaw_share: float = 0.5  # patches that get synthetic flaws
    ignore_darkest: float = 0.002  # share of each training crop left out of the loss
    positive_weight: float = 3.0
    seed: int = 0
    robust: bool = True  # the normalisation's (score.robust_normalisation)

    @classmethod
    def from_config(cls, group: dict) -> DetectorSettings:
        return cls(
            filters=tuple(group["filters"]),
            patch=int(group["patch"]),
            epochs=int(group["epochs"]),
            steps_per_epoch=int(group["steps_per_epoch"]),
            batch_size=int(group["batch_size"]),
            learning_rate=float(group["learning_rate"]),
            flaw_share=float(group["flaw_share"]),
            ignore_darkest=float(group["ignore_darkest"]),
            positive_weight=float(group["positive_weight"]),
            seed=int(group["seed"]),
        )


def build_detector(filters=(12, 24, 48)) -> keras.Model:
    """A small U-Net: contrast in, one logit per pixel out (any size divisible by 4)."""
    from keras import layers

    def block(x, n):
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(n, 3, padding="same", activation="relu")(x)

    inputs = keras.Input((None, None, 1))
    skips, x = [], inputs
    for n in filters[:-1]:
        x = block(x, n)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = block(x, filters[-1])
    for n, skip in zip(reversed(filters[:-1]), reversed(skips), strict=True):
        x = layers.UpSampling2D(2)(x)
        x = layers.Concatenate()([x, skip])
        x = block(x, n)
    logits = layers.Conv2D(1, 1, dtype="float32")(x)
    return keras.Model(inputs, logits, name="flaw_detector")


def weighted_logistic(positive_weight: float):
    """Per-pixel logistic loss; targets carry 0, 1, or -1 for pixels left out."""
    from keras import ops

    def loss(target, logits):
        keep = ops.cast(target >= 0, "float32")
        y = ops.clip(target, 0.0, 1.0)
        per_pixel = positive_weight * y * ops.softplus(-logits) + (1 - y) * ops.softplus(logits)
        return ops.sum(per_pixel * keep) / ops.maximum(ops.sum(keep), 1.0)

    return loss


def _prepared(pixels: np.ndarray, ignore_darkest: float, norm=None, robust: bool = True):
    """A training crop's contrast (float16) and where the loss looks.

    Left out: markers and edges, and the darkest ``ignore_darkest`` of the crop where it
    forms spots of a flaw's size (30 px or more: unmarked flaws); isolated dark specks
    stay in, so the detector learns that specks are sound film.
    """
    from scipy import ndimage

    norm = normalize(pixels, robust=robust) if norm is None else norm
    contrast = np.clip(norm.contrast, *CLIP)
    smooth = ndimage.gaussian_filter(contrast, 1.5)
    inspectable = ~norm.ignored
    cut = np.quantile(smooth[inspectable], 1 - ignore_darkest) if inspectable.any() else np.inf
    dark = smooth > max(cut, 2.0)
    labels, n = ndimage.label(dark)
    if n:
        sizes = ndimage.sum(dark, labels, np.arange(1, n + 1))
        dark = np.isin(labels, 1 + np.nonzero(sizes >= 30)[0])
    suspicious = ndimage.binary_dilation(dark, iterations=3)
    return contrast.astype(np.float16), inspectable & ~suspicious


class PatchBatches(keras.utils.PyDataset):
    """Random patches of the training crops, half of them with synthetic flaws.

    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: CPU training is
    reproducible and a resumed run sees the same data.
    """

    def __init__(self, crops, settings: DetectorSettings, steps: int, seed: int):
        super().__init__()
        self.crops, self.s, self.steps, self.seed = crops, settings, steps, seed
        sizes = np.array([c.size for c, _ in crops], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def _patch(self, rng: np.random.Generator):
        p = self.s.patch
        contrast, look = self.crops[int(rng.choice(len(self.crops), p=self.weights))]
        y = int(rng.integers(0, contrast.shape[0] - p + 1))
        x = int(rng.integers(0, contrast.shape[1] - p + 1))
        patch = contrast[y : y + p, x : x + p].astype(np.float32)
        target = np.where(look[y : y + p, x : x + p], 0.0, -1.0).astype(np.float32)
        if rng.random() < self.s.flaw_share:
            patch, flaw = inject(rng, patch)
            target[flaw] = 1.0
        return np.clip(patch, *CLIP), target

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        pairs = [self._patch(rng) for _ in range(self.s.batch_size)]
        x = np.stack([a for a, _ in pairs])[..., None]
        y = np.stack([b for _, b in pairs])[..., None]
        return x, y


def _training_crops(crops_h5s, settings: DetectorSettings):
    crops = []
    for path in crops_h5s:
        for crop in hdf5_io.read_crops(path)[0]:
            if min(crop.pixels.shape) >= settings.patch:
                crops.append(
                    _prepared(crop.pixels, settings.ignore_darkest, robust=settings.robust)
                )
    if not crops:
        raise UserError(
            "no training crop is large enough for the detector's patches",
            where="detector.patch",
            fix="use crops of at least detector.patch pixels, or a smaller patch",
        )
    return crops


def train_detector(
    crops_h5s: list[str | Path],
    model_out: str | Path,
    info_out: str | Path,
    settings: DetectorSettings,
    precision: str = "float32",
) -> dict:
    """Train the detector on the training images' crops; write the model and a summary."""
    from weld_anomaly.model.backend import set_precision
    from weld_anomaly.model.training import save_model

    keras.utils.set_random_seed(settings.seed)
    precision = set_precision(precision)  # ("auto": what it chose here)
    start = time.perf_counter()
    crops = _training_crops(crops_h5s, settings)
    prepared = time.perf_counter() - start
    batches = PatchBatches(crops, settings, settings.steps_per_epoch, settings.seed)
    model = build_detector(settings.filters)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=weighted_logistic(settings.positive_weight),
    )
    history = model.fit(batches, epochs=settings.epochs, verbose=0, shuffle=False)
    losses = [round(float(v), 5) for v in history.history["loss"]]
    save_model(model, model_out)  # byte-stable: DVC sees the same model as the same
    info = {
        "crops": len(crops),
        "pixels": int(sum(c.size for c, _ in crops)),
        "patches_per_epoch": settings.steps_per_epoch * settings.batch_size,
        "epochs": settings.epochs,
        "loss": losses,
        "parameters": int(model.count_params()),
        "prepare_seconds": round(prepared, 1),
        "train_seconds": round(time.perf_counter() - start - prepared, 1),
        "precision": precision,
    }
    write_text(info_out, json.dumps(info, indent=2) + "\n")
    log.info("detector: loss %s, %.0f s", losses, info["train_seconds"])
    return info


def load_detector(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            "the flaw detector's model is missing",
            where=str(path),
            fix="run the workflow (snakemake) to train it, or set score.detector to false",
        )
    return keras.saving.load_model(path, compile=False)
