"""Train the autoencoder on non-faulty fragments, resumably and reproducibly.

Outputs: the model with the best validation loss (``.keras``), its weights alone
(``.weights.h5``, byte-stable for DVC), the last epoch's weights, ``history.csv`` (one row
per epoch: loss, validation loss, seconds, fragments per second) and a JSON summary.

Resume: after every epoch the full training state (model and optimizer, best weights so far,
history) is committed atomically to ``resume_dir``, a folder outside the rule's outputs so
that Snakemake does not delete it when a job dies. A job killed at any moment (even
``kill -9``) and started again continues from its last completed epoch and, on the CPU, ends
with exactly the weights of an uninterrupted run: the data order of epoch ``e`` depends only
on ``(seed, e)``, and early stopping counts from the saved history. The state is keyed by a
fingerprint of the settings and the training data, and removed once training completes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from weld_anomaly.errors import UserError
from weld_anomaly.files import atomic_path, write_text
from weld_anomaly.model.autoencoder import build_autoencoder, compile_autoencoder
from weld_anomaly.model.backend import describe_devices, set_precision
from weld_anomaly.model.batches import FragmentBatches, open_fragments

log = logging.getLogger(__name__)
HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "seconds", "fragments_per_s")


def _fingerprint(settings: dict, *files: str | Path) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in files:
        stat = Path(path).stat()
        digest.update(f"{Path(path).name}:{stat.st_size}".encode())
        with open(path, "rb") as handle:  # head and tail: cheap, and changes with the content
            digest.update(handle.read(1 << 20))
            handle.seek(max(stat.st_size - (1 << 20), 0))
            digest.update(handle.read())
    return digest.hexdigest()


class _Resume(keras.callbacks.Callback):
    """Commits the training state after each epoch; keeps best weights; early stopping."""

    def __init__(
        self,
        state_dir: Path,
        fingerprint: str,
        state: dict,
        n_fragments: int,
        epochs: int,
        monitor: str,
        patience: int,
        epoch_weights_dir: Path | None = None,
    ):
        super().__init__()
        self.epoch_weights_dir = epoch_weights_dir
        self.dir = state_dir
        self.fingerprint = fingerprint
        self.state = state
        self.n = n_fragments
        self.epochs = epochs
        self.monitor = monitor
        self.patience = patience

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._start
        row = {
            "epoch": epoch,
            "loss": float(logs.get("loss", np.nan)),
            "val_loss": float(logs.get("val_loss", np.nan)),
            "seconds": round(seconds, 3),
            "fragments_per_s": round(self.n / seconds, 1),
        }
        log.info(
            "epoch %d/%d: loss %.6f, val_loss %.6f, %.1f s, %.0f fragments/s",
            epoch + 1,
            self.epochs,
            row["loss"],
            row["val_loss"],
            seconds,
            row["fragments_per_s"],
        )
        if self.epoch_weights_dir is not None:  # a checkpoint per epoch, kept
            with atomic_path(self.epoch_weights_dir / epoch_weights_name(epoch + 1)) as tmp:
                self.model.save_weights(tmp)
        state = dict(self.state)
        state["history"] = [*state["history"], row]
        value = row[self.monitor]
        if state["best"] is None or value < state["best"]:
            best = self.dir / f"best-{epoch}.weights.h5"
            with atomic_path(best) as tmp:
                self.model.save_weights(tmp)
            state.update(best=value, best_epoch=epoch, best_weights=best.name)
        model_file = self.dir / f"state-{epoch}.keras"
        with atomic_path(model_file) as tmp:
            self.model.save(tmp)
        state.update(epoch=epoch + 1, model=model_file.name)
        write_text(self.dir / "state.json", json.dumps(state, indent=1))  # the commit point
        for old in self.dir.iterdir():  # files the new state no longer refers to
            if old.name not in ("state.json", state["model"], state["best_weights"]):
                old.unlink(missing_ok=True)
        self.state = state
        if self.patience and epoch - state["best_epoch"] >= self.patience:
            log.info(
                "early stopping: no improvement of %s for %d epochs", self.monitor, self.patience
            )
            self.model.stop_training = True


def epoch_weights_name(epoch: int) -> str:
    """File name of the weights after ``epoch`` (counted from 1) in ``epoch_weights_dir``."""
    return f"epoch-{epoch:03d}.weights.h5"


def _renumber_shared(config, ids: dict | None = None):
    """Replace Keras's ``shared_object_id`` values (Python object addresses) by 1, 2, ..."""
    ids = {} if ids is None else ids
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "shared_object_id":
                out[key] = ids.setdefault(value, len(ids) + 1)
            else:
                out[key] = _renumber_shared(value, ids)
        return out
    if isinstance(config, list):
        return [_renumber_shared(v, ids) for v in config]
    return config


