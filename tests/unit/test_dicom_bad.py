"""Every kind of bad radiograph fails with its own error class, one line, and no output."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import write_deflate_bomb, write_dicom, write_encapsulated
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless

from weld_anomaly import errors
from weld_anomaly.ingest.convert import ConvertSettings
from weld_anomaly.ingest.preprocess import convert_image

SETTINGS = ConvertSettings(max_pixels=50_000_000)


def edit(path, **changes):
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        elif key == "TransferSyntaxUID":
            ds.file_meta.TransferSyntaxUID = value
        else:
            setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=False)
    return path


def cut(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def real(name, tmp_path):
    src = get_testdata_file(name, download=False)
    dst = tmp_path / name
    dst.write_bytes(Path(src).read_bytes())
    return dst


def put(path, data: bytes):
    path.write_bytes(data)
    return path


def swap_syntax(path, new_uid: str):
    """Rewrite the transfer syntax in place (same padded length), where pydicom refuses to."""
    data = path.read_bytes()
    old = pydicom.filereader.read_file_meta_info(path).TransferSyntaxUID.encode()
    pad = lambda uid: uid + b"\0" * (len(uid) % 2)  # noqa: E731
    assert len(pad(old)) == len(pad(new_uid.encode()))
    path.write_bytes(data.replace(pad(old), pad(new_uid.encode()), 1))
    return path


def j2k_frame():
    import openjpeg

    return openjpeg.encode(
        np.arange(64 * 96, dtype=np.uint16).reshape(64, 96) % 4096, bits_stored=12
    )


CASES = {
    "empty": (errors.Truncated, lambda p: put(p, b""), "empty"),
    "random bytes": (
        errors.NotDicom,
        lambda p: put(p, np.random.default_rng(0).bytes(3000)),
        "not a DICOM file",
    ),
    "png named .dcm": (
        errors.DecodeFailed,
        lambda p: put(p, b"\x89PNG\r\n\x1a\n" + bytes(50)),
        "cannot read the image",
    ),
    "preamble only": (
        errors.Truncated,
        lambda p: put(p, bytes(128) + b"DICM"),
        "no transfer syntax",
    ),
    "cut in meta": (errors.Truncated, lambda p: cut(write_dicom(p), 0.012), "ends"),
    "cut in pixel data": (errors.Truncated, lambda p: cut(write_dicom(p), 0.6), "pixel data holds"),
    "j2k cut (no delimiter)": (
        errors.Truncated,
        lambda p: real("emri_small_jpeg_2k_lossless_too_short.dcm", p.parent),
        "ends before its data",
    ),
    "structured report": (
        errors.NoPixelData,
        lambda p: real("test-SR.dcm", p.parent),
        "holds no image",
    ),
    "float pixels": (
        errors.UnsupportedImageType,
        lambda p: edit(write_dicom(p), PixelData=None, FloatPixelData=bytes(16)),
        "floating-point",
    ),
    "1-bit segmentation": (
        errors.UnsupportedImageType,
        lambda p: real("liver_1frame.dcm", p.parent),
        "1-bit",
    ),
    "32-bit dose": (
        errors.UnsupportedImageType,
        lambda p: real("rtdose_1frame.dcm", p.parent),
        "32-bit",
    ),
    "unknown syntax": (
        errors.UnsupportedTransferSyntax,
        lambda p: edit(write_dicom(p), TransferSyntaxUID="1.2.3.4.5"),
        "1.2.3.4.5",
    ),
    "video syntax": (
        errors.UnsupportedTransferSyntax,
        lambda p: swap_syntax(
            write_encapsulated(p, bytes(100), "1.2.840.10008.1.2.4.102"), "1.2.840.10008.1.2.4.100"
        ),
        "video",
    ),
    "deflated image frame": (
        errors.UnsupportedTransferSyntax,
        lambda p: swap_syntax(
            write_encapsulated(p, j2k_frame(), JPEG2000Lossless), "1.2.840.10008.1.2.8.1"
        ),
        "cannot be decoded",
    ),
    "j2k syntax, raw data": (
        errors.DecodeFailed,
        lambda p: write_encapsulated(p, bytes(64 * 96 * 2), JPEG2000Lossless),
        "every decoder failed",
    ),
    "corrupt codestream": (
        errors.DecodeFailed,
        lambda p: real("JPEG2000-embedded-sequence-delimiter.dcm", p.parent),
        "every decoder failed",
    ),
    "rgb": (errors.UnsupportedPhotometric, lambda p: real("SC_rgb.dcm", p.parent), "3 sample(s)"),
    "palette": (errors.UnsupportedPhotometric, lambda p: real("OBXXXX1A.dcm", p.parent), "PALETTE"),
    "PI rgb, 1 sample": (
        errors.UnsupportedPhotometric,
        lambda p: edit(write_dicom(p), PhotometricInterpretation="RGB"),
        "RGB",
    ),
    "multi-frame": (
        errors.UnsupportedImageType,
        lambda p: real("emri_small.dcm", p.parent),
        "multi-frame",
    ),
    "huge native": (
        errors.TooLarge,
        lambda p: edit(write_dicom(p), Rows=60000, Columns=60000),
        "60000 x 60000",
    ),
    "huge j2k": (
        errors.TooLarge,
        lambda p: edit(
            write_encapsulated(p, j2k_frame(), JPEG2000Lossless),
            Rows=65535,
            Columns=65535,
            NumberOfFrames=100000,
        ),
        "65535 x 65535 x 100000",
    ),
    "rows doubled": (
        errors.Truncated,
        lambda p: edit(write_dicom(p), Rows=192),
        "the header needs",
    ),
    "missing rows": (errors.InvalidPixelModule, lambda p: edit(write_dicom(p), Rows=None), "Rows"),
    "bits stored > allocated": (
        errors.InvalidPixelModule,
        lambda p: edit(write_dicom(p), BitsStored=20),
        "Bits Stored (20)",
    ),
    "bits allocated 12": (
        errors.InvalidPixelModule,
        lambda p: edit(write_dicom(p), BitsAllocated=12),
        "Bits Allocated is 12",
    ),
    "rows zero": (errors.InvalidPixelModule, lambda p: edit(write_dicom(p), Rows=0), "empty"),
    "non-numeric frames": (
        errors.InvalidHeader,
        lambda p: real("badVR.dcm", p.parent),
        "NumberOfFrames",
    ),
    "constant": (
        errors.ConstantImage,
        lambda p: write_dicom(p, np.full((64, 64), 0.5)),
        "constant image",
    ),
    "rescale slope 0": (
        errors.ConstantImage,
        lambda p: write_dicom(p, slope=0.0),
        "constant image",
    ),
    "deflate bomb": (
        errors.TooLarge,
        lambda p: write_deflate_bomb(p, side=8192),
        "inflates to more than",
    ),
    "dicomdir": (
        errors.NoPixelData,
        lambda p: edit(write_dicom(p), SOPClassUID="1.2.840.10008.1.3.10") and _dicomdir(p),
        "DICOMDIR",
    ),
}


def _dicomdir(path):
    ds = pydicom.dcmread(path)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_with_its_class_one_line_and_no_output(case, tmp_path):
    cls, make, words = CASES[case]
    source = make(tmp_path / "input.dcm")
    out = tmp_path / "out" / "image.h5"
    with pytest.raises(errors.ImageError) as info:
        convert_image(source, out, SETTINGS, "img")
    assert type(info.value) is cls, info.value.line()
    line = info.value.line()
    assert "\n" not in line and str(source) in line and words in line, line
    assert line.rstrip(".").count(". ") >= 1  # what is wrong, then what to do
    assert not out.exists()
    assert not any(out.parent.glob("*")) if out.parent.exists() else True


def test_excess_pixel_data_is_accepted(tmp_path):
    path = write_dicom(tmp_path / "long.dcm")
    ds = pydicom.dcmread(path)
    ds.PixelData = ds.PixelData + bytes(4096)
    ds.save_as(path)
    convert_image(path, tmp_path / "o.h5", SETTINGS, "img")
    assert (tmp_path / "o.h5").exists()


def test_zero_window_width_falls_back_to_percentile(tmp_path):
    path = write_dicom(tmp_path / "w.dcm", window=(2000, 0))
    attrs = convert_image(path, tmp_path / "o.h5", ConvertSettings(window="header"), "img")
    assert attrs["window_method"] == "header-fallback-percentile"


def test_skip_policy_writes_a_rejected_placeholder(tmp_path):
    from weld_anomaly.ingest import hdf5_io

    source = tmp_path / "broken.dcm"
    source.write_bytes(b"garbage" * 100)
    attrs = convert_image(source, tmp_path / "o.h5", SETTINGS, "img", on_error="skip")
    assert attrs["rejected"] and attrs["error_class"] == "NotDicom"
    pixels, stored = hdf5_io.read_image(tmp_path / "o.h5")
    assert pixels is None and stored["rejected"] is True and "not a DICOM file" in stored["error"]


def test_padding_pixels_are_left_out_of_the_window(tmp_path):
    display = np.full((64, 64), 0.5)
    display[:, :16] = 0.0  # padding band, stored as 5 % of range
    display[20:40, 30:50] = 0.8
    path = write_dicom(tmp_path / "pad.dcm", display, PixelPaddingValue=205)
    attrs = convert_image(path, tmp_path / "o.h5", ConvertSettings(window="minmax"), "img")
    from weld_anomaly.ingest import hdf5_io

    pixels, _ = hdf5_io.read_image(tmp_path / "o.h5")
    assert attrs["padding_pixels"] == 64 * 16
    assert pixels[:, :16].max() == 0 and pixels[30, 40] == 255 and pixels[5, 20] == 0


def test_no_personal_data_reaches_outputs_or_logs(tmp_path):
    """A file full of identifying tags: none of the values appears in the HDF5 or the log."""
    from weld_anomaly.workflow.runner import run_step

    secrets = {
        "PatientName": "Kowalski^Jan",
        "PatientID": "PID-778899",
        "PatientBirthDate": "19610203",
        "InstitutionName": "Acme Pipeline Works",
        "ReferringPhysicianName": "Owner^Olga",
        "OperatorsName": "Inspector^Ivan",
        "StudyDescription": "Weld4711 CustomerFoo",
        "ComponentWelderIDs": ["WELDER-0042"],
        "EvaluatorName": "Eval^Eve",
        "AccessionNumber": "ACC-123987",
        "StationName": "XRAY-ROOM-7",
        "DeviceSerialNumber": "SN-55667788",
        "StudyDate": "20240229",
        "ImageComments": "CustAcmeNote",
    }
    source = write_dicom(tmp_path / "secret.dcm", **secrets)
    ds = pydicom.dcmread(source)
    ds.add_new(0x00091001, "LO", "private-vendor-secret")
    uid = str(ds.SOPInstanceUID)
    ds.save_as(source)
    out, log = tmp_path / "o.h5", tmp_path / "convert.log"
    run_step(log, convert_image, source=source, out_h5=out, settings=SETTINGS, image_id="img")
    data = out.read_bytes() + log.read_bytes()
    values = [v if isinstance(v, str) else v[0] for v in secrets.values()]
    for value in [*values, "private-vendor-secret", uid]:
        for part in value.replace("^", " ").split():
            assert part.encode() not in data, part


def test_rerun_gives_byte_identical_hdf5(tmp_path):
    source = write_dicom(tmp_path / "x.dcm", bits_stored=14, photometric="MONOCHROME1")
    convert_image(source, tmp_path / "a.h5", SETTINGS, "img")
    convert_image(source, tmp_path / "b.h5", SETTINGS, "img")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    from weld_anomaly.ingest import hdf5_io

    attrs = hdf5_io.read_image_attrs(tmp_path / "a.h5")
    for key in (
        "window_method",
        "window_lo",
        "window_hi",
        "bits_stored",
        "transfer_syntax",
        "decoder",
        "photometric_interpretation",
        "inverted_monochrome1",
        "instance_key",
    ):
        assert key in attrs


def test_duplicates_are_found(tmp_path):
    from weld_anomaly.ingest import hdf5_io
    from weld_anomaly.ingest.inventory import ImageRecord, to_csv
    from weld_anomaly.ingest.preprocess import summarize_images

    source = write_dicom(tmp_path / "a.dcm")
    copy = tmp_path / "b.dcm"
    copy.write_bytes(source.read_bytes())
    other = write_dicom(tmp_path / "c.dcm", bits_stored=14)
    for name, path in (("a", source), ("b", copy), ("c", other)):
        convert_image(path, tmp_path / f"{name}.h5", SETTINGS, name)
    records = [ImageRecord(n, str(tmp_path / f"{n}.dcm"), "nonfaulty", "test") for n in "abc"]
    (tmp_path / "m.csv").write_text(to_csv(records))
    h5s = [tmp_path / f"{n}.h5" for n in "abc"]
    with pytest.raises(errors.DuplicateInstance, match="images a and b are the same radiograph"):
        summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv")
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", on_error="skip")
    assert [r["duplicate_of"] for r in rows] == ["", "a", ""]
    assert [r["rejected"] for r in rows] == [False, True, False]
    assert hdf5_io.read_image_attrs(h5s[0])["instance_key"] != uid_of(source)


def uid_of(path):
    return str(pydicom.dcmread(path).SOPInstanceUID)
