import numpy as np
import pytest

from weld_anomaly.ingest.normalize import normalize
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


def test_baseline_is_the_textbook_filter_with_mirrored_borders():
    # the textbook: scipy's 41 x 41 median (mode "reflect") of the sigma-1 smoothed image
    from scipy import ndimage

    rng = np.random.default_rng(1)
    rows = np.arange(160)[:, None]
    img = 40 + 0.8 * rows + rng.normal(0, 2, (160, 240))  # a bead's flank up to the border
    pixels = np.clip(img, 0, 255).astype(np.uint8)
    g = ndimage.gaussian_filter(pixels.astype(np.float32), 1.0)
    textbook = (ndimage.median_filter(g, 41, mode="reflect") - g) / 255
    ours = background_map(pixels)
    assert np.abs(ours - textbook).max() <= 0.25 / 255 + 1e-6  # a quarter of a grey level
    # the textbook mirrors the slope at the crop's edge and sees a dark spot there; the
    # one grey scale continues the slope instead (no false alarm where a bead's flank meets
    # the edge of a weld crop)
    assert ours[:3].max() > 5 * np.std(ours[40:-40])
    contrast = normalize(pixels).contrast
    assert np.abs(contrast[:3]).max() < 4.5 and np.std(contrast[40:-40]) == pytest.approx(
        1, abs=0.15
    )


@pytest.mark.parametrize(
    ("shape", "dtype"), [((200, 700), np.uint8), ((161, 170), np.uint8), ((90, 300), np.uint16)]
)
def test_textbook_from_the_normalisations_median_is_the_same(shape, dtype):
    """The textbook map reuses the normalisation's median inside and filters only the
    border bands again: the same numbers as filtering the whole image."""
    from weld_anomaly.ingest.normalize import normalize, textbook_map

    rng = np.random.default_rng(5)
    top = np.iinfo(dtype).max
    pixels = np.clip(rng.normal(0.5 * top, 0.05 * top, shape), 0, top).astype(dtype)
    pixels[40:46, 60:66] = 0.2 * top  # a dark spot near a border band
    pixels[: shape[0] // 2, :] += dtype(0.1 * top)  # a step reaching both side edges
    whole = textbook_map(pixels)
    shared = textbook_map(pixels, continued=normalize(pixels).median)
    np.testing.assert_array_equal(shared, whole)