def save_model(model: keras.Model, path: str | Path) -> None:
    """``model.save`` made byte-reproducible: fixed zip timestamps, no save date, and
    shared-object ids numbered in order.

    Keras stamps the save time into ``metadata.json`` and the weights entry of the ``.keras``
    zip and writes Python object addresses into ``config.json``; the same weights would
    then hash differently on every run, which DVC reports as a changed model.
    """
    import zipfile

    with atomic_path(path) as tmp:
        raw = tmp.with_name(tmp.name.removesuffix(".keras") + ".raw.keras")
        try:
            model.save(raw)
            with zipfile.ZipFile(raw) as src, zipfile.ZipFile(tmp, "w") as dst:
                for info in src.infolist():
                    data = src.read(info.filename)
                    if info.filename == "metadata.json":
                        meta = json.loads(data)
                        meta["date_saved"] = "1980-01-01@00:00:00"
                        data = json.dumps(meta).encode()
                    elif info.filename == "config.json":
                        data = json.dumps(_renumber_shared(json.loads(data))).encode()
                    fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                    fixed.compress_type = info.compress_type
                    fixed.external_attr = info.external_attr
                    dst.writestr(fixed, data)
        finally:
            raw.unlink(missing_ok=True)


def _load_state(state_dir: Path, fingerprint: str) -> dict | None:
    path = state_dir / "state.json"
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        state.get("fingerprint") != fingerprint
        or not (state_dir / state.get("model", "")).is_file()
    ):
        return None
    return state


def _history_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _open_sets(train_h5, validation_h5, memory_limit_mb: float):
    """The training and validation fragments (in memory or streamed) and their chunk sizes."""
    train_x, chunk = open_fragments(train_h5, memory_limit_mb)
    val_x, val_chunk = open_fragments(validation_h5, memory_limit_mb)
    if int(train_x.shape[0]) == 0:
        raise UserError(
            "the training set is empty: no non-faulty train images have fragments",
            where=str(train_h5),
            fix="add non-faulty images or change data.split",
        )
    return train_x, chunk, val_x, val_chunk


def _batches(train_h5, validation_h5, settings: dict, *, memory_limit_mb: float, workers: int):
    """The training batches (shuffled, corrupted) and validation batches; what they hold."""
    train_x, chunk, val_x, val_chunk = _open_sets(train_h5, validation_h5, memory_limit_mb)
    n_train, n_val = int(train_x.shape[0]), int(val_x.shape[0])
    source = "in memory" if isinstance(train_x, np.ndarray) else "streamed from HDF5"
    devices = describe_devices()
    log.info(
        "training on %d fragments (%d validation; %s), backend %s %s, GPUs: %s",
        n_train,
        n_val,
        source,
        devices["backend"],
        devices.get("backend_version", ""),
        ", ".join(devices["gpus"]) or "none (CPU)",
    )
    batches = FragmentBatches(
        train_x,
        settings["batch_size"],
        shuffle=True,
        seed=settings["seed"],
        chunk=chunk,
        workers=workers,
        corruption=settings["corruption"],
        blemish_max_radius=settings["blemish_max_radius"],
        per_epoch=settings.get("fragments_per_epoch"),
    )
    validation = FragmentBatches(val_x, settings["batch_size"], chunk=val_chunk) if n_val else None
    info = {
        "fragments_train": n_train,
        "fragments_validation": n_val,
        "size": int(train_x.shape[1]),
        "input": source,
        "devices": devices,
    }
    return batches, validation, info


def _start_or_resume(state_dir: Path, fingerprint: str, build) -> tuple[dict, keras.Model]:
    """The saved training state and model when they match ``fingerprint``; else fresh ones."""
    state = _load_state(state_dir, fingerprint)
    if state is not None:
        log.info("resuming after epoch %d from %s", state["epoch"], state_dir)
        return state, keras.saving.load_model(state_dir / state["model"])
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "fingerprint": fingerprint,
        "epoch": 0,
        "history": [],
        "best": None,
        "best_epoch": -1,
        "best_weights": "",
        "model": "",
    }
    return state, build()


def _finished(state: dict, epochs: int, patience: int) -> bool:
    """Whether a (resumed) run has nothing left to train."""
    return state["epoch"] >= epochs or bool(
        patience and state["epoch"] - 1 - state["best_epoch"] >= patience
    )


def _summary(state: dict, settings: dict, model, n_train: int, n_val: int, extra: dict) -> dict:
    """The training summary written as JSON next to the model."""
    history = state["history"]
    seconds = sum(r["seconds"] for r in history)
    return {
        "fragments_train": n_train,
        "fragments_validation": n_val,
        "epochs": int(settings["epochs"]),
        "epochs_run": len(history),
        "best_epoch": state["best_epoch"] + 1,
        "best_" + extra.pop("monitor"): state["best"],
        "train_seconds": round(seconds, 2),
        "fragments_per_s": round(extra.pop("seen") * len(history) / max(seconds, 1e-9), 1),
        "resumed_after_epoch": extra.pop("resumed_at"),
        "batch_size": int(settings["batch_size"]),
        "learning_rate": float(settings["learning_rate"]),
        "precision": settings["precision"],
        "corruption": settings["corruption"],
        "blemish_max_radius": settings["blemish_max_radius"],
        "architecture": settings["architecture"],
        "parameters": int(model.count_params()),
        "seed": int(settings["seed"]),
        **extra,
    }


