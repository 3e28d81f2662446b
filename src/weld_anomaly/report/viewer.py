"""The weld viewer: one page per inspected weld, next to the report (``welds/``).

Each page shows the converted radiograph at full resolution in OpenSeadragon (pan, zoom,
navigator), the run's findings as outlines coloured by confidence (each layer switchable),
the annotated defects drawn dashed, the crops; a native-resolution close-up of every
finding (image | reconstruction | residual); and the operator's review: confirm or reject
each finding, add a missed defect, export an annotations YAML that the workflow reads
(``data.annotations``). Everything is in the page or beside it (the viewer's script is
copied once into the folder): it opens from disk and makes no network request.

OpenSeadragon (BSD-3-Clause) comes from the npm registry, pinned by ``package-lock.json``
and installed by ``make install`` (``make viewer``). Without it the pages still open, with
the image in a scrollable box instead of the viewer, and the report says why.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from weld_anomaly.files import write_text
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.report import figures

log = logging.getLogger(__name__)

VIEWER_JS = Path("node_modules/openseadragon/build/openseadragon/openseadragon.min.js")
ENV_VIEWER = "WELD_ANOMALY_OPENSEADRAGON"
MISSING_VIEWER = (
    "the report's image viewer (OpenSeadragon) is not installed, so the weld pages show "
    "the image without pan and zoom: run `make viewer` (needs npm), or set "
    f"{ENV_VIEWER} to an openseadragon.min.js"
)
CLOSEUP_MIN = 64  # pixels: the smallest close-up side
CLOSEUP_MAX = 512  # pixels: wider findings get a close-up of their centre this wide
CLOSEUP_PAD = 16


def viewer_script() -> Path | None:
    """OpenSeadragon's script: ``$WELD_ANOMALY_OPENSEADRAGON``, else ``node_modules`` of
    the checkout this package lives in, else of the working directory; None if absent."""
    if os.environ.get(ENV_VIEWER):
        path = Path(os.environ[ENV_VIEWER])
        return path if path.is_file() else None
    for folder in [*Path(__file__).resolve().parents[1:4], Path.cwd()]:
        if (folder / VIEWER_JS).is_file():
            return folder / VIEWER_JS
    return None


def page_name(image: str, taken: set[str]) -> str:
    """A file name for an image id that is safe on every file system and in a URL (ids are
    user data: file names may hold anything), and not in ``taken`` (case-insensitively;
    the name is added to it)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", image).strip("._")[:80] or "weld"
    name, n = f"{stem}.html", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.html"
    taken.add(name.lower())
    return name


def page_names(images: Sequence[str]) -> dict[str, str]:
    """:func:`page_name` of each image id, unique even when two ids clean up alike."""
    taken: set[str] = set()
    return {image: page_name(image, taken) for image in images}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def film_png(pixels: np.ndarray) -> bytes:
    """The converted radiograph as an 8-bit greyscale PNG, every pixel kept."""
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float32) / 257.0).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def film_from_crops(crops: Sequence[hdf5_io.Crop]) -> np.ndarray:
    """The radiograph as far as its crops show it (black elsewhere): for a weld whose
    converted image is not at hand."""
    height = max(c.y + c.height for c in crops)
    width = max(c.x + c.width for c in crops)
    film = np.zeros((height, width), crops[0].pixels.dtype)
    for c in crops:
        film[c.y : c.y + c.height, c.x : c.x + c.width] = c.pixels
    return film


