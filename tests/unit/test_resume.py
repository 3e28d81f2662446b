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


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kill_minus_nine_then_resume_gives_the_uninterrupted_weights(tmp_path):
    tr = fragment_set(tmp_path / "train.h5", 1536, 0)
    va = fragment_set(tmp_path / "val.h5", 256, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def args(out):
        return {
            "train_h5": str(tr),
            "validation_h5": str(va),
            "model_out": str(out / "m.keras"),
            "weights_out": str(out / "m.weights.h5"),
            "history_out": str(out / "h.csv"),
            "info_out": str(out / "i.json"),
            "last_weights_out": str(out / "last.weights.h5"),
            "resume_dir": str(out / "resume"),
            "epochs": 4,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "seed": 5,
            "filters": [4, 8],
        }

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
