import numpy as np

from weld_anomaly.score.statistics import COLUMNS, fragment_statistics


def test_fourteen_statistics_with_known_values():
    assert len(COLUMNS) == 13 and "mse" in COLUMNS  # 3 sources x 4 statistics + MSE
    f = np.zeros((2, 4, 4))
    r = np.zeros((2, 4, 4))
    f[0] = 0.5
    r[0] = 0.5
    f[1, 0, 0] = 1.0  # a bright pixel the model does not reproduce
    r[1] = 0.25
    out = fragment_statistics(f, r)
    assert set(out) == set(COLUMNS)
    np.testing.assert_allclose(out["frag_sum"], [8.0, 1.0])
    np.testing.assert_allclose(out["recon_max"], [0.5, 0.25])
    np.testing.assert_allclose(out["diff_min"], [0.0, -0.75])
    np.testing.assert_allclose(out["diff_max"], [0.0, 0.25])
    np.testing.assert_allclose(out["mse"], [0.0, (0.75**2 + 15 * 0.25**2) / 16])
    np.testing.assert_allclose(out["frag_std"][0], 0.0)


def test_cavity_gives_positive_difference():
    f = np.full((1, 8, 8, 1), 0.6)
    f[0, 3:5, 3:5] = 0.3  # darker spot
    r = np.full((1, 8, 8, 1), 0.6)
    out = fragment_statistics(f, r)
    assert out["diff_max"][0] > 0.29 and out["diff_min"][0] == 0.0


def test_chunks_give_the_numbers_of_one_pass(monkeypatch):
    """Statistics computed CHUNK fragments at a time are bit for bit those of one pass."""
    from weld_anomaly.score import statistics

    rng = np.random.default_rng(3)
    f = rng.random((700, 16, 16)).astype(np.float32)
    r = rng.random((700, 16, 16, 1)).astype(np.float32)
    chunked = fragment_statistics(f, r)
    monkeypatch.setattr(statistics, "CHUNK", 10**9)
    whole = fragment_statistics(f, r)
    for column in COLUMNS:
        np.testing.assert_array_equal(chunked[column], whole[column])


def test_integer_fragments_are_scaled_as_the_model_sees_them():
    from weld_anomaly.ingest.tiling import scale

    rng = np.random.default_rng(3)
    f = rng.integers(0, 256, (300, 16, 16), dtype=np.uint8)
    r = rng.random((300, 16, 16)).astype(np.float32)
    got = fragment_statistics(f, r)
    expected = fragment_statistics(scale(f)[..., 0], r)
    for c in COLUMNS:
        np.testing.assert_array_equal(got[c], expected[c])
