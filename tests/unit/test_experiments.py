"""The thesis experiments' data, models and numbers (the workflow runs them in
tests/workflow/test_workflow.py::test_experiments_target)."""

import hashlib
import json

import numpy as np
import pytest
from conftest import fragment_set

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.model.training import epoch_weights_name, train
from weld_anomaly.workflow import experiments


def test_lines_are_one_line_across_in_the_asked_orientation():
    rng = np.random.default_rng(0)
    vertical = experiments.lines(20, 24, False, rng)
    horizontal = experiments.lines(20, 24, True, rng)
    assert vertical.shape == (20, 24, 24)
    for v, h in zip(vertical, horizontal, strict=True):
        # a vertical line: every row is the same; a horizontal one: every column
        assert np.all(v == v[0]) and np.all(h == h[:, :1])
        assert v.max() > 0.5 and v.min() == pytest.approx(experiments.BACKGROUND)
        assert 1 <= int((v[0] > experiments.BACKGROUND).sum()) <= 2


def test_discs_have_the_asked_radius_and_clutter_only_when_asked():
    rng = np.random.default_rng(1)
    size = 64
    small = experiments.discs(30, size, (0.08, 0.12), rng)
    large = experiments.discs(30, size, (0.13, 0.17), rng)
    radius = lambda x: np.sqrt((x > 0.45).sum(axis=(1, 2)) / np.pi) / size  # noqa: E731
    assert np.all((radius(small) > 0.07) & (radius(small) < 0.13))
    assert np.all((radius(large) > 0.12) & (radius(large) < 0.18))
    clean = experiments.discs(5, size, (0.1, 0.1), np.random.default_rng(2))
    dirty = experiments.discs(5, size, (0.1, 0.1), np.random.default_rng(2), noise=0.05, clutter=6)
    assert clean.min() == pytest.approx(experiments.BACKGROUND)
    assert np.std(dirty[clean == experiments.BACKGROUND]) > 0.03
    assert dirty.min() >= 0 and dirty.max() <= 1


def test_digits_are_the_real_handwritten_set():
    images, classes = experiments.digits(32)
    assert images.shape == (1797, 32, 32) and images.dtype == np.float32
    assert sorted(set(classes.tolist())) == list(range(10))
    assert images.min() >= experiments.BACKGROUND - 1e-6 and images.max() <= 0.95 + 1e-6
    # the strokes are there: a 0 has a hole in the middle, a 1 does not
    zero, one = images[classes == 0].mean(axis=0), images[classes == 1].mean(axis=0)
    assert zero[16, 16] < zero[16, 8] and one[16, 16] > one[16, 4]


def test_sizes_the_pooling_cannot_halve_are_padded_and_cut_back():
    assert experiments.padded_size(28, 3) == 32
    assert experiments.padded_size(28, 2) == 28
    assert experiments.padded_size(64, 3) == 64
    x = np.random.default_rng(0).random((2, 28, 28)).astype(np.float32)
    padded = experiments._pad(x, 32, 0.2)
    assert padded.shape == (2, 32, 32) and padded[0, 0, 0] == pytest.approx(0.2)
    assert np.array_equal(experiments._unpad(padded, 28), x)


def test_separation_is_the_auroc_of_higher_error_for_faulty():
    normal = {"mse": np.array([0.1, 0.2, 0.3])}
    faulty = {"mse": np.array([0.25, 0.4])}
    # pairs (faulty > normal): 0.25 beats 0.1, 0.2; 0.4 beats all three -> 5 of 6
    assert experiments.separation(normal, faulty)["mse"] == pytest.approx(5 / 6, abs=1e-4)


def test_shape_cells_vary_depth_at_the_base_size_and_size_at_the_base_depth():
    cells = experiments.shape_cells(
        {"sizes": [28, 64, 128], "depths": [1, 2, 3], "base_size": 64, "base_depth": 3}
    )
    assert cells == [(28, 3), (64, 1), (64, 2), (64, 3), (128, 3)]


def test_a_synthetic_experiment_is_reproducible_and_writes_its_numbers(tmp_path):
    settings = {"size": 24, "n_train": 64, "n_test": 16, "epochs": 1}
    settings |= {"batch_size": 32, "learning_rate": 1e-3}
    digests = []
    for run in ("a", "b"):
        out = experiments.run_synthetic(
            "lines", settings, (4, 8, 8), 3, tmp_path / f"{run}.json", tmp_path / f"{run}.png"
        )
        saved = json.loads((tmp_path / f"{run}.json").read_text())
        saved.pop("seconds")
        digests.append(hashlib.sha256(json.dumps(saved, sort_keys=True).encode()).hexdigest())
    assert digests[0] == digests[1]  # same numbers on the CPU
    # the finding quotes the experiment's own primary AUROC, and the thesis's claim beside it
    assert f"{out['auroc'][out['primary']]:.3f}" in out["finding"] and out["thesis"]
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_keeps_a_checkpoint_per_epoch_and_subsets_train_alike(tmp_path):
    tr = fragment_set(tmp_path / "train.h5", 64, 0)
    va = fragment_set(tmp_path / "val.h5", 16, 1)
    sub = tmp_path / "sub.h5"
    assert hdf5_io.write_fragment_subset(tr, sub, np.array([5, 1, 9])) == 3
    assert hdf5_io.fragment_set_size(sub) == 3
    assert np.array_equal(
        hdf5_io.read_fragment_set(sub)[0], hdf5_io.read_fragment_set(tr)[0][[1, 5, 9]]
    )
    out = tmp_path / "out"
    train(
        tr,
        va,
        out / "m.keras",
        out / "m.weights.h5",
        out / "h.csv",
        out / "i.json",
        last_weights_out=out / "last.weights.h5",
        epochs=3,
        batch_size=16,
        learning_rate=1e-3,
        seed=7,
        filters=(4, 8),
        epoch_weights_dir=out / "epochs",
    )
    names = sorted(p.name for p in (out / "epochs").iterdir())
    assert (
        names
        == [epoch_weights_name(e) for e in (1, 2, 3)]
        == [
            "epoch-001.weights.h5",
            "epoch-002.weights.h5",
            "epoch-003.weights.h5",
        ]
    )
    import keras

    from weld_anomaly.model.autoencoder import build_autoencoder

    def weights(path):
        model = build_autoencoder(32, (4, 8))
        model.load_weights(path)
        return [np.asarray(w) for w in model.get_weights()]

    last, third, first = (
        weights(out / "last.weights.h5"),
        weights(out / "epochs" / "epoch-003.weights.h5"),
        weights(out / "epochs" / "epoch-001.weights.h5"),
    )
    assert all(np.array_equal(a, b) for a, b in zip(last, third, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(last, first, strict=True))
    keras.backend.clear_session()
