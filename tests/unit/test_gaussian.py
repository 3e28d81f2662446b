"""The compiled Gaussian filter is SciPy's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from weld_anomaly.ingest import gaussian, window_median
from weld_anomaly.ingest.gaussian import gaussian_filter


@pytest.fixture(autouse=True)
def _compiled():
    # the lock file installs Numba: the fallback is for platforms without it, not for CI
    assert window_median.load() is not None
    assert gaussian._kernels() is not None


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.3, 1.5, 2.0, 4.0])
@pytest.mark.parametrize("shape", [(300, 417), (18, 40), (40, 17), (9, 9)])
def test_the_compiled_filter_is_scipys(shape, sigma):
    rng = np.random.default_rng(int(sigma * 10) + shape[0])
    # grain, a bright marker, a dark spot, an edge: large and small values, both signs
    image = rng.normal(100.0, 30.0, shape).astype(np.float32)
    image[: shape[0] // 3, : shape[1] // 4] = 250.0
    image[shape[0] // 2, shape[1] // 2] = -40.0
    expected = ndimage.gaussian_filter(image, sigma, mode="reflect")
    got = gaussian_filter(image, sigma)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_a_view_and_what_it_does_not_cover_give_scipys_numbers():
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1.0, (120, 90)).astype(np.float32)
    view = image[10:100:2, ::-1]  # not contiguous
    np.testing.assert_array_equal(
        gaussian_filter(view, 1.5), ndimage.gaussian_filter(view, 1.5, mode="reflect")
    )
    wide = image.astype(np.float64)  # another dtype: SciPy's
    np.testing.assert_array_equal(gaussian_filter(wide, 1.0), ndimage.gaussian_filter(wide, 1.0))
    thin = image[:3]  # fewer rows than the kernel's reach: SciPy's
    np.testing.assert_array_equal(gaussian_filter(thin, 2.0), ndimage.gaussian_filter(thin, 2.0))


def test_scipy_filters_until_the_process_loads_the_compiled_kernels(monkeypatch):
    monkeypatch.setattr(window_median, "_KERNEL", [])
    monkeypatch.setattr(gaussian, "_KERNELS", [])
    image = np.random.default_rng(2).normal(size=(64, 64)).astype(np.float32)
    np.testing.assert_array_equal(gaussian_filter(image, 1.0), ndimage.gaussian_filter(image, 1.0))
    assert not gaussian._KERNELS  # not compiled: a small job never loads Numba
    window_median.load()
    np.testing.assert_array_equal(gaussian_filter(image, 1.0), ndimage.gaussian_filter(image, 1.0))
    assert gaussian._KERNELS[0] is not None
