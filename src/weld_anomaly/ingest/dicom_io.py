"""Read DICOM radiographs safely: check, then decode, never trust the header blindly.

Steps, each failing with its own error class (``weld_anomaly.errors``) and one line:

1. the file meta information only (cheap): is it DICOM at all, is its transfer syntax one a
   decoder handles, is a deflated data set small enough once inflated (a 65 KB file can
   inflate to gigabytes);
2. the data set, with pydicom's "end of file" warnings escalated to errors;
3. the image pixel module: one sample per pixel, MONOCHROME1/2, 8 or 16 bits allocated,
   sane rows, columns and frames, and rows × columns × frames below ``max_pixels``, all
   before any decoding (pydicom allocates the output from the header's dimensions);
4. decoding with a fixed plugin order, so results do not depend on which decoder packages
   happen to be installed first (lossy JPEG differs by ±1 between plugins); the plugin and
   its version are recorded.

Decoders: uncompressed, deflated and RLE data decode with pydicom alone. The ``codecs`` extra
(``pip install weld-anomaly[codecs]``; MIT/BSD/Apache licences) adds JPEG baseline, JPEG
lossless, JPEG-LS, JPEG 2000 and HTJ2K. 12-bit lossy JPEG (JPEG Extended) needs the GPL-3.0
``pylibjpeg-libjpeg``: the optional ``codecs-gpl`` extra.

Multi-frame images are refused (one radiograph per file): split them into single-frame files
first. No header value other than the technical ones listed in :data:`TECHNICAL` is ever
read into the results.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import sys
import tempfile
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from weld_anomaly.errors import (
    DecodeFailed,
    InvalidHeader,
    InvalidPixelModule,
    MissingDecoder,
    NoPixelData,
    NotDicom,
    TooLarge,
    Truncated,
    UnsupportedImageType,
    UnsupportedPhotometric,
    UnsupportedTransferSyntax,
)

log = logging.getLogger(__name__)

# Plugins in the order they are tried; the first that decodes wins.
PLUGIN_ORDER = ("pylibjpeg", "gdcm", "pyjpegls", "pillow", "pydicom")
PLUGIN_PACKAGES = {
    "pylibjpeg": "pylibjpeg",
    "gdcm": "python-gdcm",
    "pyjpegls": "pyjpegls",
    "pillow": "pillow",
    "pydicom": "pydicom",
}
DICOMDIR = "1.2.840.10008.1.3.10"
# Storage classes of X-ray images (CR, DX, CT, MR, SC, XA, RF, MG, IO): an object of one of
# these without pixel data was cut short.
IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.2",
    "1.2.840.10008.5.1.4.1.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.1.3",
    "1.2.840.10008.5.1.4.1.1.1.3.1",
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.12.1",
    "1.2.840.10008.5.1.4.1.1.12.2",
}
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
NATIVE = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    DEFLATED: "Deflated Explicit VR Little Endian",
}
COMPRESSED = {
    "1.2.840.10008.1.2.5": "RLE Lossless",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    JPEG_EXTENDED: "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
    "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
    "1.2.840.10008.1.2.4.203": "HTJ2K",
}
CODECS_FIX = "install the decoders with `pip install weld-anomaly[codecs]` (or `make install`)"


@dataclass
class DicomImage:
    """Decoded stored values of a single-frame greyscale DICOM image and its header."""

    stored: np.ndarray
    dataset: object  # pydicom.Dataset, pixel data dropped
    transfer_syntax: str
    plugin: str
    plugin_version: str


def _where(path: Path) -> str:
    return str(path)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _inflated_size_at_most(path: Path, limit: int) -> bool:
    """Whether the deflated data set of ``path`` inflates to at most ``limit`` bytes."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    with open(path, "rb") as fp:
        read_preamble(fp, force=False)
        _read_file_meta_info(fp)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        while chunk := fp.read(1 << 16):
            data = inflater.decompress(chunk, limit + 1 - total)
            total += len(data)
            while inflater.unconsumed_tail and total <= limit:
                data = inflater.decompress(inflater.unconsumed_tail, limit + 1 - total)
                total += len(data)
            if total > limit:
                return False
    return True


