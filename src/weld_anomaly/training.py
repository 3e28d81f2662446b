"""Train the autoencoder on non-faulty fragments and keep its history.

Outputs: the model (``.keras``, the weights with the best validation loss), its weights
alone (``.weights.h5``, byte-stable for DVC), and ``history.csv`` with one row per epoch
(loss, validation loss, seconds, fragments per second).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import keras
import numpy as np

from weld_anomaly import hdf5_io
from weld_anomaly.backend import describe_devices, set_precision
from weld_anomaly.data import FragmentBatches
from weld_anomaly.errors import UserError
from weld_anomaly.files import atomic_path, write_text
from weld_anomaly.model import build_autoencoder, compile_autoencoder

log = logging.getLogger(__name__)


class _Throughput(keras.callbacks.Callback):
    """Adds ``seconds`` and ``fragments_per_s`` to each epoch's logs and logs one line."""

    def __init__(self, n_fragments: int, epochs: int):
        super().__init__()
        self.n = n_fragments
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        if logs is not None:
            logs["seconds"] = seconds
            logs["fragments_per_s"] = self.n / seconds
        log.info(
            "epoch %d/%d: loss %.6f, val_loss %.6f, %.1f s, %.0f fragments/s",
            epoch + 1,
            self.epochs,
            (logs or {}).get("loss", float("nan")),
            (logs or {}).get("val_loss", float("nan")),
            seconds,
            self.n / seconds,
        )


def train(
    train_h5: str | Path,
    validation_h5: str | Path,
    model_out: str | Path,
    weights_out: str | Path,
    history_out: str | Path,
    info_out: str | Path,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    precision: str = "float32",
    architecture: str = "thesis",
    filters: tuple[int, ...] = (32, 64, 128),
) -> dict:
    """Train on ``train_h5``, validate on ``validation_h5``; write model, weights, history."""
    keras.utils.set_random_seed(seed)
    set_precision(precision)
    train_x, _ = hdf5_io.read_fragment_set(train_h5)
    val_x, _ = hdf5_io.read_fragment_set(validation_h5)
    if len(train_x) == 0:
        raise UserError(
            "the training set is empty: no non-faulty train images have fragments",
            where=str(train_h5),
            fix="add non-faulty images or change data.split",
        )
    size = int(train_x.shape[1])
    devices = describe_devices()
    log.info(
        "training on %d fragments (%d validation), backend %s %s, GPUs: %s",
        len(train_x),
        len(val_x),
        devices["backend"],
        devices.get("backend_version", ""),
        ", ".join(devices["gpus"]) or "none (CPU)",
    )

    model = compile_autoencoder(
        build_autoencoder(size, filters, architecture=architecture), learning_rate
    )
    batches = FragmentBatches(train_x, batch_size, shuffle=True, seed=seed)
    validation = FragmentBatches(val_x, batch_size) if len(val_x) else None
    monitor = "val_loss" if validation is not None else "loss"

    with atomic_path(history_out) as history_tmp, atomic_path(weights_out) as best_tmp:
        callbacks = [
            _Throughput(len(train_x), epochs),
            keras.callbacks.CSVLogger(str(history_tmp)),
            keras.callbacks.ModelCheckpoint(
                str(best_tmp), monitor=monitor, save_best_only=True, save_weights_only=True
            ),
        ]
        start = time.perf_counter()
        history = model.fit(
            batches,
            validation_data=validation,
            epochs=epochs,
            verbose=0,
            callbacks=callbacks,
            shuffle=False,
        )
        seconds = time.perf_counter() - start
        model.load_weights(best_tmp)
    with atomic_path(model_out) as tmp:
        model.save(tmp)

    losses = history.history.get(monitor, [])
    info = {
        "fragments_train": int(len(train_x)),
        "fragments_validation": int(len(val_x)),
        "epochs": int(epochs),
        "best_epoch": int(np.argmin(losses)) + 1 if losses else 0,
        "best_" + monitor: float(np.min(losses)) if losses else None,
        "train_seconds": round(seconds, 2),
        "fragments_per_s": round(len(train_x) * epochs / seconds, 1),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "precision": precision,
        "architecture": architecture,
        "parameters": int(model.count_params()),
        "seed": int(seed),
        **{k: v for k, v in devices.items()},
    }
    write_text(info_out, json.dumps(info, indent=2) + "\n")
    return info
