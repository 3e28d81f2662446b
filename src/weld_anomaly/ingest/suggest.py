"""Find the weld bead in a radiograph and suggest the crop rectangle around it.

The bead is a long band, brighter than the base metal on either side (more metal absorbs
more X-rays; images are shown with bright = dense). The method works on intensity profiles
across the band:

1. orientation: the band runs along the image axis whose across-profile (the median of
   every row, or of every column) shows the stronger bump; a vertical weld is transposed;
2. the image is cut into ``blocks`` strips along the weld; in each strip the mean profile
   across the weld is smoothed, and the bead is the bright run around its maximum, down to
   ``threshold`` of the way from the strip's background (10th percentile) to its peak;
3. a robust straight line (Theil-Sen) through the strips' centres finds the weld's course;
   strips far from it (a lead letter, an image quality indicator, a blank strip) are
   dropped, so tilted welds, gentle curves and markers do not pull the result;
4. the rectangle spans the weld's whole length and, across it, the extreme bead edges of
   the kept strips (extended along the fitted slope to the strip ends) plus ``margin``
   pixels on each side, clipped to the image.

Crop rectangles are axis-aligned, as in the crop manifest; a tilted weld gets the box that
holds all of it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from weld_anomaly.ingest.manifests import Box, CropSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeldFit:
    """Where the weld runs: its box, orientation, tilt and how clearly it stands out."""

    box: Box
    vertical: bool
    tilt_deg: float
    contrast: float  # median peak-over-background of the kept strips, in image units
    strips: int  # strips kept by the robust fit (of ``blocks``)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0
    return slope, float(np.median(y - slope * x))


def _profile_bump(profile: np.ndarray) -> float:
    """How strongly a profile rises to a single bright band (peak over spread)."""
    smooth = ndimage.gaussian_filter1d(profile, max(2.0, len(profile) / 200))
    spread = np.percentile(smooth, 90) - np.percentile(smooth, 10)
    return float((smooth.max() - np.median(smooth)) * spread)


def find_weld(
    pixels: np.ndarray,
    margin: int = 24,
    blocks: int = 32,
    threshold: float = 0.2,
    min_contrast: float = 0.2,
) -> WeldFit | None:
    """The weld's bounding box in ``pixels`` (2-D, any dtype), or None if there is none.

    ``margin`` pixels are added across the weld on both sides; ``min_contrast`` is the
    smallest bead-over-background step (as a fraction of the image's 1-99 % range) that
    counts as a weld.
    """
    img = np.asarray(pixels, dtype=np.float32)
    lo, hi = np.percentile(img, [1, 99])
    if hi <= lo:
        return None
    img = (img - lo) / (hi - lo)
    vertical = _profile_bump(np.median(img, axis=0)) > _profile_bump(np.median(img, axis=1))
    if vertical:
        img = img.T
    h, w = img.shape
    # work on at most ~1,024 rows: the bead is tens of pixels wide at least
    step = max(1, h // 1024)
    small = img[: h - h % step].reshape(-1, step, w).mean(axis=1) if step > 1 else img
    sigma = max(1.5, small.shape[0] / 256)
    n = int(min(blocks, max(4, w // 16)))
    edges = np.linspace(0, w, n + 1).astype(int)
    xs, centres, tops, bottoms, contrasts = [], [], [], [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        profile = ndimage.gaussian_filter1d(small[:, a:b].mean(axis=1), sigma)
        peak = int(np.argmax(profile))
        base = float(np.percentile(profile, 10))
        level = base + threshold * (profile[peak] - base)
        below = np.flatnonzero(profile < level)
        top = below[below < peak].max() + 1 if (below < peak).any() else 0
        bottom = below[below > peak].min() if (below > peak).any() else len(profile)
        xs.append((a + b) / 2)
        centres.append((top + bottom) / 2 * step)
        tops.append(top * step)
        bottoms.append(bottom * step)
        contrasts.append(profile[peak] - base)
    xs_a, centres_a = np.array(xs), np.array(centres)
    slope, intercept = _theil_sen(xs_a, centres_a)
    residual = np.abs(centres_a - (slope * xs_a + intercept))
    widths = np.array(bottoms) - np.array(tops)
    tolerance = max(3 * 1.4826 * np.median(residual), 0.25 * float(np.median(widths)), 2 * step)
    keep = (residual <= tolerance) & (np.array(contrasts) >= min_contrast)
    if keep.sum() < max(2, n // 4):
        return None
    half_strip = (edges[1] - edges[0]) / 2
    reach = abs(slope) * half_strip  # the band's edges move this much within a strip
    top = min(t - reach for t, k in zip(tops, keep, strict=True) if k)
    bottom = max(b_ + reach for b_, k in zip(bottoms, keep, strict=True) if k)
    y0 = int(max(0, math.floor(top) - margin))
    y1 = int(min(h, math.ceil(bottom) + margin))
    box = Box(x=0, y=y0, width=w, height=y1 - y0)
    if vertical:
        box = Box(x=y0, y=0, width=y1 - y0, height=w)
    return WeldFit(
        box=box,
        vertical=bool(vertical),
        tilt_deg=math.degrees(math.atan(slope)),
        contrast=float(np.median(np.array(contrasts)[keep])),
        strips=int(keep.sum()),
    )


def suggest_crops(
    pixels: np.ndarray, image_id: str, fragment_size: int, margin: int = 24
) -> list[CropSpec]:
    """The suggested crops of one image: the weld's box (named ``weld``), or the whole image.

    A box narrower than one fragment is widened around its centre (inside the image).
    """
    h, w = pixels.shape
    fit = find_weld(pixels, margin=margin)
    if fit is None:
        log.warning("%s: no weld bead found; suggesting the whole image", image_id)
        return [CropSpec(x=0, y=0, width=w, height=h, name="image")]
    box = fit.box
    x, y, bw, bh = box.x, box.y, box.width, box.height
    if bh < fragment_size:
        y = int(min(max(0, y + bh // 2 - fragment_size // 2), h - fragment_size))
        bh = fragment_size
    if bw < fragment_size:
        x = int(min(max(0, x + bw // 2 - fragment_size // 2), w - fragment_size))
        bw = fragment_size
    log.info(
        "%s: weld %s, tilt %.2f deg, contrast %.2f, %d strips; crop x=%d y=%d %dx%d",
        image_id,
        "vertical" if fit.vertical else "horizontal",
        fit.tilt_deg,
        fit.contrast,
        fit.strips,
        x,
        y,
        bw,
        bh,
    )
    return [CropSpec(x=x, y=y, width=bw, height=bh, name="weld")]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two rectangles."""
    ix = max(0, min(a.x1, b.x1) - max(a.x, b.x))
    iy = max(0, min(a.y1, b.y1) - max(a.y, b.y))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union else 0.0


def manifest_text(crops: dict[str, list[CropSpec]], source: str = "") -> str:
    """A crop manifest (same schema as the user's) holding ``crops``, with a review note."""
    lines = [
        "# Crop manifest DRAFTED by `weld-anomaly crops suggest`"
        + (f" from {source}" if source else "")
        + ".",
        "# Review every rectangle on the preview images, edit, then commit it and point",
        "# data.crops at it. Pixel coordinates of the full image; x, y = top-left corner.",
        "version: 1",
        "images:",
    ]
    for image_id in sorted(crops):
        lines.append(f"  {image_id}:")
        for c in crops[image_id]:
            lines.append(
                f"    - {{name: {c.name}, x: {c.x}, y: {c.y}, width: {c.width}, "
                f"height: {c.height}}}"
            )
    return "\n".join(lines) + "\n"
