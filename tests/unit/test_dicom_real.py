"""Real DICOM files (pydicom's own test files and the pydicom-data package) convert right."""

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import pixel_array

from weld_anomaly.ingest import dicom_io
from weld_anomaly.ingest.convert import ConvertSettings, convert

PCT = ConvertSettings()


def real(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed (pydicom or pydicom-data)"
    return path


@pytest.mark.parametrize(
    "name,syntax,photometric",
    [
        ("RG1_UNCR.dcm", "Explicit VR Little Endian", "MONOCHROME1"),  # CR plate, 15-bit
        ("RG3_UNCR.dcm", "Explicit VR Little Endian", "MONOCHROME1"),  # CR, 10-bit
        ("RG1_J2KI.dcm", "JPEG 2000", "MONOCHROME1"),  # lossy J2K radiograph
        ("CT_small.dcm", "Explicit VR Little Endian", "MONOCHROME2"),  # signed, rescaled
        ("MR_small_bigendian.dcm", "Explicit VR Big Endian", "MONOCHROME2"),
        ("MR_small_implicit.dcm", "Implicit VR Little Endian", "MONOCHROME2"),
        ("image_dfl.dcm", "Deflated Explicit VR Little Endian", "MONOCHROME2"),
        ("MR_small_RLE.dcm", "RLE Lossless", "MONOCHROME2"),
        ("JPEG-LL.dcm", "JPEG Lossless SV1", "MONOCHROME2"),
        ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless", "MONOCHROME2"),
        ("JPEGLSNearLossless_16.dcm", "JPEG-LS Near-lossless", "MONOCHROME2"),
        ("MR_small_jp2klossless.dcm", "JPEG 2000 Lossless", "MONOCHROME2"),
        ("JPEG2000.dcm", "JPEG 2000", "MONOCHROME2"),
        ("mlut_18.dcm", "Explicit VR Little Endian", "MONOCHROME2"),  # Modality LUT Sequence
    ],
)
def test_real_files_convert(name, syntax, photometric):
    out = convert(real(name), PCT)
    assert out.attrs["transfer_syntax_name"] == syntax
    assert out.attrs["photometric_interpretation"] == photometric
    assert out.attrs["inverted_monochrome1"] == (photometric == "MONOCHROME1")
    assert out.pixels.dtype == np.uint8 and out.pixels.min() == 0 and out.pixels.max() == 255
    ds = pydicom.dcmread(real(name), stop_before_pixels=True)
    assert out.pixels.shape == (ds.Rows, ds.Columns)
    assert out.attrs["decoder"] in dicom_io.PLUGIN_ORDER and out.attrs["decoder_version"]


@pytest.mark.parametrize(
    "compressed,reference",
    [
        ("RG1_J2KR.dcm", "RG1_UNCR.dcm"),
        ("RG3_J2KR.dcm", "RG3_UNCR.dcm"),
        ("MR2_J2KR.dcm", "MR2_UNCR.dcm"),
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
        ("MR_small_RLE.dcm", "MR_small.dcm"),
        ("MR_small_bigendian.dcm", "MR_small.dcm"),
        ("MR_small_implicit.dcm", "MR_small.dcm"),
    ],
)
def test_golden_pairs_decode_to_identical_pixels(compressed, reference):
    a = convert(real(compressed), PCT)
    b = convert(real(reference), PCT)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert a.attrs["pixels_sha256"] == b.attrs["pixels_sha256"]


def test_lossy_j2k_stays_close_to_its_reference():
    lossy = convert(real("RG1_J2KI.dcm"), PCT).pixels.astype(int)
    exact = convert(real("RG1_UNCR.dcm"), PCT).pixels.astype(int)
    assert np.abs(lossy - exact).mean() < 1.0


def test_monochrome1_real_radiograph_is_inverted_once():
    """RG1 is a MONOCHROME1 CR plate: low stored values are bright."""
    path = real("RG1_UNCR.dcm")
    stored = pixel_array(path).astype(float)
    out = convert(path, PCT).pixels.astype(float)
    assert np.corrcoef(stored.ravel(), out.ravel())[0, 1] < -0.95


def test_signed_pixels_and_rescale():
    ds = pydicom.dcmread(real("CT_small.dcm"))
    assert ds.PixelRepresentation == 1
    out = convert(real("CT_small.dcm"), PCT)
    assert out.attrs["rescale_intercept"] == float(ds.RescaleIntercept)
    assert out.attrs["window_lo"] < out.attrs["window_hi"]


def test_voi_lut_sequence_is_used_by_the_header_window():
    out = convert(real("vlut_04.dcm"), ConvertSettings(window="header"))
    assert out.attrs["window_method"] == "header-voi-lut"
    assert out.pixels.max() > 200


def test_twelve_bit_lossy_jpeg_names_the_gpl_extra():
    from weld_anomaly.errors import MissingDecoder

    with pytest.raises(MissingDecoder) as info:
        convert(real("JPGExtended.dcm"), PCT)
    assert "weld-anomaly[codecs-gpl]" in info.value.line()


def test_jpeg_baseline_and_htj2k_syntaxes(tmp_path):
    """8-bit JPEG baseline (Pillow-encoded) and a codestream under the HTJ2K syntax decode."""
    import io

    import openjpeg
    from dicom_factory import weld_pattern, write_encapsulated
    from PIL import Image
    from pydicom.uid import HTJ2KLossless, JPEGBaseline8Bit

    pattern = np.rint(weld_pattern() * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pattern).save(buffer, format="JPEG", quality=95)
    jpeg = write_encapsulated(
        tmp_path / "jpeg.dcm",
        buffer.getvalue(),
        JPEGBaseline8Bit,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
    )
    out = convert(jpeg, PCT)
    assert out.attrs["transfer_syntax_name"] == "JPEG Baseline"
    assert np.corrcoef(out.pixels.ravel(), pattern.ravel())[0, 1] > 0.98

    stored = pattern.astype(np.uint16) * 16
    ht = write_encapsulated(
        tmp_path / "ht.dcm", openjpeg.encode(stored, bits_stored=12), HTJ2KLossless, bits_stored=12
    )
    out = convert(ht, PCT)
    assert (
        out.attrs["transfer_syntax_name"] == "HTJ2K Lossless"
        and out.attrs["decoder"] == "pylibjpeg"
    )
    np.testing.assert_array_equal(pixel_array(ht), stored)


@pytest.mark.parametrize(
    "name", ["RG1_UNCR.dcm", "RG3_UNCR.dcm", "CT_small.dcm", "JPEG2000.dcm", "MR_small.dcm"]
)
def test_the_pixel_size_of_real_files_comes_from_their_spacing(name):
    """Pixel Spacing as the file gives it (mm, row and column; a zero spacing is none), else
    none: sizes in px."""
    from weld_anomaly.ingest.preprocess import pixel_spacing_mm

    ds = pydicom.dcmread(real(name), stop_before_pixels=True)
    got = pixel_spacing_mm(convert(real(name), PCT).attrs)
    spacing = [float(v) for v in ds.get("PixelSpacing") or [] if float(v) > 0]
    if spacing:
        assert got == pytest.approx(float(np.mean(spacing)))
    elif "ImagerPixelSpacing" in ds:
        factor = float(ds.get("EstimatedRadiographicMagnificationFactor", 1.0))
        assert got == pytest.approx(
            float(np.mean([float(v) for v in ds.ImagerPixelSpacing])) / factor
        )
    else:
        assert got == ""
