"""The image-quality gate's signal-to-noise ratio."""

import numpy as np
import pytest

from weld_anomaly.ingest import quality


@pytest.mark.parametrize("sd", [1.5, 4.0, 12.0])
def test_the_noise_of_a_synthetic_weld_is_measured_within_5_percent(sd):
    """Known white noise on a weld profile with a few dark pores and a bright marker."""
    rng = np.random.default_rng(int(sd * 10))
    yy, xx = np.mgrid[0:600, 0:2000]
    weld = 90 + 70 * np.exp(-0.5 * ((yy - 300) / 90.0) ** 2) + 3 * np.sin(xx / 40.0)
    for cx in (300, 900, 1500):  # pores
        weld[(yy - 300) ** 2 + (xx - cx) ** 2 < 64] -= 30
    weld[50:120, 100:160] += 60  # a lead numeral
    image = weld + rng.normal(0, sd, weld.shape)
    assert quality.noise_sd(image) == pytest.approx(sd, rel=0.05)
    assert quality.snr(image) == pytest.approx(np.median(image) / sd, rel=0.05)


def test_the_snr_is_normalised_to_an_88_6_micron_aperture():
    assert quality.normalised_snr(50.0, 0.0886) == pytest.approx(50.0)
    assert quality.normalised_snr(50.0, 0.0403) == pytest.approx(50.0 * 88.6 / 40.3)
    assert quality.normalised_snr(50.0, None) is None
    assert np.isnan(quality.snr(np.full((64, 64), 100.0)))  # no noise to see


def test_a_radiograph_below_the_gate_is_marked_too_poor(tmp_path):
    from PIL import Image

    from weld_anomaly.ingest.convert import ConvertSettings
    from weld_anomaly.ingest.inventory import ImageRecord, to_csv
    from weld_anomaly.ingest.preprocess import convert_image, summarize_images

    rng = np.random.default_rng(0)
    for name, sd in (("good", 2.0), ("grainy", 30.0)):
        pixels = np.clip(120 + rng.normal(0, sd, (200, 300)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
        convert_image(tmp_path / f"{name}.png", tmp_path / f"{name}.h5", ConvertSettings(), name)
    records = [
        ImageRecord(n, str(tmp_path / f"{n}.png"), "nonfaulty", "test") for n in ("good", "grainy")
    ]
    (tmp_path / "m.csv").write_text(to_csv(records))
    h5s = [tmp_path / "good.h5", tmp_path / "grainy.h5"]
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", pixel_size_mm=0.05,
                            min_snr_n=20.0)  # fmt: skip
    got = {r["image"]: r for r in rows}
    assert got["good"]["snr"] == pytest.approx(60, rel=0.1)
    assert got["good"]["snr_n"] == pytest.approx(got["good"]["snr"] * 88.6 / 50, rel=0.01)
    assert got["good"]["too_poor"] is False and got["grainy"]["too_poor"] is True
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv")  # no gate
    assert not any(r["too_poor"] for r in rows)
