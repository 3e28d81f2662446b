"""The built-in demo: realistic synthetic weld radiographs written as real DICOM files.

Each radiograph shows what a digitised weld film or a digital detector shows (see
``shared/research/weld-radiographs.md``): a bright weld bead across darker base metal, bead
ripples, detector noise and film grain, slow exposure gradients, bright lead letters and a
wire image-quality indicator (IQI) laid across the weld. Faulty images also hold defects
with the size and polarity of real ones: single gas pores, porosity clusters, elongated
cavities and thin cracks, all darker than their surroundings, from barely visible to obvious.

Everything is a pure function of the configuration and the seed: the same settings write the
same bytes. The files carry fake personal data (``DEMO^WELDER``) on purpose: the converter
must drop it.

The generator also writes the three tables a user would write: ``labels.csv`` (image, file,
status), ``annotations.yaml`` (one box per defect with severity ``likely`` or ``possible``)
and ``crops.yaml`` (the weld region of each image).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import ndimage

from weld_anomaly.files import atomic_path, write_text

# Digital X-Ray Image Storage - For Presentation.
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
FAULTY, NONFAULTY = "faulty", "nonfaulty"


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates (the ``demo`` group of the configuration)."""

    n_nonfaulty: int = 14
    n_faulty: int = 6
    height: int = 512
    width: int = 2048
    seed: int = 7
    max_tilt_deg: float = 0.5
    defects_per_image: tuple[int, int] = (3, 9)

    @classmethod
    def from_config(cls, demo: dict) -> DemoSettings:
        return cls(
            n_nonfaulty=int(demo["n_nonfaulty"]),
            n_faulty=int(demo["n_faulty"]),
            height=int(demo["height"]),
            width=int(demo["width"]),
            seed=int(demo["seed"]),
            max_tilt_deg=float(demo["max_tilt_deg"]),
            defects_per_image=tuple(demo["defects_per_image"]),
        )


@dataclass(frozen=True)
class DemoImage:
    """One planned demo radiograph: its id and whether it holds defects."""

    index: int
    image_id: str
    status: str

    @property
    def file_name(self) -> str:
        return f"{self.image_id}.dcm"


@dataclass
class Defect:
    kind: str
    severity: str
    box: tuple[int, int, int, int]  # x, y, width, height
    contrast: float

    def as_dict(self) -> dict:
        x, y, w, h = self.box
        return {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "severity": self.severity,
            "type": self.kind,
            "contrast": round(self.contrast, 4),
        }


@dataclass
class Radiograph:
    """A rendered demo radiograph in display units (1 = most attenuation = brightest)."""

    display: np.ndarray
    defects: list[Defect] = field(default_factory=list)
    weld_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    noise_sigma: float = 0.0
    tilt_deg: float = 0.0


def plan(settings: DemoSettings) -> list[DemoImage]:
    """The demo's images, in order, with their status; cheap (renders nothing)."""
    n = settings.n_nonfaulty + settings.n_faulty
    order = np.random.default_rng([settings.seed, 0xFA017]).permutation(n)
    faulty = set(order[: settings.n_faulty].tolist())
    width = max(3, len(str(n)))
    return [
        DemoImage(i, f"weld_{i + 1:0{width}d}", FAULTY if i in faulty else NONFAULTY)
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------
# Rendering


_GLYPHS = {
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
    "W": ["10001", "10001", "10001", "10101", "10101", "10101", "01010"],
    "I": ["01110", "00100", "00100", "00100", "00100", "00100", "01110"],
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "F": ["11111", "10000", "10000", "11110", "10000", "10000", "10000"],
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    "B": ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
    "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
    " ": ["00000"] * 7,
}


def _text_mask(text: str, scale: int) -> np.ndarray:
    glyphs = [np.array([[c == "1" for c in row] for row in _GLYPHS[ch]]) for ch in text]
    gap = np.zeros((7, 1), dtype=bool)
    parts: list[np.ndarray] = []
    for glyph in glyphs:
        parts += [glyph, gap]
    mask = np.concatenate(parts[:-1], axis=1)
    return np.kron(mask, np.ones((scale, scale), dtype=bool))


def _stamp(target: np.ndarray, mask: np.ndarray, y: int, x: int, value: float) -> None:
    """Add ``value`` where ``mask`` is set, with its top-left corner at (y, x), clipped."""
    h, w = mask.shape
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + h, target.shape[0]), min(x + w, target.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    target[y0:y1, x0:x1] += value * mask[y0 - y : y1 - y, x0 - x : x1 - x]


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], n: int = 4) -> np.ndarray:
    """A slowly varying field in about [-1, 1]: a sum of long-wavelength cosines."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(n):
        wavelength = rng.uniform(400, 2000)
        angle = rng.uniform(0, math.pi)
        phase = rng.uniform(0, 2 * math.pi)
        k = 2 * math.pi / wavelength
        out += np.cos(k * (xx * math.cos(angle) + yy * math.sin(angle)) + phase).astype(np.float32)
    return out / n


def _ellipsoid(
    shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float, angle: float
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Normalised chord length through an ellipsoidal void, on a local window.

    Returns the thickness patch (values in [0, 1]) and its window ``(y0, y1, x0, x1)``.
    """
    r = int(math.ceil(max(rx, ry))) + 2
    y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, shape[0])
    x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, shape[1])
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    ca, sa = math.cos(angle), math.sin(angle)
    u = (dx * ca + dy * sa) / rx
    v = (-dx * sa + dy * ca) / ry
    inside = 1.0 - u * u - v * v
    return np.sqrt(np.clip(inside, 0, None)), (y0, y1, x0, x1)


