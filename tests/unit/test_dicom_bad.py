"""Every kind of bad radiograph fails with its own error class, one line, and no output."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import (
    short_modality_lut,
    with_unreadable_padding,
    write_deflate_bomb,
    write_dicom,
    write_encapsulated,
)
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


def without_transfer_syntax(path):
    ds = pydicom.dcmread(path)
    del ds.file_meta.TransferSyntaxUID
    ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return path


def with_empty_values(path):
    """Empty Pixel Padding Value, window, and LUT items with empty descriptor and data."""
    ds = pydicom.dcmread(path)
    ds.add_new(0x00280120, "US", None)  # PixelPaddingValue
    ds.add_new(0x00281050, "DS", None)  # WindowCenter
    ds.add_new(0x00281051, "DS", None)  # WindowWidth
    ds.add_new(0x00281052, "DS", None)  # RescaleIntercept (the slope stays)
    for keyword in ("ModalityLUTSequence", "VOILUTSequence"):
        item = pydicom.Dataset()
        item.add_new(0x00283002, "US", None)  # LUTDescriptor
        item.add_new(0x00283006, "OW", None)  # LUTData
        setattr(ds, keyword, [item])
    ds.save_as(path)
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
        "that no decoder could read",
    ),
    "corrupt codestream": (
        errors.DecodeFailed,
        lambda p: real("JPEG2000-embedded-sequence-delimiter.dcm", p.parent),
        "that no decoder could read",
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
    "missing samples per pixel": (
        errors.InvalidPixelModule,
        lambda p: edit(write_dicom(p), SamplesPerPixel=None),
        "missing required attribute SamplesPerPixel (0028,0002); the pixel data may be fine",
    ),
    "meta without transfer syntax": (
        errors.InvalidHeader,
        lambda p: without_transfer_syntax(write_dicom(p)),
        "no Transfer Syntax UID (0002,0010)",
    ),
    "attribute whose access raises": (
        errors.InvalidHeader,
        lambda p: with_unreadable_padding(write_dicom(p)),
        "attribute PixelPaddingValue cannot be read (BytesLengthException",
    ),
    "LUT shorter than its descriptor": (
        errors.Unexpected,  # a file nobody foresaw: still one line, and a rejected row on skip
        lambda p: short_modality_lut(write_dicom(p)),
        "the converter failed unexpectedly",
    ),
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
    with pytest.raises(errors.DuplicateInstance, match="image b is the same radiograph as a"):
        summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv")
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", on_error="skip")
    assert [r["duplicate_of"] for r in rows] == ["", "a", ""]
    assert [r["rejected"] for r in rows] == [False, True, False]
    assert "on_error" not in rows[1]["error"]  # skip is already set: no advice to set it
    assert hdf5_io.read_image_attrs(h5s[0])["instance_key"] != uid_of(source)


def test_a_duplicate_of_a_duplicate_names_the_image_kept(tmp_path):
    """b is a (same instance, other pixels); c has b's pixels under a new UID: c is a's copy."""
    from weld_anomaly.ingest.inventory import ImageRecord, to_csv
    from weld_anomaly.ingest.preprocess import summarize_images

    source = write_dicom(tmp_path / "a.dcm")
    ds = pydicom.dcmread(source)
    pixels = ds.pixel_array.copy()
    pixels[0, 0] += 1
    ds.PixelData = pixels.tobytes()
    ds.save_as(tmp_path / "b.dcm")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "c.dcm")
    for name in "abc":
        convert_image(tmp_path / f"{name}.dcm", tmp_path / f"{name}.h5", SETTINGS, name)
    records = [ImageRecord(n, str(tmp_path / f"{n}.dcm"), "nonfaulty", "train") for n in "abc"]
    (tmp_path / "m.csv").write_text(to_csv(records))
    h5s = [tmp_path / f"{n}.h5" for n in "abc"]
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", on_error="skip")
    assert [r["duplicate_of"] for r in rows] == ["", "a", "a"]
    assert "image c is the same radiograph as a" in rows[2]["error"]
    # the training set drops both copies too
    from weld_anomaly.ingest.preprocess import _drop_duplicates, crop_and_fragment

    frags = []
    for n in "abc":
        frags.append(tmp_path / f"{n}.frag.h5")
        crop_and_fragment(
            tmp_path / f"{n}.h5",
            None,
            None,
            tmp_path / f"{n}.crops.h5",
            tmp_path / f"{n}.png",
            frags[-1],
            image_id=n,
            size=16,
            stride=16,
        )
    assert _drop_duplicates(frags, list("abc"), "skip") == ([frags[0]], ["a"])


def uid_of(path):
    return str(pydicom.dcmread(path).SOPInstanceUID)


@pytest.mark.parametrize("window", ["percentile", "header"])
@pytest.mark.parametrize("name", ["synthetic 16-bit", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
def test_empty_values_mean_absent_and_the_file_converts_as_without_them(tmp_path, name, window):
    if name.endswith(".dcm"):
        plain = edit(real(name, tmp_path), WindowCenter=None, WindowWidth=None)
    else:
        plain = write_dicom(tmp_path / "plain.dcm", bits_stored=16)
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(plain.read_bytes())
    with_empty_values(empty)
    settings = ConvertSettings(window=window)
    expected = convert_image(plain, tmp_path / "plain.h5", settings, "a")
    got = convert_image(empty, tmp_path / "empty.h5", settings, "a")
    assert got["pixels_sha256"] == expected["pixels_sha256"]
    assert got["padding_pixels"] == 0 and not got["has_modality_lut_sequence"]


def test_a_value_that_is_not_a_number_is_refused_by_name(tmp_path):
    path = write_dicom(tmp_path / "s.dcm")
    data = path.read_bytes()
    ds = pydicom.dcmread(path)
    old = ds["RescaleSlope"]
    assert old.value == 1.0
    # the slope written as "ab" (same length as "1 ") straight into the file's bytes
    path.write_bytes(
        data.replace(b"\x28\x00\x53\x10DS\x02\x001 ", b"\x28\x00\x53\x10DS\x02\x00ab", 1)
    )
    with pytest.raises(errors.InvalidHeader) as info:
        convert_image(path, tmp_path / "o.h5", SETTINGS, "img")
    assert "attribute RescaleSlope is not a number ('ab')" in info.value.line()


def test_an_unforeseen_decoder_failure_is_one_line_and_a_rejected_row_on_skip(
    tmp_path, monkeypatch, capfd
):
    """A decoder raising an exception type nobody expects: under skip the run goes on."""

    import pydicom.pixels

    from weld_anomaly.ingest import hdf5_io
    from weld_anomaly.workflow.runner import setup_logging

    class DecoderBug(Exception):
        pass

    def broken(*args, **kwargs):
        raise DecoderBug("codec state machine confused")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", broken)
    source = write_dicom(tmp_path / "x.dcm")
    log = tmp_path / "convert.log"
    setup_logging(log)
    try:
        attrs = convert_image(source, tmp_path / "o.h5", SETTINGS, "img", on_error="skip")
        with pytest.raises(errors.Unexpected) as info:
            convert_image(source, tmp_path / "p.h5", SETTINGS, "img")
    finally:
        _close_log_handlers()
    assert attrs["rejected"] and attrs["error_class"] == "Unexpected"
    _, stored = hdf5_io.read_image(tmp_path / "o.h5")
    assert "DecoderBug: codec state machine confused" in stored["error"]
    assert str(log) in stored["error"]  # where the traceback is
    line = info.value.line()
    assert "\n" not in line and str(source) in line and not (tmp_path / "p.h5").exists()
    assert "Traceback" in log.read_text()  # for the bug report ...
    assert "Traceback" not in capfd.readouterr().err  # ... and not on the console


def _close_log_handlers() -> None:
    """Undo ``setup_logging``: its handlers closed (its log file too) and removed."""
    import logging

    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()


def test_refusals_carry_the_decoders_reasons_and_the_logs_no_tracebacks(tmp_path):

    from weld_anomaly.workflow.runner import setup_logging

    source = write_encapsulated(tmp_path / "x.dcm", bytes(64 * 96 * 2), JPEG2000Lossless)
    log = tmp_path / "convert.log"
    setup_logging(log)
    try:
        with pytest.raises(errors.DecodeFailed) as info:
            convert_image(source, tmp_path / "o.h5", SETTINGS, "img")
    finally:
        _close_log_handlers()
    line = info.value.line()
    reasons = line.split("(", 1)[1]
    assert "Unable to decode as exceptions were raised" not in line
    assert any(f"{plugin}: " in reasons for plugin in ("pylibjpeg", "gdcm", "pillow")), line
    assert len(reasons.split(": ", 1)[1]) > 10, line  # the decoder's own words, not just a name
    assert "Traceback" not in log.read_text() and " ERROR " not in log.read_text()


def test_header_values_pydicom_warns_about_never_reach_a_log_and_each_notice_is_logged_once(
    tmp_path, capfd
):
    """pydicom quotes the value it finds invalid; a UID or a name must not reach the job's
    log or the console, and its notice (logged and warned by pydicom) appears once."""
    from weld_anomaly.workflow.runner import run_step

    source = write_dicom(tmp_path / "odd.dcm")
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = "1.2.840.SECRETUID99"  # letters: not a valid UI
    ds.PatientName = "Kowalski^Jan=" + "Z" * 70  # a component over 64 characters: invalid PN
    ds.StudyInstanceUID = "1.2.840.SECRETSTUDY7"
    ds.save_as(source)
    log = tmp_path / "convert.log"
    run_step(
        log,
        convert_image,
        source=source,
        out_h5=tmp_path / "o.h5",
        settings=SETTINGS,
        image_id="img",
    )
    text = log.read_text() + "".join(capfd.readouterr())
    for secret in ("SECRETUID99", "SECRETSTUDY7", "Kowalski", "ZZZZ"):
        assert secret not in text, secret
    notices = [line for line in log.read_text().splitlines() if "Invalid value for VR" in line]
    assert len(notices) == len(set(n.split(": ", 1)[1] for n in notices)), notices


def test_the_same_broken_file_is_refused_with_the_same_words_every_time(tmp_path):
    """Decoders' reasons carry no memory address and no internal error text."""
    source = write_encapsulated(tmp_path / "x.dcm", bytes(64 * 96 * 2), JPEG2000Lossless)
    lines = set()
    for i in range(2):
        with pytest.raises(errors.DecodeFailed) as info:
            convert_image(source, tmp_path / f"o{i}.h5", SETTINGS, "img")
        lines.add(info.value.line())
    (line,) = lines
    assert " 0x" not in line and "NoneType" not in line and "object has no attribute" not in line


