"""The indication inside a finding: the dark spot an inspector would measure.

A finding is a union of flagged 64-px fragments, several times larger than the pore that
made them flag. Its indication is read off the pixels: the textbook filter's contrast map
(the median background minus the image, after a light smoothing: positive where darker than
the weld around it) inside the finding's fragments, its strongest point, and the connected
region around it that is at least half as dark (the half-maximum contour). The finding's
length, breadth and area describe that region; the fragment box stays as the evidence.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from weld_anomaly.ingest.normalize import textbook_map

MEDIAN = 41  # the filter's median window (its background), pixels
SIGMA = 1.5  # smoothing before the contrast: grain does not split a pore
HALF = 0.5  # the share of the peak contrast that bounds the indication


def indication(
    crop_pixels: np.ndarray, crop_xy: tuple[int, int], corners: np.ndarray, size: int
) -> dict | None:
    """The indication within the fragments at ``corners`` (image coordinates, y and x) of a
    crop whose top-left corner is ``crop_xy`` (x, y) in the image: its box (image pixels)
    and area in pixels, or None when nothing there is darker than its surroundings."""
    cx, cy = crop_xy
    h, w = crop_pixels.shape
    local = np.asarray(corners, dtype=np.int64) - [cy, cx]
    pad = MEDIAN // 2 + 2
    y0 = max(int(local[:, 0].min()) - pad, 0)
    x0 = max(int(local[:, 1].min()) - pad, 0)
    y1 = min(int(local[:, 0].max()) + size + pad, h)
    x1 = min(int(local[:, 1].max()) + size + pad, w)
    contrast = textbook_map(crop_pixels[y0:y1, x0:x1], MEDIAN, SIGMA).astype(np.float64)
    inside = np.zeros(contrast.shape, dtype=bool)
    for y, x in local - [y0, x0]:
        inside[max(y, 0) : y + size, max(x, 0) : x + size] = True
    values = np.where(inside, contrast, -np.inf)
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    if not np.isfinite(values[peak]) or values[peak] <= 0:
        return None
    labels, _ = ndimage.label(values >= HALF * values[peak])
    region = labels == labels[peak]
    ys, xs = np.nonzero(region)
    return {
        "x": int(xs.min() + x0 + cx),
        "y": int(ys.min() + y0 + cy),
        "width": int(np.ptp(xs) + 1),
        "height": int(np.ptp(ys) + 1),
        "area": int(region.sum()),
    }
