"""The compiled sliding-histogram median is the rank filter's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from weld_anomaly.ingest import window_median
from weld_anomaly.ingest.window_median import rank_filter_medians, window_medians


@pytest.fixture(autouse=True)
def _compiled():
    # the lock file installs Numba: the fallback is for platforms without it, not for CI
    assert window_median.load() is not None


def test_a_process_loads_the_kernel_once_it_has_enough_to_filter(monkeypatch):
    monkeypatch.setattr(window_median, "_KERNEL", [])
    monkeypatch.setattr(window_median, "_AHEAD", [0])
    window_median.ahead(window_median.LOAD_FROM // 2)
    assert not window_median._KERNEL  # a small crop: the rank filter
    q = np.zeros((45, 45), np.uint16)
    assert window_medians(q, 41).shape == (5, 5)
    window_median.ahead(window_median.LOAD_FROM // 2)
    assert window_median._KERNEL[0] is not None


@pytest.mark.parametrize(
    ("shape", "size", "levels"),
    [((90, 140), 41, 512), ((61, 75), 41, 4096), ((40, 33), 3, 512), ((25, 300), 11, 64)],
)
def test_the_sliding_histogram_is_the_rank_filter(shape, size, levels):
    rng = np.random.default_rng(size + levels)
    # smooth background, grain, dark spots, a bright marker, a step: the median moves
    # both ways, by one level and by many
    y, x = np.mgrid[: shape[0], : shape[1]]
    image = 0.4 * levels + 0.2 * levels * np.sin(x / 17.0) + rng.normal(0, 0.05 * levels, shape)
    image[shape[0] // 3 :, : shape[1] // 2] += 0.25 * levels
    image[5:12, 7:20] = 0
    q = np.clip(np.rint(image), 0, levels - 1).astype(np.uint16)
    padded = np.pad(q, size // 2, mode="symmetric")
    np.testing.assert_array_equal(window_medians(padded, size), rank_filter_medians(padded, size))
    # pixels left out, among them a block wider than the window: windows with none to count
    mask = (rng.random(padded.shape) > 0.3).astype(np.uint8)
    mask[: size + 4, : size + 6] = 0
    got = window_medians(padded, size, mask)
    np.testing.assert_array_equal(got, rank_filter_medians(padded, size, mask))
    assert (got[:4, :6] == 0).all()


def test_an_even_count_takes_the_upper_middle_level():
    # a masked window of 2 pixels at levels 3 and 7: the rank filter's choice is 7
    q = np.zeros((3, 3), np.uint16)
    q[0, 0], q[2, 2] = 3, 7
    mask = np.zeros((3, 3), np.uint8)
    mask[0, 0] = mask[2, 2] = 1
    assert window_medians(q, 3, mask)[0, 0] == rank_filter_medians(q, 3, mask)[0, 0] == 7


def test_without_numba_the_normalisation_is_the_same(monkeypatch):
    from weld_anomaly.ingest.normalize import normalize

    rng = np.random.default_rng(2)
    pixels = np.clip(rng.normal(120, 8, (300, 420)), 0, 255).astype(np.uint8)
    pixels[100:106, 200:206] = 60  # a pore
    pixels[30:60, 40:60] = 250  # a bright marker: medians with pixels left out
    fast = normalize(pixels)
    monkeypatch.setattr(window_median, "_KERNEL", [None])
    slow = normalize(pixels)
    assert fast.markers.any()
    for name in ("contrast", "difference", "noise", "median", "markers", "excluded"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))


def test_without_a_place_to_cache_it_the_kernel_is_compiled_in_the_process(monkeypatch):
    from numba.core import config

    # Numba refuses to cache where it finds no locator (here: one that cannot be imported)
    monkeypatch.setattr(config, "CACHE_LOCATOR_CLASSES", "weld_anomaly.no_such.Locator")
    monkeypatch.setattr(window_median, "_KERNEL", [])
    assert window_median.load() is not None
    q = np.random.default_rng(1).integers(0, 50, (30, 40)).astype(np.uint16)
    np.testing.assert_array_equal(window_medians(q, 5), rank_filter_medians(q, 5))
