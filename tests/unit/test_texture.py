"""The texture predictor and the line filters on synthetic residual maps."""

import numpy as np
import pytest
from scipy import ndimage

from weld_anomaly.errors import UserError
from weld_anomaly.score.texture import (
    Predictor,
    PredictorSettings,
    Spectrum,
    filtered,
    fit_predictor,
    innovation,
    line_kernel,
    line_response,
    offsets,
)

SETTINGS = PredictorSettings(hole=6, radius=14, step=2, smooth=1.0, samples=20000, seed=0)


def _ripple(rng, shape=(128, 384), wavelength=14.0, amplitude=0.02, noise=0.004):
    """Chevron ripples along x with a random phase, plus white noise (a sound weld's residual)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    along = xx + 0.6 * np.abs(yy - shape[0] / 2)
    phase = rng.uniform(0, 2 * np.pi)
    return amplitude * np.cos(2 * np.pi * along / wavelength + phase) + noise * rng.standard_normal(
        shape
    )


def _spot(shape, y, x, radius=3.0, depth=0.03):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return depth * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * radius**2))


def test_the_predictor_learns_the_ripples_and_keeps_a_cavity():
    rng = np.random.default_rng(0)
    shape = (128, 384)
    training = [(_ripple(rng, shape), np.zeros(shape, dtype=bool)) for _ in range(4)]
    predictor = fit_predictor(training, SETTINGS)
    assert predictor.explained_variance > 0.8

    test = _ripple(rng, shape) + _spot(shape, 40, 200)
    left = innovation(test, np.zeros(shape, dtype=bool), predictor.kernel)
    inner = (slice(20, -20), slice(20, -20))
    # the ripples are mostly gone ...
    assert np.std(left[inner]) < 0.5 * np.std(test[inner])
    # ... the cavity, smaller than the hole, is not: it stands out far above the rest
    smooth = ndimage.gaussian_filter(left, 2.0)
    peak = smooth[40, 200]
    assert peak > 0.7 * ndimage.gaussian_filter(_spot(shape, 40, 200), 2.0)[40, 200]
    away = np.abs(smooth[80:-20, 20:-20]).max()
    assert peak > 2 * away
    # before: the ripples were as strong as the cavity
    assert np.abs(ndimage.gaussian_filter(test, 2.0)[80:-20, 20:-20]).max() > 0.5 * peak


def test_on_white_noise_the_predictor_does_nothing():
    rng = np.random.default_rng(1)
    shape = (96, 256)
    training = [(0.01 * rng.standard_normal(shape), np.zeros(shape, dtype=bool)) for _ in range(3)]
    predictor = fit_predictor(training, SETTINGS)
    assert predictor.explained_variance < 0.05  # what 200 weights fit on pure chance
    noise = 0.01 * rng.standard_normal(shape)
    left = innovation(noise, np.zeros(shape, dtype=bool), predictor.kernel)
    assert np.std(left) == pytest.approx(np.std(noise), rel=0.05)  # no texture, no change
    assert np.std(left - noise) < 0.25 * np.std(noise)


def test_masked_markers_neither_teach_nor_feed_the_predictor():
    rng = np.random.default_rng(2)
    shape = (128, 384)
    masked = np.zeros(shape, dtype=bool)
    masked[:, 100:130] = True
    maps = []
    for _ in range(3):
        residual = _ripple(rng, shape)
        residual[masked] = -1.0  # a marker: huge, and not texture
        maps.append((residual, masked))
    predictor = fit_predictor(maps, SETTINGS)
    assert predictor.explained_variance > 0.8  # the marker did not spoil the fit
    residual = maps[0][0]
    left = innovation(residual, masked, predictor.kernel)
    beside = (slice(20, -20), slice(140, 150))  # within the predictor's reach of the marker
    assert np.abs(left[beside]).max() < 0.1  # the marker's -1 did not leak in


def test_predictor_round_trips_through_json(tmp_path):
    rng = np.random.default_rng(3)
    shape = (64, 128)
    predictor = fit_predictor([(_ripple(rng, shape), np.zeros(shape, dtype=bool))], SETTINGS)
    predictor.save(tmp_path / "p.json")
    back = Predictor.load(tmp_path / "p.json")
    np.testing.assert_array_equal(back.kernel, predictor.kernel)
    assert back.settings == SETTINGS and back.pixels == predictor.pixels
    back.save(tmp_path / "q.json")
    assert (tmp_path / "p.json").read_bytes() == (tmp_path / "q.json").read_bytes()
    assert np.count_nonzero(back.kernel) <= len(offsets(SETTINGS))
    assert not back.kernel[14 - 5 : 14 + 6, 14 - 5 : 14 + 6].any()  # the blind spot


def test_a_broken_or_missing_predictor_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="texture predictor not found"):
        Predictor.load(tmp_path / "missing.json")
    (tmp_path / "p.json").write_text('{"settings": {"hole": 6}, "weights": [1]}')
    with pytest.raises(UserError, match="unreadable"):
        Predictor.load(tmp_path / "p.json")
    with pytest.raises(UserError, match="hole"):
        PredictorSettings.from_config({"hole": 30, "radius": 20})
    small = [(np.zeros((20, 20)), np.zeros((20, 20), dtype=bool))]
    with pytest.raises(UserError, match="radius"):
        fit_predictor(small, SETTINGS)


def test_the_fit_is_reproducible():
    rng = np.random.default_rng(4)
    shape = (96, 256)
    maps = [(_ripple(rng, shape), np.zeros(shape, dtype=bool)) for _ in range(2)]
    a, b = fit_predictor(maps, SETTINGS), fit_predictor(maps, SETTINGS)
    np.testing.assert_array_equal(a.kernel, b.kernel)


@pytest.mark.parametrize("angle", [0.0, 37.0, 90.0, 128.0])
def test_line_filters_find_thin_lines_at_any_angle(angle):
    # a faint crack, 1 px wide and 60 px long, in white noise: the line filter lifts it
    # above the noise far more than a round Gaussian of the same width
    rng = np.random.default_rng(5)
    shape = (160, 160)
    line = np.zeros(shape)
    a = np.deg2rad(angle)
    for t in np.linspace(-30, 30, 241):
        line[int(round(80 + t * np.sin(a))), int(round(80 + t * np.cos(a)))] = 0.02
    noise = 0.01 * rng.standard_normal(shape)
    image = line + noise

    def contrast(filtered):
        return filtered[75:86, 75:86].max() / np.std(filtered[:40, :40])

    lines = line_response(image, 8.0)
    assert lines.shape == shape
    assert contrast(lines) > 1.5 * contrast(ndimage.gaussian_filter(image, 1.0))
    assert contrast(lines) > 6


def test_fft_filtering_equals_direct_filtering_with_mirrored_borders():
    rng = np.random.default_rng(6)
    image = rng.standard_normal((70, 150))
    small, large = line_kernel(30.0, 2.0), rng.standard_normal((41, 41))
    a, b = filtered(image, [small, large])
    np.testing.assert_allclose(a, ndimage.convolve(image, small, mode="reflect"), atol=1e-12)
    np.testing.assert_allclose(b, ndimage.convolve(image, large, mode="reflect"), atol=1e-12)
    # the predictor is a correlation: the innovation subtracts exactly that
    left = innovation(image, np.zeros(image.shape, dtype=bool), large)
    np.testing.assert_allclose(
        image - left, ndimage.correlate(image, large, mode="reflect"), atol=1e-11
    )


@pytest.mark.parametrize("shape", [(64, 64), (70, 150), (97, 301)])
def test_gaussians_from_one_spectrum_equal_scipys(shape):
    # the residual scorers' widths, on maps as small as one fragment (mirrored borders wider
    # than a quarter of the map) and of odd sizes; float32 as the residual maps are
    rng = np.random.default_rng(7)
    image = rng.standard_normal(shape).astype(np.float32)
    spectrum = Spectrum(image, 32, np.float32)
    for sigma in (1.0, 1.5, 2.0, 3.0, 5.0, 8.0):
        smooth = spectrum.gaussian(sigma)
        assert smooth.shape == shape and smooth.dtype == np.float32
        np.testing.assert_allclose(smooth, ndimage.gaussian_filter(image, sigma), atol=2e-6)
    double = image.astype(np.float64)
    exact = Spectrum(double, 32).gaussian(5.0)
    np.testing.assert_allclose(exact, ndimage.gaussian_filter(double, 5.0), atol=1e-12)
    with pytest.raises(ValueError, match="reach"):
        Spectrum(image, 8).gaussian(3.0)  # 4 sigma = 12 px: beyond the mirrored border