def test_pixel_size_from_labels_header_magnification_or_config(tmp_path):
    """Each image's pixel size: the labels table's column, else the header (Imager Pixel
    Spacing over the magnification), else data.pixel_size_mm; a bad cell is one line."""
    from PIL import Image

    from weld_anomaly.ingest.inventory import ImageRecord, ManifestError, to_csv
    from weld_anomaly.ingest.preprocess import summarize_images

    rng = np.random.default_rng(0)
    write_dicom(tmp_path / "mag.dcm", rng.random((64, 64)), ImagerPixelSpacing=[0.1, 0.1],
                EstimatedRadiographicMagnificationFactor=1.25)  # fmt: skip
    write_dicom(tmp_path / "plain.dcm", rng.random((64, 64)), PixelSpacing=[0.05, 0.05],
                ImagerPixelSpacing=[0.1, 0.1])  # fmt: skip
    Image.fromarray(np.full((64, 64), 120, np.uint8)).save(tmp_path / "png.png")
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(tmp_path / "own.png")
    names = {"mag": "mag.dcm", "plain": "plain.dcm", "png": "png.png", "own": "own.png"}
    for name, file in names.items():
        convert_image(tmp_path / file, tmp_path / f"{name}.h5", SETTINGS, name)
    records = [ImageRecord(n, str(tmp_path / f), "nonfaulty", "test") for n, f in names.items()]
    (tmp_path / "m.csv").write_text(to_csv(records))
    labels = tmp_path / "labels.csv"
    labels.write_text("image,file,status,pixel_size_mm\nmag,mag.dcm,ok,\nown,own.png,ok,0.0403\n")
    h5s = [tmp_path / f"{n}.h5" for n in names]
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", pixel_size_mm=0.2,
                            labels=labels)  # fmt: skip
    got = {r["image"]: (r["pixel_spacing_mm"], r["pixel_size_from"]) for r in rows}
    assert got == {
        "mag": (0.08, "DICOM header"),  # 0.1 mm at the detector, magnified 1.25 times
        "plain": (0.05, "DICOM header"),  # Pixel Spacing is already at the object
        "png": (0.2, "data.pixel_size_mm"),
        "own": (0.0403, "labels table"),
    }
    rows = summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv")
    assert {r["image"]: r["pixel_spacing_mm"] for r in rows}["png"] == ""  # unknown: px
    labels.write_text("image,file,status,pixel_size_mm\nown,own.png,ok,40 um\n")
    with pytest.raises(ManifestError) as bad:
        summarize_images(tmp_path / "m.csv", h5s, tmp_path / "s.csv", labels=labels)
    line = bad.value.line()
    assert "'40 um'" in line and "line 2, column pixel_size_mm" in line and "0.0403" in line