class _Renderer:
    def __init__(self, settings: DemoSettings, image: DemoImage):
        self.s = settings
        self.image = image
        self.rng = np.random.default_rng([settings.seed, image.index])
        self.h, self.w = settings.height, settings.width

    def centre_line(self) -> tuple[np.ndarray, np.ndarray]:
        """The weld's centre ``yc(x)`` and its slope ``dyc/dx`` for every column."""
        rng = self.rng
        tilt = math.radians(rng.uniform(-self.s.max_tilt_deg, self.s.max_tilt_deg))
        self.tilt_deg = math.degrees(tilt)
        x = np.arange(self.w, dtype=np.float64) - self.w / 2
        y0 = self.h / 2 + rng.uniform(-0.06, 0.06) * self.h
        wobble = rng.uniform(0.5, 2.0) * np.sin(
            2 * math.pi * x / rng.uniform(700, 1600) + rng.uniform(0, 6.3)
        )
        yc = y0 + math.tan(tilt) * x + wobble
        return yc, np.gradient(yc)

    def render(self) -> Radiograph:
        rng, h, w = self.rng, self.h, self.w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        yc, slope = self.centre_line()
        cos_t = 1.0 / np.sqrt(1.0 + slope**2)
        # perpendicular signed distance to the centre line, in pixels
        dist = ((yy - yc[None, :]) * cos_t[None, :]).astype(np.float32)
        half = rng.uniform(0.11, 0.16) * h
        half_x = half * (
            1
            + 0.05
            * np.sin(2 * math.pi * np.arange(w) / rng.uniform(300, 900) + rng.uniform(0, 6.3))
        )
        d = dist / half_x[None, :].astype(np.float32)

        # base metal with slow exposure gradients and a ramp along the film
        base = rng.uniform(0.18, 0.28)
        img = base + 0.05 * _smooth_field(rng, (h, w)) + rng.uniform(-0.04, 0.04) * (xx / w - 0.5)
        # the bead: a flattish cap with soft toes, brighter than the base metal
        cap = np.clip(1.0 - d * d, 0.0, None) ** 0.55
        cap = ndimage.gaussian_filter(cap, 2.0)
        img += rng.uniform(0.28, 0.38) * cap
        # toe grooves along both edges of the bead (shallow, not defects)
        img -= 0.018 * (np.exp(-((np.abs(d) - 1.0) ** 2) / 0.004))
        # ripples: chevrons along the weld, strongest on the cap
        wavelength = rng.uniform(10, 18)
        along = xx + 0.6 * np.abs(dist)
        img += (
            0.012
            * cap
            * np.cos(2 * math.pi * along / wavelength + 0.15 * _smooth_field(rng, (h, w), 2) * 6)
        )

        # lead letters in the base metal, and a wire IQI across the weld
        markers = np.zeros((h, w), dtype=np.float32)
        self._letters(markers, yc, half)
        self._wire_iqi(markers, yc, half)
        img += ndimage.gaussian_filter(markers, 0.7)

        defects: list[Defect] = []
        sigma = rng.uniform(0.008, 0.014)
        if self.image.status == FAULTY:
            voids = np.zeros((h, w), dtype=np.float32)
            lo, hi = self.s.defects_per_image
            for _ in range(int(rng.integers(lo, hi + 1))):
                defects.append(self._defect(voids, yc, slope, half, sigma))
            img -= ndimage.gaussian_filter(voids, 0.6)

        # detector noise: white noise plus correlated film grain
        noise = rng.standard_normal((h, w)).astype(np.float32)
        grain = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 1.2)
        img += sigma * noise + 2.5 * sigma * grain
        img = np.clip(img, 0.0, 1.0).astype(np.float32)

        margin = 24
        top = int(max(math.floor(float(np.min(yc - half_x / cos_t))) - margin, 0))
        bottom = int(min(math.ceil(float(np.max(yc + half_x / cos_t))) + margin, h))
        return Radiograph(img, defects, (0, top, w, bottom - top), sigma, self.tilt_deg)

    def _letters(self, markers: np.ndarray, yc: np.ndarray, half: float) -> None:
        rng = self.rng
        text = (
            f"W{self.image.index + 1:02d} {'AB'[int(rng.integers(0, 2))]}{int(rng.integers(1, 10))}"
        )
        scale = int(rng.integers(3, 5))
        mask = _text_mask(text, scale)
        x = int(rng.integers(20, max(self.w // 4, 21)))
        top_side = rng.random() < 0.5
        ref = int(yc[min(x, self.w - 1)])
        y = ref - int(half) - 50 - mask.shape[0] if top_side else ref + int(half) + 50
        y = int(np.clip(y, 4, self.h - mask.shape[0] - 4))
        _stamp(markers, mask, y, x, rng.uniform(0.25, 0.4))

    def _wire_iqi(self, markers: np.ndarray, yc: np.ndarray, half: float) -> None:
        rng = self.rng
        x0 = int(rng.integers(self.w // 3, self.w - 160))
        top = int(yc[x0] - half - 30)
        bottom = int(yc[x0] + half + 30)
        xs = np.arange(self.w, dtype=np.float32)
        for i, radius in enumerate([2.5, 2.0, 1.6, 1.25, 1.0, 0.8, 0.6]):
            cx = x0 + 10 * i
            prof = np.sqrt(np.clip(1 - ((xs - cx) / radius) ** 2, 0, None))
            y0, y1 = max(top, 0), min(bottom, self.h)
            markers[y0:y1, :] += (0.06 + 0.025 * radius) * prof[None, :]
        label = _text_mask("10ISO16", 2)
        _stamp(markers, label, max(top - label.shape[0] - 6, 2), x0 - 10, 0.3)

    def _defect(
        self, voids: np.ndarray, yc: np.ndarray, slope: np.ndarray, half: float, sigma: float
    ) -> Defect:
        rng = self.rng
        kind = rng.choice(["pore", "porosity", "elongated", "crack"], p=[0.45, 0.2, 0.2, 0.15])
        cx = float(rng.uniform(90, self.w - 90))
        xi = int(cx)
        cy = float(yc[xi] + rng.uniform(-0.6, 0.6) * half)
        along = math.atan(float(slope[xi]))
        # contrast in display units: log-uniform from barely visible to obvious
        contrast = float(sigma * math.exp(rng.uniform(math.log(1.5), math.log(12.0))))
        patch = np.zeros_like(voids)
        if kind == "pore":
            diameter = float(np.clip(15.0 * math.exp(0.7 * rng.standard_normal()), 4.0, 48.0))
            r = diameter / 2
            t, (y0, y1, x0, x1) = _ellipsoid(
                voids.shape, cy, cx, r, r * rng.uniform(1.0, 1.3), along
            )
            patch[y0:y1, x0:x1] = np.maximum(patch[y0:y1, x0:x1], t)
        elif kind == "porosity":
            spread = rng.uniform(15, 35)
            for _ in range(int(rng.integers(5, 16))):
                r = rng.uniform(1.5, 4.5)
                py = cy + rng.uniform(-spread, spread) * 0.6
                px = cx + rng.uniform(-spread, spread)
                t, (y0, y1, x0, x1) = _ellipsoid(voids.shape, py, px, r, r, 0.0)
                patch[y0:y1, x0:x1] = np.maximum(patch[y0:y1, x0:x1], t)
        elif kind == "elongated":
            length = rng.uniform(30, 120)
            width = rng.uniform(4, 10)
            angle = along + math.radians(rng.uniform(-15, 15))
            t, (y0, y1, x0, x1) = _ellipsoid(voids.shape, cy, cx, width / 2, length / 2, angle)
            patch[y0:y1, x0:x1] = np.maximum(patch[y0:y1, x0:x1], t)
        else:  # crack: a jagged thin line, mostly along the weld
            length = rng.uniform(40, 160)
            angle = along + (0.0 if rng.random() < 0.7 else math.pi / 2) + rng.uniform(-0.2, 0.2)
            steps = int(length)
            py, px = cy, cx - 0.5 * length * math.cos(angle)
            py -= 0.5 * length * math.sin(angle)
            width = rng.uniform(0.7, 1.4)
            heading = angle
            for _ in range(steps):
                heading += rng.normal(0, 0.12) - 0.05 * (heading - angle)
                py += math.sin(heading)
                px += math.cos(heading)
                t, (y0, y1, x0, x1) = _ellipsoid(voids.shape, py, px, width, width, 0.0)
                patch[y0:y1, x0:x1] = np.maximum(patch[y0:y1, x0:x1], t)
            contrast = max(contrast, 2.5 * sigma)
        voids += contrast * patch
        ys, xs = np.nonzero(patch > 0.05)
        x0, y0 = int(xs.min()), int(ys.min())
        box = (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)
        severity = "likely" if contrast >= 3.0 * sigma else "possible"
        return Defect(str(kind), severity, box, contrast)


def render(settings: DemoSettings, image: DemoImage) -> Radiograph:
    """Render one planned radiograph (pure function of ``settings`` and ``image``)."""
    return _Renderer(settings, image).render()


# ---------------------------------------------------------------------------------------
# DICOM


def _dicom_encoding(rng: np.random.Generator) -> dict:
    """How one demo file stores its pixels: depth, polarity, rescale, window."""
    return {
        "bits_stored": int(rng.choice([12, 14, 16])),
        "photometric": str(rng.choice(["MONOCHROME2", "MONOCHROME1"])),
        "slope": float(rng.choice([1.0, 0.5, 2.0])),
        "intercept": float(rng.choice([0.0, -1024.0, 100.0])),
    }


def to_dicom(radiograph: Radiograph, image: DemoImage, settings: DemoSettings):
    """A pydicom Dataset (DX, 16-bit storage) holding ``radiograph``."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng([settings.seed, image.index, 0xD1C0])
    enc = _dicom_encoding(rng)
    top = (1 << enc["bits_stored"]) - 1
    # display value 0..1 -> stored value; MONOCHROME1 stores the inverse
    lo_v, hi_v = 0.04 * top, 0.92 * top
    stored = lo_v + radiograph.display.astype(np.float64) * (hi_v - lo_v)
    if enc["photometric"] == "MONOCHROME1":
        stored = top - stored
    pixels = np.clip(np.rint(stored), 0, top).astype(np.uint16)
    modality = pixels.astype(np.float64) * enc["slope"] + enc["intercept"]
    lo_w, hi_w = np.percentile(modality, [1.0, 99.0])

    entropy = [str(settings.seed), str(image.index)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=entropy + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=entropy + ["study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=entropy + ["series"])
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    # Fake personal data, present on purpose: the converter must never copy it.
    ds.PatientName = "DEMO^WELDER"
    ds.PatientID = f"DEMO-{image.index + 1:04d}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.InstitutionName = "Demo Weld Inspection Lab"
    ds.OperatorsName = "DEMO^INSPECTOR"
    ds.StudyDate = ds.ContentDate = "20200101"
    ds.StudyTime = ds.ContentTime = "120000"
    ds.SeriesDescription = "synthetic weld radiograph (demo)"
    ds.Manufacturer = "weld-anomaly demo generator"
    ds.InstanceNumber = image.index + 1
    ds.Rows, ds.Columns = radiograph.display.shape
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
    ds.ImagerPixelSpacing = ["0.0403", "0.0403"]
    ds.PixelData = pixels.tobytes()
    return ds


# ---------------------------------------------------------------------------------------
# Writing the demo set


def write_demo(settings: DemoSettings, out_dir: str | Path) -> list[DemoImage]:
    """Write the whole demo into ``out_dir``: images/*.dcm and the three tables."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images = plan(settings)
    annotations: dict[str, list[dict]] = {}
    crops: dict[str, list[dict]] = {}
    truth: dict[str, dict] = {}
    for image in images:
        radiograph = render(settings, image)
        ds = to_dicom(radiograph, image, settings)
        with atomic_path(out / "images" / image.file_name) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        annotations[image.image_id] = [d.as_dict() for d in radiograph.defects]
        x, y, w, h = radiograph.weld_box
        crops[image.image_id] = [{"name": "weld", "x": x, "y": y, "width": w, "height": h}]
        truth[image.image_id] = {
            "weld_box": list(radiograph.weld_box),
            "tilt_deg": round(radiograph.tilt_deg, 3),
            "noise_sigma": round(radiograph.noise_sigma, 5),
        }

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "file", "status"])
    for image in images:
        writer.writerow([image.image_id, f"images/{image.file_name}", image.status])
    write_text(out / "labels.csv", buffer.getvalue())

    header = (
        "# Generated by the weld-anomaly demo generator. Coordinates in pixels of the full image.\n"
    )
    write_text(
        out / "annotations.yaml",
        header + yaml.safe_dump({"version": 1, "images": annotations}, sort_keys=False),
    )
    write_text(
        out / "crops.yaml",
        header + yaml.safe_dump({"version": 1, "images": crops}, sort_keys=False),
    )
    write_text(
        out / "truth.yaml",
        header + yaml.safe_dump({"version": 1, "images": truth}, sort_keys=False),
    )
    return images
