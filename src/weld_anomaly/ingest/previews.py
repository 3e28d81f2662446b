"""Crop previews: the whole radiograph with its crops drawn, and the shared PNG helpers.

Drawn with Pillow on the image's own pixels; PNGs are written without timestamps. The
report's figures (:mod:`weld_anomaly.report.figures`) build on the same helpers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from weld_anomaly.files import write_bytes


def to_rgb8(pixels: np.ndarray) -> Image.Image:
    """A greyscale uint8/uint16 array as an RGB Pillow image."""
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float32) / 257.0).round().astype(np.uint8)
    return Image.fromarray(pixels, mode="L").convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    """A Pillow image as PNG bytes (optimised, no timestamp)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def fit_width(image: Image.Image, max_width: int) -> tuple[Image.Image, float]:
    """The image scaled down to at most ``max_width`` pixels wide, and the factor used."""
    if image.width <= max_width:
        return image, 1.0
    factor = max_width / image.width
    return image.resize((max_width, max(1, round(image.height * factor))), Image.LANCZOS), factor


def crop_preview(
    pixels: np.ndarray, crops: Sequence, out_png: str | Path, title: str = "", max_width: int = 1600
) -> None:
    """The whole image with its crops drawn and named, like the thesis's cropping tool."""
    image, f = fit_width(to_rgb8(pixels), max_width)
    draw = ImageDraw.Draw(image)
    for crop in crops:
        box = [
            crop.x * f,
            crop.y * f,
            (crop.x + crop.width) * f - 1,
            (crop.y + crop.height) * f - 1,
        ]
        draw.rectangle(box, outline=(0, 200, 255), width=2)
        draw.text((box[0] + 4, box[1] + 3), crop.name, fill=(0, 200, 255))
    if title:
        draw.text((6, 4), title, fill=(255, 255, 0))
    write_bytes(out_png, png_bytes(image))


def rejected_preview(out_png: str | Path, image_id: str, reason: str, width: int = 800) -> None:
    """A placeholder preview for a radiograph that could not be converted."""
    image = Image.new("RGB", (width, 60), (60, 20, 20))
    draw = ImageDraw.Draw(image)
    draw.text((8, 8), f"{image_id}: rejected", fill=(255, 200, 200))
    draw.text((8, 30), reason[:130], fill=(255, 255, 255))
    write_bytes(out_png, png_bytes(image))