def _resumable(state_dir: Path, settings: dict, sources, batches, info: dict, epoch_dir):
    """The model and the callback that commits its state after every epoch (resumed when a
    saved state matches these settings and training files)."""
    fingerprint = _fingerprint(settings, *sources)
    state, model = _start_or_resume(
        state_dir,
        fingerprint,
        lambda: compile_autoencoder(
            build_autoencoder(
                info["size"], tuple(settings["filters"]), architecture=settings["architecture"]
            ),
            settings["learning_rate"],
        ),
    )
    callback = _Resume(
        state_dir,
        fingerprint,
        state,
        batches.seen_per_epoch,
        settings["epochs"],
        info["monitor"],
        settings["early_stopping_patience"],
        epoch_dir,
    )
    return callback, model


def _fit(model, batches, validation, callback: _Resume, epochs: int, patience: int) -> None:
    """Train the epochs that are left (none when a resumed run had finished)."""
    if _finished(callback.state, epochs, patience):
        return
    first = callback.state["epoch"]
    model.fit(
        batches.epochs(first, epochs, batches.workers),  # (batches.workers prepare them)
        steps_per_epoch=len(batches),
        validation_data=validation,
        epochs=epochs,
        initial_epoch=first,
        verbose=0,
        callbacks=[callback],
        shuffle=False,
    )


def _folder(path: str | Path | None) -> Path | None:
    """``path`` as a folder that exists (None stays None)."""
    if path is None:
        return None
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def _save_outputs(model, state: dict, state_dir: Path, outputs: dict, history_out) -> None:
    """The last weights, then the best model and weights, and the history."""
    if outputs["last_weights"]:
        with atomic_path(outputs["last_weights"]) as tmp:
            model.save_weights(tmp)
    model.load_weights(state_dir / state["best_weights"])
    with atomic_path(outputs["weights"]) as tmp:
        model.save_weights(tmp)
    save_model(model, outputs["model"])
    write_text(history_out, _history_csv(state["history"]))


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
    last_weights_out: str | Path | None = None,
    resume_dir: str | Path | None = None,
    early_stopping_patience: int = 0,
    memory_limit_mb: float = 4096,
    workers: int = 1,
    corruption: str = "none",
    blemish_max_radius: float = 12.0,
    epoch_weights_dir: str | Path | None = None,
    fragments_per_epoch: int | None = None,
) -> dict:
    """Train on ``train_h5``, validate on ``validation_h5``; write model, weights, history.

    ``epoch_weights_dir``: also keep the weights after every epoch there
    (:func:`epoch_weights_name`), e.g. to compare training lengths from one run.
    ``fragments_per_epoch``: show each epoch a random part of this size (None: all).
    """
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "precision": precision,
        "corruption": corruption,
        "blemish_max_radius": blemish_max_radius,
        "architecture": architecture,
        "filters": list(filters),
        "early_stopping_patience": early_stopping_patience,
        "fragments_per_epoch": fragments_per_epoch,
    }
    keras.utils.set_random_seed(seed)
    settings["precision"] = set_precision(precision)  # ("auto": what it chose here)
    batches, validation, info = _batches(
        train_h5, validation_h5, settings, memory_limit_mb=memory_limit_mb, workers=workers
    )
    n_train, n_val = info["fragments_train"], info["fragments_validation"]
    monitor = "val_loss" if validation is not None else "loss"

    state_dir = Path(resume_dir or Path(weights_out).parent / ".resume")
    callback, model = _resumable(
        state_dir,
        settings,
        (train_h5, validation_h5),
        batches,
        {**info, "monitor": monitor},
        _folder(epoch_weights_dir),
    )
    resumed_at = callback.state["epoch"]
    _fit(model, batches, validation, callback, epochs, early_stopping_patience)
    state = callback.state
    _save_outputs(
        model,
        state,
        state_dir,
        {"last_weights": last_weights_out, "weights": weights_out, "model": model_out},
        history_out,
    )
    extra = {"monitor": monitor, "resumed_at": resumed_at, "input": info["input"]}
    extra["seen"] = batches.seen_per_epoch
    extra.update(info["devices"])
    summary = _summary(state, settings, model, n_train, n_val, extra)
    write_text(info_out, json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(state_dir, ignore_errors=True)  # done: a later run starts afresh
    return summary
