"""The built-in demo: an archive that looks like a real weld-radiography archive.

Whole films of plate welds and double-wall pipe welds (16-bit DICOM, as a film digitiser
or detector writes them: 12 to 16 bits stored, MONOCHROME1 or 2, rescale slope and
intercept, a header window) and separate crops of weld regions (8-bit PNG, the way many
flaw archives ship them), rendered by :mod:`weld_anomaly.simulate.films` from the measured
statistics of real films (``docs/real-films.md``). As in real archives, the
flaws are annotated on the faulty images only, and a share of the "non-faulty" films carry
a few flaws nobody marked.

Everything is a pure function of the configuration and the seed: the same settings write
the same bytes. The DICOM files carry fake personal data (``DEMO^WELDER``) on purpose: the
converter must drop it.

Written next to the images, as a user would write them: ``labels.csv`` (image, file,
status, and the pixel size of the PNG crops), ``annotations.yaml`` (one box per flaw with
severity ``likely`` or ``possible``), ``masks/<image>.png`` (the flaws' pixels),
``crops.yaml`` (the weld region of each film; weld crops are inspected whole) and
``truth.yaml`` (what the generator knows: kind, weld box, tilt, sag, bead width, noise, and
the unmarked flaws of "non-faulty" films).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from weld_anomaly.files import atomic_path, write_bytes, write_text
from weld_anomaly.simulate import films

# Digital X-Ray Image Storage - For Presentation.
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
FAULTY, NONFAULTY = "faulty", "nonfaulty"
PIXEL_SIZE_MM = 0.0403  # real films scanned at 630 dpi
DENSE_FACTOR = 8  # a dense crop's flaw events, times a usual crop's


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates (the ``demo`` group of the configuration)."""

    films: int = 12  # whole films without annotated flaws (pipe films included)
    pipe_films: int = 2
    faulty_films: int = 2
    faulty_crops: int = 6
    film_size: tuple[int, int] = (768, 2560)  # height, width
    crop_size: tuple[int, int] = (480, 2560)
    hidden_flaws: float = 0.3  # share of the non-faulty films with a few unmarked flaws
    flaw_contrast: float = 1.0  # the flaws' contrast, times the measured distribution
    dense_crops: int = 0  # faulty crops as densely flawed as the densest real one
    seed: int = 7

    @classmethod
    def from_config(cls, demo: dict) -> DemoSettings:
        return cls(
            films=int(demo["films"]),
            pipe_films=int(demo["pipe_films"]),
            faulty_films=int(demo["faulty_films"]),
            faulty_crops=int(demo["faulty_crops"]),
            film_size=tuple(demo["film_size"]),
            crop_size=tuple(demo["crop_size"]),
            hidden_flaws=float(demo["hidden_flaws"]),
            flaw_contrast=float(demo["flaw_contrast"]),
            dense_crops=int(demo["dense_crops"]),
            seed=int(demo["seed"]),
        )


@dataclass(frozen=True)
class DemoImage:
    """One planned demo radiograph: id, status, kind (film, pipe, crop), flaw events."""

    index: int
    image_id: str
    status: str
    kind: str
    flaw_events: int
    dense: bool = False  # densely flawed (porosity everywhere)

    @property
    def file_name(self) -> str:
        return f"{self.image_id}.png" if self.kind == "crop" else f"{self.image_id}.dcm"

    @property
    def annotated(self) -> bool:
        return self.status == FAULTY