def _data_after_meta(path: Path, meta) -> bool:
    """Whether data follows the file meta group (else the file ends inside it)."""
    length = meta.get("FileMetaInformationGroupLength")
    if length in (None, ""):
        return False
    # 128-byte preamble, "DICM", the group length element itself (12 bytes), the group
    return path.stat().st_size > 128 + 4 + 12 + int(length)


def _check_meta(path: Path, max_bytes: int) -> str:
    """Read only the file meta information; return the transfer syntax UID."""
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info

    try:
        meta = read_file_meta_info(path)
    except InvalidDicomError:
        raise NotDicom(
            "not a DICOM file (no 128-byte preamble with the 'DICM' prefix)",
            where=_where(path),
            fix="remove it from the image list, or export it as a DICOM file",
        ) from None
    except (EOFError, OSError, ValueError, KeyError) as exc:
        raise Truncated(
            f"the DICOM file meta information cannot be read ({_short(exc)})",
            where=_where(path),
            fix="copy the file again from the archive",
        ) from None
    if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR:
        raise NoPixelData(
            "a DICOMDIR (a directory of other files), not an image",
            where=_where(path),
            fix="list the image files themselves, not the DICOMDIR",
        )
    ts = str(meta.get("TransferSyntaxUID", "")).strip()
    if not ts:
        if _data_after_meta(path, meta):
            raise InvalidHeader(
                "the file meta information has no Transfer Syntax UID (0002,0010), so the "
                "data set cannot be read",
                where=_where(path),
                fix="export the file again from the system that wrote it, or add the "
                'attribute (e.g. dcmodify -i "(0002,0010)=1.2.840.10008.1.2.1")',
            )
        raise Truncated(
            "the file has no transfer syntax: it ends inside its meta information",
            where=_where(path),
            fix="copy the file again from the archive",
        )
    if ts not in NATIVE and ts not in COMPRESSED:
        raise UnsupportedTransferSyntax(
            f"transfer syntax {ts} cannot be decoded (video, Deflated Image Frame or unknown)",
            where=_where(path),
            fix="export the radiograph uncompressed or as JPEG 2000 / JPEG-LS",
        )
    if ts == DEFLATED and not _inflated_size_at_most(path, max_bytes + (1 << 20)):
        raise TooLarge(
            f"the deflated data set inflates to more than {max_bytes + (1 << 20)} bytes",
            where=_where(path),
            fix="raise convert.max_pixels if the image is genuine",
        )
    return ts


def _read_dataset(path: Path):
    import pydicom

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(path)
        except EOFError as exc:
            raise Truncated(
                f"the file ends too early ({_short(exc)})",
                where=_where(path),
                fix="copy the file again from the archive",
            ) from None
        except Exception as exc:  # pydicom raises many types on malformed data
            raise InvalidHeader(
                f"the DICOM data set cannot be parsed ({type(exc).__name__}: {_short(exc)})",
                where=_where(path),
                fix="check the file with a DICOM validator (e.g. dciodvfy) or export it again",
            ) from None
    for w in caught:
        text = str(w.message)
        if "End of file reached" in text or "truncated" in text.lower():
            raise Truncated(
                "the file ends before its data does (missing sequence delimiter)",
                where=_where(path),
                fix="copy the file again from the archive",
            )
    return ds


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return len(value) == 0
    except TypeError:
        return False


def header_value(ds, keyword: str, path: Path):
    """The value of ``keyword``; None when absent or empty (DICOM allows both for optional
    attributes, and some systems write empty values even for conditional ones). A value
    pydicom cannot even read is refused with one line."""
    if keyword not in ds:
        return None
    try:
        value = ds[keyword].value
    except Exception as exc:  # pydicom raises many types on malformed values
        raise InvalidHeader(
            f"attribute {keyword} cannot be read ({type(exc).__name__}: {_short(exc)})",
            where=_where(path),
            fix="fix the header or export the file again",
        ) from None
    return None if _is_empty(value) else value


