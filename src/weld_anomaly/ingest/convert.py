"""Convert a radiograph (DICOM, PNG or TIFF) into a display-ready 8- or 16-bit array.

The order of operations follows the DICOM standard's grayscale pipeline (PS3.4):

1. validate the header and check the size before decoding (:mod:`weld_anomaly.ingest.dicom_io`);
2. decode the stored values (pydicom masks unused high bits and fixes signedness);
3. apply the Modality LUT (rescale slope/intercept, or a Modality LUT Sequence);
4. window, ignoring padding pixels: ``percentile`` (default), ``header`` (the VOI LUT
   Sequence, or Window Center/Width when it covers the data; otherwise percentile),
   ``minmax`` (the thesis's way, kept for comparison) or ``fixed``;
5. invert MONOCHROME1 exactly once (the Photometric Interpretation decides; a Presentation
   LUT Shape that disagrees is noted, never applied on top);
6. scale to the output depth.

Every image ends with one polarity: more attenuation is brighter, as on a film on a light
box, so cavities are darker than the weld around them. The parameters used are returned as
attributes; no names, IDs, dates or UIDs are ever copied (only a salted hash of the SOP
Instance UID, to find duplicates).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from weld_anomaly.errors import (
    ConfigError,
    ConstantImage,
    DecodeFailed,
    InvalidHeader,
    TooLarge,
    Truncated,
    Unexpected,
    UserError,
)
from weld_anomaly.errors import UnsupportedPhotometric as _Colour
from weld_anomaly.ingest import dicom_io

log = logging.getLogger(__name__)

WINDOW_METHODS = ("auto", "percentile", "header", "minmax", "fixed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
RASTER_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass(frozen=True)
class ConvertSettings:
    """How to map detector values to output grey levels (the ``convert`` config group)."""

    window: str = "auto"
    percentiles: tuple[float, float] = (0.1, 99.9)
    fixed_window: tuple[float, float] | None = None
    bit_depth: int = 8
    max_pixels: int = 400_000_000
    uid_salt: str = "weld-anomaly"

    @classmethod
    def from_config(cls, convert: dict) -> ConvertSettings:
        fixed = convert.get("fixed_window")
        return cls(
            window=str(convert["window"]),
            percentiles=(float(convert["percentiles"][0]), float(convert["percentiles"][1])),
            fixed_window=(float(fixed[0]), float(fixed[1])) if fixed else None,
            bit_depth=int(convert["bit_depth"]),
            max_pixels=int(convert["max_pixels"]),
            uid_salt=str(convert["uid_salt"]),
        )


@dataclass
class Converted:
    """A converted image and the parameters that produced it (stored as HDF5 attributes)."""

    pixels: np.ndarray
    attrs: dict = field(default_factory=dict)


@dataclass
class Source:
    """The stored (integer) values of a radiograph and how to read them.

    Conversion never builds full-size float images: every step is a function of the stored
    value, so it is computed once per distinct value (at most 65,536 for 16 bits) and applied
    to the image as one lookup table.
    """

    stored: np.ndarray  # integer stored values (H, W)
    to_modality: Callable[[np.ndarray], np.ndarray]  # stored values -> modality values
    attrs: dict
    padding: tuple[int, int] | None = None  # stored values that are padding, inclusive
    voi: Callable[[np.ndarray], np.ndarray] | None = None  # modality -> [0, 1] (VOI LUT)


# ---------------------------------------------------------------------------------------
# Reading


def _sniff(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(132)
    if len(head) == 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(PNG_MAGIC) or head[:4] in TIFF_MAGIC:
        return "raster"
    return "raster" if path.suffix.lower() in RASTER_SUFFIXES else "dicom"


def _number(ds, keyword: str, path: Path, default=None):
    """A numeric header value; ``default`` when absent or empty, refused when not a number."""
    value = dicom_io.header_value(ds, keyword, path)
    if value is None:
        return default
    try:
        return _first_number(value)
    except (TypeError, ValueError, IndexError):
        raise InvalidHeader(
            f"attribute {keyword} is not a number ({value!r:.40})",
            where=str(path),
            fix="fix the header or export the file again",
        ) from None


def _padding(ds, path: Path) -> tuple[int, int] | None:
    pad = _number(ds, "PixelPaddingValue", path)
    if pad is None:
        return None
    limit = _number(ds, "PixelPaddingRangeLimit", path, pad)
    return int(min(pad, limit)), int(max(pad, limit))


def _complete_luts(ds, keyword: str, path: Path) -> None:
    """Drop the items of a LUT sequence without a descriptor or data (empty = absent)."""
    items = dicom_io.header_value(ds, keyword, path)
    if items is None:
        if keyword in ds:
            del ds[keyword]
        return
    kept = [
        item
        for item in items
        if dicom_io.header_value(item, "LUTData", path) is not None
        and len(dicom_io.header_value(item, "LUTDescriptor", path) or ()) == 3
    ]
    if kept:
        ds[keyword].value = kept
    else:
        del ds[keyword]


def clean_header(ds, path: Path) -> None:
    """Treat empty values of the grey-scale attributes as absent, in place.

    Applied before pydicom's LUT functions see the data set: an empty Rescale Slope, a VOI
    LUT Sequence whose items have no data, or an empty Window Center mean "not given".
    """
    for keyword in ("ModalityLUTSequence", "VOILUTSequence"):
        _complete_luts(ds, keyword, path)
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        if keyword in ds and dicom_io.header_value(ds, keyword, path) is None:
            del ds[keyword]
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        _number(ds, keyword, path)  # refused now if it is not a number
    if ("RescaleSlope" in ds) != ("RescaleIntercept" in ds):  # pydicom needs both
        ds.RescaleSlope = _number(ds, "RescaleSlope", path, 1.0)
        ds.RescaleIntercept = _number(ds, "RescaleIntercept", path, 0.0)


def _read_dicom(path: Path, settings: ConvertSettings) -> Source:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    image = dicom_io.read_dicom(path, settings.max_pixels)
    ds = image.dataset
    clean_header(ds, path)
    attrs = {
        "source_format": "DICOM",
        "transfer_syntax": image.transfer_syntax,
        "transfer_syntax_name": {**dicom_io.NATIVE, **dicom_io.COMPRESSED}[image.transfer_syntax],
        "decoder": image.plugin,
        "decoder_version": image.plugin_version,
        "photometric_interpretation": str(ds.PhotometricInterpretation),
        "bits_stored": int(ds.BitsStored),
        "rescale_slope": _number(ds, "RescaleSlope", path, 1.0),
        "rescale_intercept": _number(ds, "RescaleIntercept", path, 0.0),
        "has_modality_lut_sequence": "ModalityLUTSequence" in ds,
        "instance_key": dicom_io.instance_key(ds, settings.uid_salt),
        **dicom_io.technical_attributes(ds),
    }
    window = _header_window(ds)
    if window is not None:
        attrs["header_window"] = list(window)

    def to_modality(values: np.ndarray) -> np.ndarray:
        return np.asarray(apply_modality_lut(values, ds), dtype=np.float64)

    voi = None
    if settings.window == "header" and "VOILUTSequence" in ds:
        top = float(max((1 << int(ds.VOILUTSequence[0].LUTDescriptor[2])) - 1, 1))

        def voi(modality: np.ndarray) -> np.ndarray:
            # a LUT is indexed by (integer) modality values
            out = apply_voi_lut(np.rint(modality).astype(np.int64), ds, prefer_lut=True)
            return np.asarray(out, dtype=np.float64) / top

    return Source(image.stored, to_modality, attrs, _padding(ds, path), voi)


def _first_number(value) -> float:
    """A DICOM number that may be multi-valued (take the first value)."""
    if isinstance(value, str | bytes):
        return float(value)
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def _header_window(ds) -> tuple[float, float] | None:
    """The first Window Center/Width of the header as ``(lo, hi)`` in modality units."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    try:
        c, w = _first_number(center), _first_number(width)
    except (TypeError, ValueError, IndexError):
        return None
    if w < 1:
        return None
    # DICOM PS3.3 C.11.2.1.2.1 (LINEAR): the window spans c - 0.5 - (w-1)/2 .. c - 0.5 + (w-1)/2
    return (c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2)