def closeup_box(finding: dict, crop: hdf5_io.Crop) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` in image pixels: the finding's box with a margin, at least
    ``CLOSEUP_MIN`` and at most ``CLOSEUP_MAX`` on a side (around its centre), inside the crop."""
    box = []
    for start, extent, centre, lo, size in (
        (finding["x"], finding["width_px"], finding["centre_x"], crop.x, crop.width),
        (finding["y"], finding["height_px"], finding["centre_y"], crop.y, crop.height),
    ):
        wanted = extent + 2 * CLOSEUP_PAD
        side = min(int(np.clip(wanted, CLOSEUP_MIN, CLOSEUP_MAX)), size)
        middle = start + extent / 2 if wanted <= CLOSEUP_MAX else centre
        first = int(np.clip(round(middle - side / 2), lo, lo + size - side))
        box.append((first, side))
    (x, w), (y, h) = box
    return x, y, w, h


def closeup(finding: dict, crop: hdf5_io.Crop, recon: hdf5_io.Crop | None) -> dict:
    """A finding's close-up at native resolution (enlarged 2× when small): image |
    reconstruction | residual, or the image alone when no reconstruction exists."""
    x, y, w, h = closeup_box(finding, crop)
    part = crop.pixels[y - crop.y : y - crop.y + h, x - crop.x : x - crop.x + w]
    scale = 2 if w <= 256 else 1
    if recon is not None:
        model = recon.pixels[y - crop.y : y - crop.y + h, x - crop.x : x - crop.x + w]
        png = figures.zoom_tiles(part, model, scale=scale)
        panels = "image | reconstruction | residual (red: darker than the model expects)"
    else:
        image = figures.to_rgb8(part)
        png = figures.png_bytes(image.resize((w * scale, h * scale), Image.NEAREST))
        panels = "image"
    return {"x": x, "y": y, "width": w, "height": h, "scale": scale, "panels": panels,
            "uri": _data_uri(png)}  # fmt: skip


def weld_data(
    image: str,
    pixels: np.ndarray,
    crops: Sequence[hdf5_io.Crop],
    recons: dict[str, hdf5_io.Crop],
    findings: Sequence[dict],
    annotations: Sequence,
) -> dict:
    """What a weld page shows: the film, its crops, findings (with close-ups), annotations."""
    by_name = {c.name: c for c in crops}
    listed = []
    for f in findings:
        crop = by_name.get(f["crop"])
        item = {k: f[k] for k in ("finding", "crop", "confidence", "margin", "x", "y")}
        item.update(
            width=f["width_px"],
            height=f["height_px"],
            centre_x=float(f["centre_x"]),
            centre_y=float(f["centre_y"]),
            false_alarm_rate=f["false_alarm_rate"],
            size=_size_text(f),
            indication=None
            if f.get("indication_x") is None
            else {
                "x": f["indication_x"],
                "y": f["indication_y"],
                "width": f["indication_width_px"],
                "height": f["indication_height_px"],
            },  # fmt: skip
            outline=[[float(a), float(b)] for a, b in f["outline"]],
            closeup=closeup(f, crop, recons.get(crop.name)) if crop is not None else None,
        )
        listed.append(item)
    return {
        "image": image,
        "width": int(pixels.shape[1]),
        "height": int(pixels.shape[0]),
        "film": _data_uri(film_png(pixels)),
        "crops": [
            {"name": c.name, "x": c.x, "y": c.y, "width": c.width, "height": c.height}
            for c in crops
        ],  # fmt: skip
        "findings": listed,
        "made_by": _made_by(findings),
        "annotations": [
            {"x": a.x, "y": a.y, "width": a.width, "height": a.height, "severity": a.severity}
            for a in annotations
        ],
    }


def _made_by(findings: list[dict]) -> str:
    """One line of the audit trail of an image's findings (they share it), or ''."""
    if not findings or not findings[0].get("software"):
        return ""
    f = findings[0]
    models = f.get("models") or "none (a training-free scorer)"
    return (
        f"Made by {f['software']} (commit {f.get('commit') or 'unknown'}) on "
        f"{f.get('evaluated') or 'an unknown date'}: scorer {f['scorer']}, threshold "
        f"{f['threshold']:.5g}, models {models}, configuration {f.get('config_sha256', '')}"
    )


def _size_text(f: dict) -> str:
    if f.get("length_mm") is not None:
        return f"{f['length_mm']:.1f} × {f['breadth_mm']:.1f} mm"
    return f"{f['length_px']} × {f['breadth_px']} px"


def script_json(data) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element: no ``<``
    (so no ``</script>``), and no U+2028/2029."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escaped)
    return text


def install_script(folder: str | Path) -> Path | None:
    """Copy the viewer's script (and its licence) into ``folder``; its source, or None (with
    a warning) when it is not installed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    script = viewer_script()
    if script is None:
        log.warning(MISSING_VIEWER)
        return None
    shutil.copyfile(script, folder / "openseadragon.min.js")
    licence = script.parents[2] / "LICENSE.txt"
    if licence.is_file():
        shutil.copyfile(licence, folder / "openseadragon-LICENSE.txt")
    return script


def write_pages(folder: str | Path, pages: Iterable[dict], render) -> Path | None:
    """Write each weld page (``render(page, viewer_available)`` gives its HTML; ``pages``
    may be a generator, so one film at a time is in memory) into ``folder``, with the
    viewer's script beside them; returns the script's source, or None without it."""
    script = install_script(folder)
    for page in pages:
        write_text(Path(folder) / page["file"], render(page, script is not None))
    return script