def _empty(ds, keyword: str, path: Path) -> bool:
    return header_value(ds, keyword, path) is None


def _int(ds, keyword: str, path: Path, default: int | None = None) -> int:
    if _empty(ds, keyword, path):
        if default is not None:
            return default
        raise InvalidPixelModule(
            f"missing required attribute {keyword}",
            where=_where(path),
            fix="the file's image pixel module is incomplete; export it again",
        )
    try:
        value = ds[keyword].value
        return int(value[0] if isinstance(value, list | tuple) else value)
    except (TypeError, ValueError):
        raise InvalidHeader(
            f"attribute {keyword} is not a number ({ds[keyword].value!r:.40})",
            where=_where(path),
            fix="fix the header or export the file again",
        ) from None


def _require_pixel_data(ds, path: Path) -> None:
    """Refuse objects without integer pixel data, saying what they are instead."""
    if "PixelData" in ds:
        return
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise UnsupportedImageType(
            "floating-point pixel data (a parametric map, not a radiograph)",
            where=_where(path),
            fix="export the radiograph with integer pixels",
        )
    classes = {
        str(ds.get("SOPClassUID", "")),
        str(ds.file_meta.get("MediaStorageSOPClassUID", "")),
    }
    if len(ds) == 0 or "Rows" in ds or classes & IMAGE_CLASSES:
        raise Truncated(
            "the file ends before its pixel data (an image object without an image)",
            where=_where(path),
            fix="copy the file again from the archive",
        )
    raise NoPixelData(
        "the DICOM object holds no image (a report, plan or other non-image object)",
        where=_where(path),
        fix="remove it from the image list",
    )


def _check_bits(allocated: int, stored: int, path: Path) -> None:
    if allocated in (1, 32, 64):
        raise UnsupportedImageType(
            f"{allocated}-bit pixels (a segmentation or dose map, not a radiograph)",
            where=_where(path),
            fix="export the radiograph with 8 or 16 bits allocated",
        )
    if allocated not in (8, 16):
        raise InvalidPixelModule(
            f"Bits Allocated is {allocated}; it must be 8 or 16",
            where=_where(path),
            fix="the header is inconsistent; export the file again",
        )
    if not 1 <= stored <= allocated:
        raise InvalidPixelModule(
            f"Bits Stored ({stored}) does not fit Bits Allocated ({allocated})",
            where=_where(path),
            fix="the header is inconsistent; export the file again",
        )


def _check_size(rows: int, cols: int, frames: int, max_pixels: int, path: Path) -> None:
    if rows < 1 or cols < 1 or frames < 1:
        raise InvalidPixelModule(
            f"image size {rows} x {cols} x {frames} frame(s) is empty",
            where=_where(path),
            fix="the header is inconsistent; export the file again",
        )
    if rows * cols * frames > max_pixels:
        raise TooLarge(
            f"the header claims {rows} x {cols} x {frames} pixels, more than "
            f"convert.max_pixels = {max_pixels}",
            where=_where(path),
            fix="raise convert.max_pixels in the configuration if the image is genuine",
        )
    if frames > 1:
        raise UnsupportedImageType(
            f"multi-frame image ({frames} frames); one radiograph per file is expected",
            where=_where(path),
            fix="split the frames into single-frame files (e.g. with dcmtk's dcmsplit)",
        )


