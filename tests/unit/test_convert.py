import numpy as np
import pytest
from dicom_factory import weld_pattern, write_dicom
from PIL import Image

from weld_anomaly.errors import ConfigError
from weld_anomaly.ingest.convert import ConvertSettings, convert

PCT = ConvertSettings()


def test_monochrome1_and_monochrome2_give_the_same_polarity(tmp_path):
    display = weld_pattern()
    m2 = convert(write_dicom(tmp_path / "m2.dcm", display), PCT)
    m1 = convert(write_dicom(tmp_path / "m1.dcm", display, photometric="MONOCHROME1"), PCT)
    assert m1.attrs["inverted_monochrome1"] and not m2.attrs["inverted_monochrome1"]
    assert np.abs(m1.pixels.astype(int) - m2.pixels.astype(int)).max() <= 1
    # bright band in the middle, dark spot darker than the band around it
    assert m2.pixels[48, 80] > m2.pixels[5, 80] + 80
    assert m2.pixels[48, 53] < m2.pixels[48, 80] - 20


def test_rescale_does_not_change_a_percentile_conversion(tmp_path):
    a = convert(write_dicom(tmp_path / "a.dcm"), PCT)
    b = convert(write_dicom(tmp_path / "b.dcm", slope=2.0, intercept=-1024), PCT)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert b.attrs["rescale_slope"] == 2.0 and b.attrs["rescale_intercept"] == -1024.0
    assert b.attrs["window_lo"] == pytest.approx(2 * a.attrs["window_lo"] - 1024)


def test_output_range_dtype_and_attributes(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", bits_stored=14)
    out = convert(path, PCT)
    assert out.pixels.dtype == np.uint8 and out.pixels.min() == 0 and out.pixels.max() == 255
    assert out.attrs["bits_stored"] == 14 and out.attrs["window_method"] == "percentile"
    deep = convert(path, ConvertSettings(bit_depth=16))
    assert deep.pixels.dtype == np.uint16 and deep.pixels.max() == 65535


def test_header_window_is_used_when_sane_and_replaced_when_not(tmp_path):
    stored_hi = 0.95 * 4095
    good = convert(
        write_dicom(tmp_path / "g.dcm", window=(2000, 3000)), ConvertSettings(window="header")
    )
    assert good.attrs["window_method"] == "header"
    assert good.attrs["window_lo"] == pytest.approx(2000 - 0.5 - 2999 / 2)
    bad = convert(
        write_dicom(tmp_path / "b.dcm", window=(60000, 100)), ConvertSettings(window="header")
    )
    assert bad.attrs["window_method"] == "header-fallback-percentile"
    assert bad.attrs["window_hi"] <= stored_hi


def test_minmax_and_fixed_windows(tmp_path):
    path = write_dicom(tmp_path / "x.dcm")
    mm = convert(path, ConvertSettings(window="minmax"))
    assert mm.pixels.min() == 0 and mm.pixels.max() == 255
    fixed = convert(path, ConvertSettings(window="fixed", fixed_window=(0.0, 4095.0)))
    assert fixed.attrs["window_lo"] == 0.0 and fixed.pixels.max() < 255
    with pytest.raises(ConfigError, match="fixed_window"):
        convert(path, ConvertSettings(window="fixed"))


def test_no_personal_data_in_attributes(tmp_path):
    path = write_dicom(
        tmp_path / "p.dcm",
        PatientName="Doe^Jane",
        PatientID="123-45",
        PatientBirthDate="19800101",
        InstitutionName="Secret Lab",
    )
    text = repr(convert(path, PCT).attrs)
    for secret in ("Doe", "123-45", "19800101", "Secret", "1.2.826"):
        assert secret not in text


@pytest.mark.parametrize("mode,dtype", [("L", np.uint8), ("I;16", np.uint16)])
def test_png_and_tiff_inputs(tmp_path, mode, dtype):
    display = weld_pattern()
    top = 255 if dtype == np.uint8 else 65535
    arr = np.rint(display * top).astype(dtype)
    for suffix in (".png", ".tif"):
        path = tmp_path / f"img{suffix}"
        Image.fromarray(arr).save(path)
        out = convert(path, PCT)
        assert out.pixels.shape == arr.shape and out.pixels.dtype == np.uint8
        assert out.attrs["bits_stored"] == (8 if dtype == np.uint8 else 16)
        assert out.pixels[48, 80] > out.pixels[5, 80]


def test_weighted_percentile_matches_numpy():
    from weld_anomaly.ingest.convert import weighted_percentile

    rng = np.random.default_rng(3)
    sample = rng.integers(-50, 300, 10_001)
    values, counts = np.unique(sample, return_counts=True)
    q = [0.0, 0.5, 1.0, 37.3, 99.5, 100.0]
    np.testing.assert_allclose(
        weighted_percentile(values.astype(float), counts, q),
        np.percentile(sample, q),
        rtol=0,
        atol=1e-9,
    )
    # non-monotonic value order (a modality LUT) is sorted first
    np.testing.assert_allclose(
        weighted_percentile(values[::-1].astype(float), counts[::-1], q), np.percentile(sample, q)
    )


def test_lookup_conversion_equals_per_pixel_arithmetic(tmp_path):
    """The lookup-table path gives what the per-pixel formula would."""
    path = write_dicom(tmp_path / "x.dcm", slope=0.5, intercept=-100, photometric="MONOCHROME1")
    out = convert(path, PCT)
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(path)
    modality = apply_modality_lut(ds.pixel_array, ds)
    lo, hi = np.percentile(modality, PCT.percentiles)
    expected = np.rint((1 - np.clip((modality - lo) / (hi - lo), 0, 1)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out.pixels, expected)
    assert out.attrs["window_lo"] == pytest.approx(lo) and out.attrs["window_hi"] == pytest.approx(
        hi
    )


def test_the_conversion_defaults_are_the_configuration_s(repo):
    """`crops suggest` and `crops preview` read images with the defaults: they must window
    them as the workflow does with the default configuration."""
    import yaml

    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    assert ConvertSettings() == ConvertSettings.from_config(config["convert"])
