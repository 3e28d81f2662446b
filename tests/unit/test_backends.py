"""The same model, training loop and scoring run on every Keras backend."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

RUNNER = """
import json, sys, pathlib
from weld_anomaly.model.backend import configure
configure(sys.argv[1], 2)
import numpy as np
import keras
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.score.scoring import score_image
from weld_anomaly.model.training import train

tmp = pathlib.Path(sys.argv[2])
rng = np.random.default_rng(0)
frags = rng.integers(80, 180, (96, 64, 64), dtype=np.uint8)
hdf5_io.write_fragments(tmp / "one.h5", hdf5_io.Fragments(
    frags, np.zeros((96, 2), int), np.zeros(96, int), ["c"], {}))
hdf5_io.write_fragment_set(tmp / "train.h5", [tmp / "one.h5"], ["x"])
info = train(tmp / "train.h5", tmp / "train.h5", tmp / "m.keras", tmp / "m.weights.h5",
             tmp / "h.csv", tmp / "i.json", epochs=2, batch_size=16, learning_rate=1e-3,
             seed=1, filters=(4, 8, 8), resume_dir=tmp / "resume")
crop = rng.integers(80, 180, (64, 96), dtype=np.uint8)
hdf5_io.write_crops(tmp / "c.h5", "img", [hdf5_io.Crop("w", 0, 0, 96, 64, crop)], {})
from weld_anomaly.ingest.preprocess import fragment_crops
fragment_crops(tmp / "c.h5", tmp / "f.h5", 64, 32)
table = score_image(tmp / "m.keras", tmp / "f.h5", tmp / "c.h5", tmp / "s.csv", "img",
                    batch_size=4, median_size=21, sigma=1.0)
print(json.dumps({"backend": keras.backend.backend(), "epochs": info["epochs_run"],
                  "val": info["best_val_loss"], "rows": len(table),
                  "mse": float(table["mse"].mean())}))
"""


@pytest.mark.parametrize(
    "backend",
    [
        "tensorflow",
        "jax",
        pytest.param(
            "torch",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("torch") is None,
                reason="PyTorch is not installed (see `make test-torch`)",
            ),
        ),
    ],
)
def test_train_and_score_on_backend(backend, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "KERAS_BACKEND": backend}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, backend, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend and result["epochs"] == 2 and result["rows"] == 2
    assert 0 < result["val"] < 0.2 and 0 < result["mse"] < 0.2
    # nothing of the backend's own start-up chatter on a machine where nothing is wrong
    # (TensorFlow: "oneDNN custom operations are on", absl's "before InitializeLog", the
    # E0000 "oneDNN supports DT_INT32 only on platforms with AVX-512" of AVX-512 hosts)
    noise = [line for line in proc.stderr.splitlines() if NOISE.search(line)]
    assert not noise, noise


NOISE = re.compile(r"oneDNN|InitializeLog|cpu_feature_guard|^[IWE]\d{4} ")


CHATTY = """
import os, sys
from weld_anomaly.model.backend import without_start_up_chatter
try:
    with without_start_up_chatter():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                 b"written to STDERR\\n")
        os.write(2, b"I0000 00:00:1796612162.049536    2591 port.cc:153] oneDNN custom "
                 b"operations are on. You may see slightly different numerical results\\n")
        os.write(2, b"E0000 00:00:1.5 7 cuda_driver.cc:152] failed call to cuInit\\n")
        print("a warning of Python's", file=sys.stderr)
        raise ImportError("what the import said")
except ImportError as exc:
    print(exc, file=sys.stderr)
print("stdout")
"""


def test_start_up_chatter_is_dropped_and_nothing_else():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", CHATTY], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "stdout\n"
    assert proc.stderr == (
        "E0000 00:00:1.5 7 cuda_driver.cc:152] failed call to cuInit\n"
        "a warning of Python's\nwhat the import said\n"
    )


def test_without_a_temporary_folder_the_lines_pass_as_they_are(monkeypatch, capfd):
    import tempfile

    from weld_anomaly.model.backend import without_start_up_chatter

    def refused():
        raise PermissionError("no temporary folder")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with without_start_up_chatter():
        os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on.\n")
    assert "oneDNN custom operations" in capfd.readouterr().err


def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_units():
    from weld_anomaly.model.backend import cpu_bf16_flags, resolve_precision

    sapphire = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile\n"
    zen4 = "flags\t\t: fpu avx2 avx512f avx512_bf16\n"
    zen2 = "flags\t\t: fpu sse2 avx2 fma\n"
    assert cpu_bf16_flags(sapphire) == ["amx_bf16"]
    assert cpu_bf16_flags(zen4) == ["avx512_bf16"]
    assert cpu_bf16_flags(zen2) == []
    here = "mixed_bfloat16" if cpu_bf16_flags() else "float32"
    assert resolve_precision("auto", gpus=[]) == here
    assert resolve_precision("auto", gpus=["GPU:0"]) == "float32"  # a GPU: choose yourself
    assert resolve_precision("mixed_float16", gpus=[]) == "mixed_float16"
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("bf16", gpus=[])
