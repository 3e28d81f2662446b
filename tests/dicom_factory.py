"""Small, real DICOM files for tests, written with pydicom (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DX = "1.2.840.10008.5.1.4.1.1.1.1"


def weld_pattern(height: int = 96, width: int = 160, seed: int = 0) -> np.ndarray:
    """A display-domain test image in [0, 1]: a bright band, noise, one dark spot."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    band = np.exp(-(((yy - height / 2) / (height / 5)) ** 2))
    img = 0.2 + 0.5 * band + 0.02 * rng.standard_normal((height, width))
    img -= 0.15 * (((yy - height / 2) ** 2 + (xx - width / 3) ** 2) < 16)
    return np.clip(img, 0, 1)


def write_dicom(
    path: str | Path,
    display: np.ndarray | None = None,
    *,
    bits_stored: int = 12,
    photometric: str = "MONOCHROME2",
    slope: float = 1.0,
    intercept: float = 0.0,
    window: tuple[float, float] | None = None,
    pixel_data: bool = True,
    **extra,
) -> Path:
    """Write ``display`` (values in [0, 1], bright = attenuating) as a 16-bit DX DICOM.

    MONOCHROME1 files store the inverse, as real detectors do. ``extra`` sets any other
    attribute by keyword (e.g. ``PatientName``).
    """
    display = weld_pattern() if display is None else display
    top = (1 << bits_stored) - 1
    stored = 0.05 * top + display * 0.9 * top
    if photometric == "MONOCHROME1":
        stored = top - stored
    pixels = np.clip(np.rint(stored), 0, top).astype(np.uint16)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    if window is not None:
        ds.WindowCenter = f"{window[0]:g}"
        ds.WindowWidth = f"{window[1]:g}"
    for key, value in extra.items():
        setattr(ds, key, value)
    if pixel_data:
        ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_encapsulated(path: str | Path, frame: bytes, transfer_syntax: str, **attrs) -> Path:
    """A single-frame DX file holding the codestream ``frame`` under ``transfer_syntax``."""
    from pydicom.encaps import encapsulate

    base = write_dicom(path, **{k: v for k, v in attrs.items() if k in ("bits_stored",)})
    ds = pydicom.dcmread(base)
    for key, value in attrs.items():
        if key != "bits_stored":
            setattr(ds, key, value)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_deflate_bomb(path: str | Path, side: int = 4096) -> Path:
    """A tiny deflated DICOM whose data set inflates to side*side*2 bytes of zero pixels."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(side * side * 2)
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def short_modality_lut(path):
    """A Modality LUT Sequence whose descriptor promises 4096 entries; the data holds 10."""
    ds = pydicom.dcmread(path)
    item = pydicom.Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "OW", np.arange(10, dtype=np.uint16).tobytes())
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.save_as(path)
    return path


def with_unreadable_padding(path):
    """Pixel Padding Value (US) stored in 3 bytes: pydicom raises on any access to it."""
    ds = pydicom.dcmread(path)
    ds.add_new(0x00280120, "US", 7)
    ds.save_as(path)
    data = Path(path).read_bytes()
    good = b"\x28\x00\x20\x01US\x02\x00\x07\x00"
    assert good in data
    Path(path).write_bytes(data.replace(good, b"\x28\x00\x20\x01US\x03\x00\x07\x00\x00", 1))
    return Path(path)
