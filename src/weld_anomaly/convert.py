"""Convert a radiograph (DICOM, PNG or TIFF) into a display-ready 8- or 16-bit array.

The order of operations follows ``shared/research/dicom.md`` §3.2:

1. validate the header (one sample per pixel, monochrome, sane bit depths);
2. check the size before decoding anything;
3. decode the pixels (pydicom masks unused high bits and fixes signedness);
4. apply the Modality LUT (rescale slope/intercept, or a Modality LUT Sequence);
5. window: ``percentile`` (default), ``header`` (VOI LUT or Window Center/Width, falling back
   to percentile when the header window does not fit the data), ``minmax`` (the thesis's
   way, kept for comparison) or ``fixed``;
6. invert MONOCHROME1 exactly once (the Photometric Interpretation decides; a Presentation
   LUT Shape that disagrees is noted, not applied on top);
7. scale to the output depth.

The result keeps one polarity for every image: more attenuation is brighter, as on a film
on a light box, so cavities are darker than the weld around them. The parameters used are
returned as attributes; no names, IDs, dates or UIDs are ever copied.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from weld_anomaly.errors import ImageError

WINDOW_METHODS = ("percentile", "header", "minmax", "fixed")
RASTER_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass(frozen=True)
class ConvertSettings:
    """How to map detector values to the output grey levels (the ``convert`` config group)."""

    window: str = "percentile"
    percentiles: tuple[float, float] = (0.5, 99.5)
    fixed_window: tuple[float, float] | None = None
    bit_depth: int = 8
    max_pixels: int = 400_000_000

    @classmethod
    def from_config(cls, convert: dict) -> ConvertSettings:
        fixed = convert.get("fixed_window")
        return cls(
            window=str(convert["window"]),
            percentiles=(float(convert["percentiles"][0]), float(convert["percentiles"][1])),
            fixed_window=(float(fixed[0]), float(fixed[1])) if fixed else None,
            bit_depth=int(convert["bit_depth"]),
            max_pixels=int(convert["max_pixels"]),
        )


@dataclass
class Converted:
    """A converted image and the parameters that produced it (stored as HDF5 attributes)."""

    pixels: np.ndarray
    attrs: dict = field(default_factory=dict)


def _fail(path: Path, what: str, fix: str) -> ImageError:
    return ImageError(what, where=str(path), fix=fix)


# ---------------------------------------------------------------------------------------
# Reading


def _read_dicom(path: Path, settings: ConvertSettings) -> tuple[np.ndarray, dict]:
    """Decode a DICOM file to modality values (float32) plus technical attributes."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # truncation warnings become errors
            ds = pydicom.dcmread(path, stop_before_pixels=False)
    except InvalidDicomError:
        raise _fail(
            path,
            "not a DICOM file (no DICOM preamble or header)",
            "remove it from the image list or export it as DICOM",
        ) from None
    except (EOFError, OSError, ValueError, UserWarning, KeyError, TypeError) as exc:
        raise _fail(
            path,
            f"cannot read the DICOM file ({type(exc).__name__}: {exc})".splitlines()[0],
            "check the file is complete; copy it again from the archive",
        ) from None

    if "PixelData" not in ds:
        raise _fail(path, "the DICOM file holds no pixel data", "remove it from the image list")
    samples = int(ds.get("SamplesPerPixel", 1))
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise _fail(
            path,
            f"colour image ({samples} samples per pixel, {photometric or 'no'} "
            "photometric interpretation); radiographs are greyscale",
            "export the radiograph as a MONOCHROME image",
        )
    rows, cols = int(ds.get("Rows", 0)), int(ds.get("Columns", 0))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    bits_alloc = int(ds.get("BitsAllocated", 0))
    bits_stored = int(ds.get("BitsStored", bits_alloc))
    if rows < 1 or cols < 1:
        raise _fail(path, f"invalid image size {rows}x{cols}", "check the file's pixel module")
    if bits_alloc not in (8, 16, 32) or not 1 <= bits_stored <= bits_alloc:
        raise _fail(
            path,
            f"unsupported bit depth (allocated {bits_alloc}, stored {bits_stored})",
            "export with 8 or 16 bits allocated",
        )
    if rows * cols * frames > settings.max_pixels:
        raise _fail(
            path,
            f"image too large: {rows}x{cols}x{frames} pixels exceeds "
            f"convert.max_pixels = {settings.max_pixels}",
            "raise convert.max_pixels in config/config.yaml if the image is genuine",
        )
    if frames != 1:
        raise _fail(
            path,
            f"multi-frame image ({frames} frames); one radiograph per file is expected",
            "split the frames into separate files",
        )

    transfer_syntax = str(ds.file_meta.get("TransferSyntaxUID", "unknown"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            stored = ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        raise _fail(
            path,
            f"cannot decode pixel data with transfer syntax {transfer_syntax} "
            f"({str(exc).splitlines()[0]})",
            "install the decoders with `pip install weld-anomaly[codecs]` or export uncompressed",
        ) from None
    except (ValueError, EOFError, OSError) as exc:
        raise _fail(
            path,
            f"corrupt pixel data ({str(exc).splitlines()[0]})",
            "copy the file again from the archive",
        ) from None
    if stored.shape != (rows, cols):
        raise _fail(
            path,
            f"decoded pixel array has shape {stored.shape}, header says {rows}x{cols}",
            "check the file's pixel module",
        )

    modality = apply_modality_lut(stored, ds)
    modality = np.asarray(modality, dtype=np.float32)
    attrs = {
        "source_format": "DICOM",
        "modality": str(ds.get("Modality", "")),
        "transfer_syntax": transfer_syntax,
        "photometric_interpretation": photometric,
        "presentation_lut_shape": str(ds.get("PresentationLUTShape", "")),
        "bits_allocated": bits_alloc,
        "bits_stored": bits_stored,
        "rescale_slope": float(ds.get("RescaleSlope", 1.0)),
        "rescale_intercept": float(ds.get("RescaleIntercept", 0.0)),
        "has_modality_lut_sequence": "ModalityLUTSequence" in ds,
        "pydicom_version": pydicom.__version__,
    }
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is not None and len(spacing) == 2:
        attrs["pixel_spacing_mm"] = [float(spacing[0]), float(spacing[1])]
    header_window = _header_window(ds)
    if header_window is not None:
        attrs["header_window"] = list(header_window)
    return modality, attrs


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


def _read_raster(path: Path, settings: ConvertSettings) -> tuple[np.ndarray, dict]:
    """Read an 8- or 16-bit greyscale PNG or TIFF."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.width * im.height > settings.max_pixels:
                raise _fail(
                    path,
                    f"image too large: {im.width}x{im.height} pixels exceeds "
                    f"convert.max_pixels = {settings.max_pixels}",
                    "raise convert.max_pixels in config/config.yaml if the image is genuine",
                )
            mode = im.mode
            if mode not in ("L", "I;16", "I;16B", "I;16L", "I", "F"):
                raise _fail(
                    path,
                    f"not a greyscale image (mode {mode})",
                    "export the radiograph as 8- or 16-bit greyscale",
                )
            arr = np.asarray(im)
    except ImageError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _fail(
            path,
            f"cannot read the image ({str(exc).splitlines()[0]})",
            "check the file is a complete PNG or TIFF",
        ) from None
    bits = 8 if arr.dtype == np.uint8 else 16
    return arr.astype(np.float32), {
        "source_format": path.suffix.lstrip(".").upper(),
        "photometric_interpretation": "MONOCHROME2",
        "bits_stored": bits,
    }


def read_modality(path: str | Path, settings: ConvertSettings) -> tuple[np.ndarray, dict]:
    """Read any supported radiograph as float32 modality values and its attributes."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "image file not found", "check the labels table or the images folder")
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", "copy it again from the archive")
    if path.suffix.lower() in RASTER_SUFFIXES:
        return _read_raster(path, settings)
    return _read_dicom(path, settings)


# ---------------------------------------------------------------------------------------
# Windowing


def choose_window(
    values: np.ndarray, settings: ConvertSettings, attrs: dict
) -> tuple[float, float, str]:
    """The ``(lo, hi)`` window in modality units and the method actually used."""
    method = settings.window
    if method == "fixed":
        if settings.fixed_window is None:
            raise ImageError(
                "convert.window is 'fixed' but convert.fixed_window is not set",
                where="config/config.yaml",
                fix="set convert.fixed_window: [lo, hi]",
            )
        lo, hi = settings.fixed_window
        return float(lo), float(hi), "fixed"
    if method == "minmax":
        return float(values.min()), float(values.max()), "minmax"
    percentile_window = tuple(float(v) for v in np.percentile(values, settings.percentiles))
    if method == "header":
        window = attrs.get("header_window")
        if window is not None:
            lo, hi = window
            vmin, vmax = float(values.min()), float(values.max())
            overlap = min(hi, vmax) - max(lo, vmin)
            # Use the header only when it covers a real part of the data's range
            if overlap > 0.25 * max(vmax - vmin, 1e-9):
                return float(lo), float(hi), "header"
        return percentile_window[0], percentile_window[1], "header-fallback-percentile"
    return percentile_window[0], percentile_window[1], "percentile"


def convert(path: str | Path, settings: ConvertSettings) -> Converted:
    """Read and convert one radiograph to ``settings.bit_depth`` bits, bright = attenuating."""
    path = Path(path)
    if settings.window not in WINDOW_METHODS:
        raise ImageError(
            f"unknown window method {settings.window!r}",
            where="config convert.window",
            fix=f"use one of {', '.join(WINDOW_METHODS)}",
        )
    values, attrs = read_modality(path, settings)
    if not np.all(np.isfinite(values)):
        raise _fail(path, "pixel values are not finite", "check the file's rescale parameters")
    lo, hi, method = choose_window(values, settings, attrs)
    if not hi > lo:
        raise _fail(
            path,
            f"constant image: every pixel maps to one value ({lo:g}); nothing to inspect",
            "remove the image or check the exposure",
        )
    scaled = np.clip((values - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0)
    inverted = attrs.get("photometric_interpretation") == "MONOCHROME1"
    if inverted:
        scaled = 1.0 - scaled
    top = (1 << settings.bit_depth) - 1
    dtype = np.uint8 if settings.bit_depth == 8 else np.uint16
    pixels = np.rint(scaled * top).astype(dtype)
    attrs.update(
        {
            "window_method": method,
            "window_lo": float(lo),
            "window_hi": float(hi),
            "percentiles": list(settings.percentiles),
            "inverted_monochrome1": bool(inverted),
            "polarity": "bright = more attenuation",
            "bit_depth": settings.bit_depth,
            "height": int(pixels.shape[0]),
            "width": int(pixels.shape[1]),
        }
    )
    plut = attrs.get("presentation_lut_shape")
    if plut and ((plut == "INVERSE") != inverted):
        attrs["note"] = (
            f"Presentation LUT Shape {plut} disagrees with "
            f"{attrs['photometric_interpretation']}; the photometric interpretation was used"
        )
    return Converted(pixels, attrs)
