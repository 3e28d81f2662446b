"""A training job killed at any moment resumes from its last epoch and ends identically."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from weld_anomaly.ingest import hdf5_io

RUNNER = """
import json, sys
from weld_anomaly.model.backend import configure
configure("tensorflow", 2)
from weld_anomaly.model.training import train
info = train(**json.loads(sys.argv[1]))
print(json.dumps(info))
"""


def fragment_set(path, n, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 200, (n, 1, 1), dtype=np.uint8)
    frags = (base + rng.integers(0, 30, (n, 32, 32), dtype=np.uint8)).astype(np.uint8)
    one = path.with_suffix(".one.h5")
    hdf5_io.write_fragments(
        one, hdf5_io.Fragments(frags, np.zeros((n, 2), int), np.zeros(n, int), ["c"], {})
    )
    hdf5_io.write_fragment_set(path, [one], ["x"])
    return path


def run(args: dict, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def training_args(train, validation, out, **extra) -> dict:
    """Arguments of ``train`` for a tiny model writing into the folder ``out``."""
    return {
        "train_h5": str(train),
        "validation_h5": str(validation),
        "model_out": str(out / "m.keras"),
        "weights_out": str(out / "m.weights.h5"),
        "history_out": str(out / "h.csv"),
        "info_out": str(out / "i.json"),
        "batch_size": 32,
        "learning_rate": 1e-3,
        "seed": 5,
        "filters": [4, 8],
        **extra,
    }


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kill_minus_nine_then_resume_gives_the_uninterrupted_weights(tmp_path):
    tr = fragment_set(tmp_path / "train.h5", 1536, 0)
    va = fragment_set(tmp_path / "val.h5", 256, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def args(out):
        return training_args(
            tr,
            va,
            out,
            epochs=4,
            last_weights_out=str(out / "last.weights.h5"),
            resume_dir=str(out / "resume"),
        )

    straight = run(args(tmp_path / "straight"), env)
    assert straight.wait(timeout=600) == 0, straight.stderr.read()

    killed = tmp_path / "killed"
    proc = run(args(killed), env)
    state = killed / "resume" / "state.json"
    deadline = time.time() + 600
    while time.time() < deadline:
        if state.exists() and json.loads(state.read_text() or "{}").get("epoch", 0) >= 2:
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(0.3)  # somewhere inside epoch 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "m.weights.h5").exists()
    assert json.loads(state.read_text())["epoch"] in (2, 3)

    resumed = run(args(killed), env)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    info = json.loads(out.strip().splitlines()[-1])
    assert info["resumed_after_epoch"] in (2, 3) and info["epochs_run"] == 4
    for name in ("m.weights.h5", "last.weights.h5"):
        assert digest(killed / name) == digest(tmp_path / "straight" / name)
    assert (killed / "h.csv").read_text().count("\n") == 5
    assert not (killed / "resume").exists()


def test_batches_prepared_in_threads_and_streamed_train_the_same_weights(tmp_path):
    """`train.workers: 2` (batches prepared in threads while the model computes) and a set
    streamed from disk give, bit for bit, the weights of one thread and a set in memory."""
    tr = fragment_set(tmp_path / "train.h5", 640, 0)
    va = fragment_set(tmp_path / "val.h5", 128, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def args(out, **extra):
        return training_args(tr, va, out, epochs=3, corruption="blemishes", **extra)

    runs = {
        "one thread, in memory": args(tmp_path / "a", workers=1),
        "two threads, streamed": args(tmp_path / "b", workers=2, memory_limit_mb=0),
    }
    for name, arguments in runs.items():
        out, err = run(arguments, env).communicate(timeout=600)
        assert out.strip(), (name, err)
    first = json.loads((tmp_path / "a" / "i.json").read_text())
    second = json.loads((tmp_path / "b" / "i.json").read_text())
    assert (first["input"], second["input"]) == ("in memory", "streamed from HDF5")
    assert digest(tmp_path / "a" / "m.weights.h5") == digest(tmp_path / "b" / "m.weights.h5")

    def losses(folder):  # the history without its timings
        return [line.split(",")[:3] for line in (folder / "h.csv").read_text().splitlines()]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")