def check_header(ds, path: Path, ts: str, max_pixels: int) -> tuple[int, int]:
    """Validate the image pixel module before decoding; return ``(rows, columns)``."""
    _require_pixel_data(ds, path)
    if _empty(ds, "SamplesPerPixel", path):
        raise InvalidPixelModule(
            "missing required attribute SamplesPerPixel (0028,0002); the pixel data may be "
            "fine, but no decoder reads it without this attribute",
            where=_where(path),
            fix='add it to the header (e.g. dcmodify -i "(0028,0002)=1") or export the file again',
        )
    samples = _int(ds, "SamplesPerPixel", path)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise UnsupportedPhotometric(
            f"not a greyscale image ({samples} sample(s) per pixel, photometric "
            f"interpretation {photometric or 'missing'})",
            where=_where(path),
            fix="export the radiograph as MONOCHROME1 or MONOCHROME2",
        )
    rows = _int(ds, "Rows", path)
    cols = _int(ds, "Columns", path)
    frames = _int(ds, "NumberOfFrames", path, default=1)
    allocated = _int(ds, "BitsAllocated", path)
    stored = _int(ds, "BitsStored", path)
    _int(ds, "PixelRepresentation", path)
    _check_bits(allocated, stored, path)
    _check_size(rows, cols, frames, max_pixels, path)
    if ts in NATIVE:
        expected = rows * cols * allocated // 8
        actual = len(ds.PixelData)
        if actual < expected:
            raise Truncated(
                f"pixel data holds {actual} bytes, the header needs {expected}",
                where=_where(path),
                fix="copy the file again from the archive",
            )
    return rows, cols


def _plugins(ts: str, bits_stored: int, path: Path) -> list[str]:
    from pydicom.pixels import get_decoder

    if ts in NATIVE:
        return ["pydicom"]  # uncompressed: pydicom reads the values itself
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedTransferSyntax(
            f"no decoder exists for transfer syntax {ts}",
            where=_where(path),
            fix="export the radiograph uncompressed",
        ) from None
    available = list(decoder.available_plugins)
    if ts == JPEG_EXTENDED and bits_stored > 8 and "pylibjpeg" not in available:
        raise MissingDecoder(
            "12-bit lossy JPEG (JPEG Extended) needs the GPL-3.0 decoder pylibjpeg-libjpeg",
            where=_where(path),
            fix="install it with `pip install weld-anomaly[codecs-gpl]`, or export the "
            "radiograph losslessly",
        )
    if not available:
        name = COMPRESSED.get(ts, ts)
        raise MissingDecoder(
            f"no decoder for {name} is installed",
            where=_where(path),
            fix=CODECS_FIX,
        )
    return sorted(available, key=lambda p: PLUGIN_ORDER.index(p) if p in PLUGIN_ORDER else 99)


def _version(plugin: str) -> str:
    try:
        return metadata.version(PLUGIN_PACKAGES.get(plugin, plugin))
    except metadata.PackageNotFoundError:
        return "unknown"


def decoder_reason(plugin: str, exc: BaseException, printed: str = "") -> str:
    """What one decoder said when it failed, shortened to a line: ``plugin: message``.

    pydicom wraps the decoder's own message in "Unable to decode as exceptions were raised by
    all available plugins:" followed by one line per plugin; those lines are the reason.
    Messages a C library printed to stderr meanwhile (``printed``) are added when pydicom's
    says nothing more.
    """
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Unable to decode as exceptions were raised"):
        lines = [
            line.split(": ", 1)[1] if line.startswith(f"{plugin}: ") else line for line in lines[1:]
        ]
    text = "; ".join(lines) or type(exc).__name__
    # an object's address changes from run to run: the same file gets the same words
    text = " ".join(re.sub(r"<[\w.]+ object at 0x[0-9a-fA-F]+>", "", text).split())
    if re.search(r"object has no attribute|object is not subscriptable|NoneType", text):
        text = "it failed without giving a reason (an error inside the decoder)"
    extra = " ".join(printed.split())
    if extra and extra not in text:
        text += f" [{extra}]"
    return f"{plugin}: {text}"[:240]