def _read_raster(path: Path, settings: ConvertSettings) -> Source:
    """Read an 8- or 16-bit greyscale PNG or TIFF."""
    from PIL import Image

    fix = "export the radiograph as an 8- or 16-bit greyscale PNG or TIFF"
    try:
        with Image.open(path) as im:
            if im.width * im.height > settings.max_pixels:
                raise TooLarge(
                    f"image too large: {im.width}x{im.height} pixels exceeds "
                    f"convert.max_pixels = {settings.max_pixels}",
                    where=str(path),
                    fix="raise convert.max_pixels in the configuration if the image is genuine",
                )
            if im.mode not in ("L", "I;16", "I;16B", "I;16L", "I"):
                raise _Colour(f"not a greyscale image (mode {im.mode})", where=str(path), fix=fix)
            im.load()
            arr = np.asarray(im)
    except (TooLarge, _Colour):
        raise
    except Image.DecompressionBombError as exc:
        raise TooLarge(str(exc).split(".")[0], where=str(path), fix=fix) from None
    except (OSError, ValueError, SyntaxError) as exc:
        cls = Truncated if "truncated" in str(exc).lower() else DecodeFailed
        raise cls(
            f"cannot read the image ({str(exc).splitlines()[0]})", where=str(path), fix=fix
        ) from None
    bits = 8 if arr.dtype == np.uint8 else 16
    attrs = {
        "source_format": "PNG" if _sniff_png(path) else "TIFF",
        "photometric_interpretation": "MONOCHROME2",
        "bits_stored": bits,
        "instance_key": hashlib.sha256(arr.tobytes()).hexdigest()[:32],
    }
    return Source(arr, lambda values: values.astype(np.float64), attrs)