def plan(settings: DemoSettings) -> list[DemoImage]:
    """The demo's images, in order, with status, kind and flaw count (renders nothing)."""
    rng = np.random.default_rng([settings.seed, 0xFA017])
    kinds = (
        ["pipe"] * min(settings.pipe_films, settings.films)
        + ["film"] * max(settings.films - settings.pipe_films, 0)
        + ["film"] * settings.faulty_films
        + ["crop"] * settings.faulty_crops
    )
    statuses = [NONFAULTY] * settings.films + [FAULTY] * (
        settings.faulty_films + settings.faulty_crops
    )
    order = rng.permutation(len(kinds))
    width = max(3, len(str(len(kinds))))
    # flaw events per 2,560 px of weld (real crops: ~50 masked flaws per 5,000 px)
    per_length = {
        "crop": settings.crop_size[1] / 2560,
        "film": settings.film_size[1] / 2560,
        "pipe": settings.film_size[1] / 2560,
    }
    images = []
    for index, k in enumerate(order):
        kind, status = kinds[k], statuses[k]
        if status == FAULTY:
            events = int(rng.integers(4, 11)) if kind == "crop" else int(rng.integers(3, 7))
        else:
            events = int(rng.integers(1, 3)) if rng.random() < settings.hidden_flaws else 0
        events = max(int(round(events * per_length[kind])), 1 if events else 0)
        images.append(DemoImage(index, f"weld_{index + 1:0{width}d}", status, kind, events))
    # the densest real crop: about half its fragments hold a flaw (193 flaws in 5,000 px)
    faulty_crops = [i for i in images if i.kind == "crop" and i.status == FAULTY]
    for image in faulty_crops[: settings.dense_crops]:
        images[image.index] = replace(
            image, flaw_events=DENSE_FACTOR * image.flaw_events, dense=True
        )
    return images


def render(settings: DemoSettings, image: DemoImage) -> films.Radiograph:
    """Render one planned radiograph (a pure function of ``settings`` and ``image``)."""
    height, width = settings.crop_size if image.kind == "crop" else settings.film_size
    return films.render(
        [settings.seed, image.index],
        image.kind,
        int(height),
        int(width),
        image.flaw_events,
        settings.flaw_contrast,
        image.dense,
    )


# ---------------------------------------------------------------------------------------
# Files


def _dicom_encoding(rng: np.random.Generator) -> dict:
    """How one demo file stores its pixels: depth, polarity, rescale."""
    return {
        "bits_stored": int(rng.choice([12, 14, 16])),
        "photometric": str(rng.choice(["MONOCHROME2", "MONOCHROME1"])),
        "slope": float(rng.choice([1.0, 0.5, 2.0])),
        "intercept": float(rng.choice([0.0, -1024.0, 100.0])),
    }


def _identity(ds, image: DemoImage, settings: DemoSettings) -> None:
    """UIDs and the fake personal data the converter must drop."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    entropy = [str(settings.seed), str(image.index)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=entropy + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=entropy + ["study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=entropy + ["series"])
    ds.PatientName = "DEMO^WELDER"
    ds.PatientID = f"DEMO-{image.index + 1:04d}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.InstitutionName = "Demo Weld Inspection Lab"
    ds.OperatorsName = "DEMO^INSPECTOR"
    ds.StudyDate = ds.ContentDate = "20200101"
    ds.StudyTime = ds.ContentTime = "120000"


def to_dicom(radiograph: films.Radiograph, image: DemoImage, settings: DemoSettings):
    """A pydicom Dataset (DX, 16-bit storage) holding the radiograph's grey levels."""
    import pydicom

    rng = np.random.default_rng([settings.seed, image.index, 0xD1C0])
    enc = _dicom_encoding(rng)
    top = (1 << enc["bits_stored"]) - 1
    # 8-bit film grey 0..255 -> stored values; MONOCHROME1 stores the inverse
    lo_v, hi_v = 0.03 * top, 0.95 * top
    stored = lo_v + radiograph.grey.astype(np.float64) / 255.0 * (hi_v - lo_v)
    if enc["photometric"] == "MONOCHROME1":
        stored = top - stored
    pixels = np.clip(np.rint(stored), 0, top).astype(np.uint16)
    modality = pixels.astype(np.float64) * enc["slope"] + enc["intercept"]
    lo_w, hi_w = np.percentile(modality, [1.0, 99.0])

    ds = pydicom.Dataset()
    _identity(ds, image, settings)
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SeriesDescription = f"synthetic weld radiograph (demo, {image.kind})"
    ds.Manufacturer = "weld-anomaly demo generator"
    ds.InstanceNumber = image.index + 1
    ds.Rows, ds.Columns = radiograph.grey.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = enc["photometric"]
    ds.PresentationLUTShape = "INVERSE" if enc["photometric"] == "MONOCHROME1" else "IDENTITY"
    ds.BitsAllocated = 16
    ds.BitsStored = enc["bits_stored"]
    ds.HighBit = enc["bits_stored"] - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = f"{enc['slope']:g}"
    ds.RescaleIntercept = f"{enc['intercept']:g}"
    ds.RescaleType = "US"
    ds.WindowCenter = f"{(lo_w + hi_w) / 2:.1f}"
    ds.WindowWidth = f"{max(hi_w - lo_w, 1.0):.1f}"
    ds.ImagerPixelSpacing = [str(PIXEL_SIZE_MM)] * 2
    ds.PixelData = pixels.tobytes()
    return ds


