"""Crop previews: the whole radiograph with its crops drawn, and the shared PNG helpers.

Drawn with Pillow on the image's own pixels; PNGs are written without timestamps. The
report's figures (:mod:`weld_anomaly.report.figures`) build on the same helpers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from weld_anomaly.files import write_bytes


def to_rgb8(pixels: np.ndarray) -> Image.Image:
    """A greyscale uint8/uint16 array as an RGB Pillow image."""
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float32) / 257.0).round().astype(np.uint8)
    return Image.fromarray(pixels, mode="L").convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    """A Pillow image as PNG bytes (no timestamp).

    zlib level 3: a weld overlay of 1,600 x 480 px takes 0.08 s and 567 KiB, against
    1.23 s and 479 KiB with Pillow's ``optimize`` (level 9 and a search), which was most
    of the time of an inspected radiograph's overlay (BENCHMARKS.md, inspection)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def fit_width(image: Image.Image, max_width: int) -> tuple[Image.Image, float]:
    """The image scaled down to at most ``max_width`` pixels wide, and the factor used."""
    if image.width <= max_width:
        return image, 1.0
    factor = max_width / image.width
    return image.resize((max_width, max(1, round(image.height * factor))), Image.LANCZOS), factor


CROP = (0, 200, 255)
DEFECT = (60, 220, 60)
LOST = (255, 60, 60)
WARN = (255, 170, 0)


def _font(size: int):
    return ImageFont.load_default(size=size)


def crop_preview(
    pixels: np.ndarray,
    crops: Sequence,
    out_png: str | Path,
    title: str = "",
    max_width: int = 1600,
    lines: Sequence[tuple[str, bool]] = (),
    defects: Sequence = (),
    lost: Sequence = (),
) -> None:
    """The whole image with its crops drawn and named, like the thesis's cropping tool.

    Above the image, a header: the ``title`` (the image id) and ``lines`` (text, warning?),
    so nothing is written over the radiograph but the crops' names inside their boxes.
    ``defects``: annotated defects (boxes with x, y, x1, y1), outlined in green; ``lost``:
    those the crops leave out (partly), outlined in red."""
    image, f = fit_width(to_rgb8(pixels), max_width)
    size = max(14, min(22, image.width // 60))
    rows = ([(title, False)] if title else []) + list(lines)
    header = (size + 6) * len(rows) + (6 if rows else 0)
    canvas = Image.new("RGB", (image.width, image.height + header), (24, 24, 24))
    canvas.paste(image, (0, header))
    draw = ImageDraw.Draw(canvas)
    font = _font(size)
    for i, (text, warning) in enumerate(rows):
        colour = WARN if warning else ((255, 255, 0) if i == 0 and title else (230, 230, 230))
        draw.text((6, 4 + i * (size + 6)), text, fill=colour, font=font)

    def rect(x0, y0, x1, y1, colour, width):
        draw.rectangle(
            [x0 * f, y0 * f + header, max(x1 * f - 1, x0 * f), max(y1 * f - 1, y0 * f) + header],
            outline=colour,
            width=width,
        )

    for crop in crops:
        rect(crop.x, crop.y, crop.x + crop.width, crop.y + crop.height, CROP, 2)
        draw.text(
            (crop.x * f + 4, crop.y * f + header + 3), crop.name, fill=CROP, font=_font(size - 2)
        )
    grow = 3 / f  # at least a few screen pixels around a small defect
    lost_ids = {id(d) for d in lost}
    for d in defects:
        colour, width = (LOST, 2) if id(d) in lost_ids else (DEFECT, 1)
        rect(d.x - grow, d.y - grow, d.x1 + grow, d.y1 + grow, colour, width)
    write_bytes(out_png, png_bytes(canvas))


def rejected_preview(out_png: str | Path, image_id: str, reason: str, width: int = 800) -> None:
    """A placeholder preview for a radiograph that could not be converted."""
    image = Image.new("RGB", (width, 60), (60, 20, 20))
    draw = ImageDraw.Draw(image)
    draw.text((8, 8), f"{image_id}: rejected", fill=(255, 200, 200))
    draw.text((8, 30), reason[:130], fill=(255, 255, 255))
    write_bytes(out_png, png_bytes(image))