def _sniff_png(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def read_source(path: str | Path, settings: ConvertSettings) -> Source:
    """Read any supported radiograph as float32 modality values and its attributes."""
    path = Path(path)
    if not path.is_file():
        from weld_anomaly.errors import ImageError

        raise ImageError(
            "image file not found", where=str(path), fix="check the file's path and name"
        )
    if path.stat().st_size == 0:
        raise Truncated("the file is empty", where=str(path), fix="copy it again from the archive")
    if _sniff(path) == "raster":
        return _read_raster(path, settings)
    return _read_dicom(path, settings)


# ---------------------------------------------------------------------------------------
# Windowing


def weighted_percentile(values: np.ndarray, counts: np.ndarray, q) -> np.ndarray:
    """``np.percentile`` (linear method) of a sample given as distinct values and counts."""
    order = np.argsort(values, kind="stable")
    v, c = values[order], counts[order]
    keep = c > 0
    v, cum = v[keep], np.cumsum(c[keep])
    n = int(cum[-1])
    ranks = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    below = np.floor(ranks)
    t = ranks - below
    a = v[np.searchsorted(cum, below, side="right")]
    b = v[np.searchsorted(cum, np.minimum(below + 1, n - 1), side="right")]
    # NumPy's own lerp: exact at both ends
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def choose_window(
    modality: np.ndarray, counts: np.ndarray, settings: ConvertSettings, attrs: dict
) -> tuple[float, float, str]:
    """The ``(lo, hi)`` window in modality units and the method actually used.

    ``modality`` holds the modality value of each distinct stored value and ``counts`` how
    many (non-padding) pixels have it.
    """
    method = settings.window
    if method == "fixed":
        if settings.fixed_window is None:
            raise ConfigError(
                "convert.window is 'fixed' but convert.fixed_window is not set",
                where="config/config.yaml",
                fix="set convert.fixed_window: [low, high]",
            )
        lo, hi = settings.fixed_window
        return float(lo), float(hi), "fixed"
    present = modality[counts > 0]
    vmin, vmax = float(present.min()), float(present.max())
    if method == "auto" and int(attrs.get("bits_stored", 16)) <= 8 and vmin >= 0 and vmax <= 255:
        # 8-bit grey levels are kept as they are: one grey scale for every 8-bit film and
        # crop, no clipping of the darkest (or brightest) pixels
        return 0.0, 255.0, "native-8bit"
    if method == "minmax":
        return vmin, vmax, "minmax"
    lo, hi = (float(v) for v in weighted_percentile(modality, counts, settings.percentiles))
    if method == "header":
        window = attrs.get("header_window")
        if window is not None:
            w_lo, w_hi = window
            overlap = min(w_hi, vmax) - max(w_lo, vmin)
            # use the header only when it covers a real part of the data's range
            if overlap > 0.25 * max(vmax - vmin, 1e-9):
                return float(w_lo), float(w_hi), "header"
        return lo, hi, FALLBACK_WINDOW
    return lo, hi, "percentile"  # also "auto" for deeper data


# the window method recorded when the header's window did not fit the data (the report warns)
FALLBACK_WINDOW = "header-fallback-percentile"
ROWS_PER_BLOCK = 1 << 22  # pixels per block when counting and mapping (bounded memory)


def _blocks(stored: np.ndarray):
    rows = max(1, ROWS_PER_BLOCK // max(stored.shape[1], 1))
    for start in range(0, stored.shape[0], rows):
        yield slice(start, start + rows)


def _offsets(block: np.ndarray, vmin: int) -> np.ndarray:
    """Stored values as non-negative indices into the value domain."""
    if block.dtype.kind == "u" and vmin >= 0:
        return block - block.dtype.type(vmin)
    return block.astype(np.int32) - np.int32(vmin)


def _value_counts(source, path: Path):
    """The stored value domain, each value's pixel count (padding left out), the padding mask
    and how many pixels were padding."""
    stored = source.stored
    vmin, vmax = int(stored.min()), int(stored.max())
    domain = np.arange(vmin, vmax + 1, dtype=np.int64)
    counts = np.zeros(len(domain), dtype=np.int64)
    for rows in _blocks(stored):
        counts += np.bincount(_offsets(stored[rows], vmin).ravel(), minlength=len(domain))
    padded = np.zeros(len(domain), dtype=bool)
    if source.padding is not None:
        lo_pad, hi_pad = source.padding
        padded = (domain >= lo_pad) & (domain <= hi_pad)
    padding_pixels = int(counts[padded].sum())
    counts[padded] = 0
    if not counts.any():
        raise ConstantImage("every pixel is padding", where=str(path), fix="remove the image")
    return domain, counts, padded, padding_pixels


def _window(source, modality, counts, settings, path: Path):
    """Each stored value's grey level in [0, 1] (the VOI LUT or the chosen window)."""
    if source.voi is not None:
        scaled = np.clip(source.voi(modality), 0.0, 1.0)
        if np.ptp(scaled[counts > 0]) <= 0:
            raise ConstantImage(
                "the header's VOI LUT maps every pixel to one value",
                where=str(path),
                fix="use convert.window: percentile",
            )
        return scaled, 0.0, 1.0, "header-voi-lut"
    lo, hi, method = choose_window(modality, counts, settings, source.attrs)
    if not hi > lo:
        raise ConstantImage(
            f"constant image: every pixel maps to one value ({lo:g}); nothing to inspect",
            where=str(path),
            fix="remove the image from the list, or check its exposure and rescale slope",
        )
    return np.clip((modality - lo) / (hi - lo), 0.0, 1.0), lo, hi, method


def _histograms(modality, counts, lut, top: int) -> dict:
    """The report's data-quality histograms: modality values before windowing (of the
    non-padding pixels) and grey levels after; both from the per-value counts."""
    present = counts > 0
    edges = np.linspace(float(modality[present].min()), float(modality[present].max()), 129)
    before, _ = np.histogram(modality[present], bins=edges, weights=counts[present])
    after = np.bincount(lut, weights=counts, minlength=top + 1)
    after = after.reshape(128, -1).sum(axis=1) if len(after) % 128 == 0 else after[:128]
    return {
        "histogram_modality_edges": edges.tolist(),
        "histogram_modality_counts": before.astype(np.int64).tolist(),
        "histogram_output_counts": after.astype(np.int64).tolist(),
    }


def convert(path: str | Path, settings: ConvertSettings) -> Converted:
    """Read and convert one radiograph to ``settings.bit_depth`` bits, bright = attenuating.

    Every failure is a :class:`~weld_anomaly.errors.UserError` with one line: the foreseen
    ones with their own class, anything else as :class:`~weld_anomaly.errors.Unexpected`
    whose traceback goes to the log file only (not the console).
    """
    try:
        return _convert(Path(path), settings)
    except UserError:
        raise
    except Exception as exc:  # a bug or a file nobody foresaw: still one line, never a stop
        logged = _keep_traceback(path)
        raise Unexpected(
            f"the converter failed unexpectedly ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'no message'})",
            where=str(path),
            fix=f"the traceback is in {logged}; please report it with that log, and remove the "
            "file from the image list to go on",
        ) from None


def _keep_traceback(path) -> str:
    """Put the current traceback where a bug report can take it from; returns where.

    Into the job's log file only (records marked ``log_only`` skip the console), or, when
    nothing logs to a file (the command line), into a file of its own.
    """
    text = traceback.format_exc()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            log.error(
                "%s: unexpected failure while converting (traceback for a bug report):\n%s",
                path,
                text,
                extra={"log_only": True},
            )
            return handler.baseFilename
    handle, name = tempfile.mkstemp(prefix="weld-anomaly-traceback-", suffix=".log")
    with os.fdopen(handle, "w") as out:
        out.write(f"{path}: unexpected failure while converting\n{text}")
    return name


def _convert(path: Path, settings: ConvertSettings) -> Converted:
    if settings.window not in WINDOW_METHODS:
        raise ConfigError(
            f"unknown window method {settings.window!r}",
            where="config convert.window",
            fix=f"use one of {', '.join(WINDOW_METHODS)}",
        )
    source = read_source(path, settings)
    stored, attrs = source.stored, source.attrs
    domain, counts, padded, padding_pixels = _value_counts(source, path)
    modality = source.to_modality(domain)
    if not np.all(np.isfinite(modality)):
        raise ConstantImage(
            "pixel values are not finite", where=str(path), fix="check the rescale parameters"
        )
    scaled, lo, hi, method = _window(source, modality, counts, settings, path)
    inverted = attrs.get("photometric_interpretation") == "MONOCHROME1"
    if inverted:
        scaled = 1.0 - scaled
    scaled[padded] = 0.0
    top = (1 << settings.bit_depth) - 1
    lut = np.rint(scaled * top).astype(np.uint8 if settings.bit_depth == 8 else np.uint16)
    pixels = np.empty(stored.shape, dtype=lut.dtype)
    vmin = int(domain[0])
    for rows in _blocks(stored):
        pixels[rows] = lut[_offsets(stored[rows], vmin)]
    attrs.update(_histograms(modality, counts, lut, top))
    attrs.update(
        {
            "window_method": method,
            "window_lo": float(lo),
            "window_hi": float(hi),
            "percentiles": list(settings.percentiles),
            "inverted_monochrome1": bool(inverted),
            "padding_pixels": padding_pixels,
            "polarity": "bright = more attenuation",
            "bit_depth": settings.bit_depth,
            "height": int(pixels.shape[0]),
            "width": int(pixels.shape[1]),
            "pixels_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
        }
    )
    plut = attrs.get("dicom_presentation_lut_shape")
    if plut and (plut == "INVERSE") != inverted:
        attrs["note"] = (
            f"Presentation LUT Shape {plut} disagrees with "
            f"{attrs['photometric_interpretation']}; the photometric interpretation was used"
        )
    return Converted(pixels, attrs)
