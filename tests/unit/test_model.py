"""The autoencoder on the CPU backend: shape, size, and reproducible training."""

import hashlib

from conftest import fragment_set

from weld_anomaly.model.autoencoder import build_autoencoder
from weld_anomaly.model.training import train


def test_thesis_architecture():
    model = build_autoencoder(64)
    assert model.output_shape == (None, 64, 64, 1)
    assert model.count_params() == 332_801
    names = [layer.__class__.__name__ for layer in model.layers]
    assert names.count("Conv2D") == 3 and names.count("MaxPooling2D") == 3
    assert names.count("Conv2DTranspose") == 4 and names.count("UpSampling2D") == 3


def test_training_is_reproducible_on_cpu(tmp_path):
    tr = fragment_set(tmp_path / "train.h5", 96, 0)
    va = fragment_set(tmp_path / "val.h5", 32, 1)
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run
        info = train(
            tr,
            va,
            out / "m.keras",
            out / "m.weights.h5",
            out / "h.csv",
            out / "i.json",
            epochs=2,
            batch_size=16,
            learning_rate=1e-3,
            seed=7,
            filters=(4, 8),
        )
        digests.append(hashlib.sha256((out / "m.weights.h5").read_bytes()).hexdigest())
        digests.append(hashlib.sha256((out / "m.keras").read_bytes()).hexdigest())
        history = (out / "h.csv").read_text().splitlines()
        assert history[0].startswith("epoch") and len(history) == 3
        assert "fragments_per_s" in history[0]
    assert digests[0] == digests[2] and digests[1] == digests[3]  # weights and .keras
    import keras

    keras.saving.load_model(tmp_path / "a" / "m.keras")  # still a valid model file
    assert info["fragments_train"] == 96 and info["epochs"] == 2 and info["best_epoch"] in (1, 2)