@contextmanager
def _quiet_decoders():
    """Keep decoders' chatter out of the logs and the console while they are tried.

    pydicom logs every failing plugin with a full traceback at ERROR level, also when the
    next plugin succeeds, and C libraries (OpenJPEG) print straight to file descriptor 2. The
    ``printed`` list receives what was printed; the caller puts it into its one-line reason.
    """
    printed: list[str] = []
    logger = logging.getLogger("pydicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    with tempfile.TemporaryFile() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # excess padding is trimmed, which is fine
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(tmp.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no descriptor 2 to borrow
            saved = None
        try:
            yield printed
        finally:
            logger.setLevel(level)
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            printed.append(tmp.read().decode(errors="replace"))


def _decode(ds, ts: str, plugin: str, path: Path):
    """The stored values decoded by ``plugin``; ``(None, reason)`` when it fails."""
    from pydicom.pixels import pixel_array

    with _quiet_decoders() as printed:
        try:
            return pixel_array(ds, decoding_plugin="" if ts in NATIVE else plugin), ""
        except ValueError as exc:
            if "less than expected" in str(exc):
                raise Truncated(
                    f"pixel data is shorter than the header says ({_short(exc)})",
                    where=_where(path),
                    fix="copy the file again from the archive",
                ) from None
            failure = exc
        except (RuntimeError, MemoryError, OSError, KeyError, AttributeError, TypeError) as exc:
            failure = exc
    return None, decoder_reason(plugin, failure, "".join(printed))


def read_dicom(path: str | Path, max_pixels: int) -> DicomImage:
    """Check and decode one single-frame greyscale DICOM radiograph."""
    path = Path(path)
    ts = _check_meta(path, max_pixels * 2)
    ds = _read_dataset(path)
    check_header(ds, path, ts, max_pixels)
    reasons = []
    for plugin in _plugins(ts, _int(ds, "BitsStored", path), path):
        stored, reason = _decode(ds, ts, plugin, path)
        if stored is None:
            reasons.append(reason)
            continue
        if stored.shape != (ds.Rows, ds.Columns):
            raise InvalidPixelModule(
                f"decoded pixels have shape {stored.shape}, the header says "
                f"{ds.Rows} x {ds.Columns}",
                where=_where(path),
                fix="the header and the pixel data disagree; export the file again",
            )
        if reasons:  # an earlier decoder failed: worth a line, not an ERROR
            log.info("%s: decoded by %s after %s", path, plugin, "; ".join(reasons))
        del ds.PixelData
        return DicomImage(stored, ds, ts, plugin, _version(plugin))
    raise DecodeFailed(
        f"{COMPRESSED.get(ts, ts)} pixel data that no decoder could read "
        f"({' | '.join(reasons)[:400]})",
        where=_where(path),
        fix="the pixel data is probably corrupt: copy the file again from the archive, or "
        "export it again",
    )


def instance_key(ds, salt: str) -> str:
    """A pseudonymous key of the SOP Instance UID (HMAC-SHA256 with ``salt``), or ''."""
    uid = str(ds.get("SOPInstanceUID", "")).strip()
    if not uid:
        return ""
    return hmac.new(salt.encode(), uid.encode(), hashlib.sha256).hexdigest()[:32]


def technical_attributes(ds) -> dict:
    """The allow-list of header values copied into the results (no names, IDs, dates, UIDs)."""
    out = {}
    for keyword in TECHNICAL:
        if keyword not in ds:
            continue
        try:
            value = ds[keyword].value
        except Exception:  # unreadable: not copied (the conversion refuses it if it needs it)
            continue
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            value = [float(v) if _is_number(v) else str(v) for v in value]
        elif _is_number(value):
            value = float(value)
        else:
            value = str(value)
        out[_snake(keyword)] = value
    return out


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str) or value.strip() != ""


def _snake(keyword: str) -> str:
    out = []
    for i, ch in enumerate(keyword):
        if ch.isupper() and i and (not keyword[i - 1].isupper()):
            out.append("_")
        out.append(ch.lower())
    return "dicom_" + "".join(out)


# Technical attributes only: geometry, pixel encoding, grey-scale parameters, material.
TECHNICAL = (
    "Modality",
    "SOPClassUID",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PresentationLUTShape",
    "PixelIntensityRelationship",
    "PixelIntensityRelationshipSign",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "EstimatedRadiographicMagnificationFactor",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "PixelPaddingValue",
    "PresentationIntentType",
    "MaterialThickness",
    "MaterialGrade",
    "KVP",
    "ExposureTime",
)