def _png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_image(out: Path, image: DemoImage, radiograph, settings: DemoSettings) -> None:
    path = out / "images" / image.file_name
    if image.kind == "crop":
        write_bytes(path, _png_bytes(np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8)))
    else:
        with atomic_path(path) as tmp:
            to_dicom(radiograph, image, settings).save_as(tmp, enforce_file_format=True)


def _flaw_entry(flaw) -> dict:
    x, y, w, h = flaw.box
    return {
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "severity": flaw.severity,
        "type": flaw.kind,
        "contrast": round(float(flaw.contrast), 2),
        "cnr": round(float(flaw.cnr), 2),
    }


def _truth(radiograph: films.Radiograph, image: DemoImage) -> dict:
    return {
        "kind": image.kind,
        "weld_box": list(radiograph.weld_box),
        "tilt_deg": round(radiograph.tilt_deg, 3),
        "sag_px": round(radiograph.sag_px, 1),
        "bead_fwhm_px": round(radiograph.fwhm_px, 1),
        "noise_sd": round(radiograph.noise_sd, 3),
        "unmarked_flaws": [] if image.annotated else [_flaw_entry(f) for f in radiograph.flaws],
    }


def _tables(out: Path, images: list[DemoImage], annotations, crops, truth) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # the crops' PNG files cannot say their pixel size (the films' DICOM headers do)
    writer.writerow(["image", "file", "status", "pixel_size_mm"])
    for image in images:
        size = PIXEL_SIZE_MM if image.kind == "crop" else ""
        writer.writerow([image.image_id, f"images/{image.file_name}", image.status, size])
    write_text(out / "labels.csv", buffer.getvalue())
    header = (
        "# Generated by the weld-anomaly demo generator. Coordinates in pixels of the full image.\n"
    )
    for name, content in (("annotations", annotations), ("crops", crops), ("truth", truth)):
        write_text(
            out / f"{name}.yaml",
            header + yaml.safe_dump({"version": 1, "images": content}, sort_keys=False),
        )


def write_demo(settings: DemoSettings, out_dir: str | Path) -> list[DemoImage]:
    """Write the whole demo into ``out_dir``: images, masks and the tables."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    images = plan(settings)
    annotations: dict[str, list[dict]] = {}
    crops: dict[str, list[dict]] = {}
    truth: dict[str, dict] = {}
    for image in images:
        radiograph = render(settings, image)
        _write_image(out, image, radiograph, settings)
        if image.annotated:
            annotations[image.image_id] = [_flaw_entry(f) for f in radiograph.flaws]
            mask = radiograph.defect_mask.astype(np.uint8) * 255
            write_bytes(out / "masks" / f"{image.image_id}.png", _png_bytes(mask))
        if image.kind != "crop":  # weld crops are inspected whole
            x, y, w, h = radiograph.weld_box
            crops[image.image_id] = [{"name": "weld", "x": x, "y": y, "width": w, "height": h}]
        truth[image.image_id] = _truth(radiograph, image)
    _tables(out, images, annotations, crops, truth)
    return images
