import numpy as np

from weld_anomaly.score.baseline import background_map


def test_dark_spot_stands_out_and_flat_background_vanishes():
    rng = np.random.default_rng(0)
    img = np.full((120, 200), 150.0) + np.linspace(0, 40, 200)[None, :]  # slow gradient
    img += rng.normal(0, 1.0, img.shape)
    img[58:63, 98:103] -= 40  # a 5x5 cavity
    bmap = background_map(np.clip(img, 0, 255).astype(np.uint8), median_size=41, sigma=1.0)
    peak = np.unravel_index(np.argmax(bmap), bmap.shape)
    assert 57 <= peak[0] <= 63 and 97 <= peak[1] <= 103
    assert bmap.max() > 0.08
    assert np.abs(np.median(bmap)) < 0.01


def test_sixteen_bit_input_is_scaled_to_unit_range():
    img = np.full((80, 80), 30000, dtype=np.uint16)
    img[40, 40] = 10000
    bmap = background_map(img, median_size=21, sigma=0.0)
    assert bmap.max() == bmap[40, 40]
    assert 0.25 < bmap.max() < 0.35  # (30000 - 10000) / 65535
