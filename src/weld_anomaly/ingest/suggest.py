"""Find the weld in a radiograph and suggest the crops around it, or say that it can't.

Real films (``docs/real-films.md``) are landscape with the weld along the long
side, tilted up to ~4 deg and sometimes arc-shaped (sag up to ~500 px); the bead is a
rounded bright band 140-450 px wide with darker bands beside it; lead numerals as bright as
the bead sit in rows near the edges; some films are double-wall pipe exposures (a pipe band
between nearly black areas, the weld an elliptical ring across it); and weld crops, where
the bead fills most of the image, are a separate kind of input. The finder:

1. takes the long axis as the weld's direction (a square image: the axis along which the
   band is more continuous);
2. an image with large nearly black areas above and below a band is a pipe film: the crop
   is the pipe band;
3. cuts the image into strips across the weld; in each, a ridge score says how much a row
   is brighter than the rows about a bead's half-width away on both sides (median over the
   strip, so a numeral in part of a strip barely counts);
4. follows the band from strip to strip by dynamic programming: the path that is bright in
   every strip and moves little between neighbours wins over short bright blobs (lettering,
   an IQI) that a strip-by-strip maximum would pick;
5. fits a smooth curve (tilt and sag) through the path and measures the bead's width;
6. if the band fills most of the image across, the image is a weld crop: it is left whole;
7. boxes the band (centre +- its full width at half maximum, plus ``margin``): one box, or
   several along the weld when an arc would make one box more than 30 % larger than the
   band;
8. rates its confidence: the band's contrast in noise units, how well the strips agree
   with the curve, whether another band is nearly as strong, whether the width is
   plausible. When unsure it says why in one line and suggests the whole image: it never
   silently returns a doubtful box.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from weld_anomaly.ingest.manifests import Box, CropSpec

log = logging.getLogger(__name__)

MAX_SIDE = 1024  # the finder works on the image shrunk to at most this many pixels across
STRIPS = 32
MIN_CONTRAST = 4.0  # noise sd the band's ridge must stand out by
MIN_AGREEMENT = 0.6  # share of strips whose own ridge lies on the fitted band
MAX_RIVAL = 0.8  # a second band at least this strong (relative) makes it ambiguous
CROP_FILL = 0.7  # a band this wide (FWHM x 2, of the height) fills the image: a weld crop
EXTRA = 0.12  # one box may be this much larger than the band; else several boxes
REACH = 0.95  # the weld region: this many FWHM either side of the centre line (toes, bands)


@dataclass(frozen=True)
class WeldFit:
    """Where the weld runs (or why it is not sure), in pixels of the full image."""

    box: Box  # the box around all of it
    vertical: bool
    tilt_deg: float
    contrast: float  # the band's ridge over the noise, median over strips
    strips: int  # strips agreeing with the fitted band
    kind: str = "weld"  # weld, pipe or crop (an image that is already a weld crop)
    boxes: tuple[Box, ...] = ()  # several boxes along an arc-shaped weld
    confidence: float = 1.0  # 0..1
    sure: bool = True
    reason: str = ""  # why it is not sure, or what it found
    centre: tuple[float, ...] = field(default=(), repr=False)  # the band's centre per column
    fwhm: float = 0.0  # the bead's full width at half maximum (pixels)


def _shrunk(img: np.ndarray) -> tuple[np.ndarray, int]:
    """The image block-averaged so that its long side is at most ``MAX_SIDE``."""
    f = max(1, int(math.ceil(max(img.shape) / MAX_SIDE)))
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    return img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3)), f


def _noise(img: np.ndarray) -> float:
    """The image's pixel noise (robust sd of the difference of neighbouring rows)."""
    d = np.diff(img, axis=0)
    return max(1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2), 1e-3)


def _ridge(profile: np.ndarray, half: float) -> np.ndarray:
    """How much each row is brighter than the rows ``half`` away on both sides (the lower)."""
    n = len(profile)
    idx = np.arange(n)
    k = int(round(half))
    above = profile[np.clip(idx - k, 0, n - 1)]
    below = profile[np.clip(idx + k, 0, n - 1)]
    return profile - np.maximum(above, below)


def _strip_scores(img: np.ndarray, strips: int, halves: list[float]) -> np.ndarray:
    """Ridge score (strips x rows): the best over bead half-widths, median profile per strip."""
    h, w = img.shape
    edges = np.linspace(0, w, strips + 1).astype(int)
    smooth = ndimage.gaussian_filter(img, 2.0)
    out = np.empty((strips, h), dtype=np.float32)
    for s, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        profile = ndimage.gaussian_filter1d(np.median(smooth[:, a:b], axis=1), max(2.0, h / 200))
        out[s] = np.max([_ridge(profile, half) for half in halves], axis=0)
    return out


def _best_path(scores: np.ndarray, max_step: int, penalty: float) -> tuple[np.ndarray, float]:
    """The row per strip maximising the summed score, moving at most ``max_step`` rows
    between neighbouring strips (``penalty`` per row moved)."""
    strips, h = scores.shape
    total = scores[0].astype(np.float64).copy()
    back = np.zeros((strips, h), dtype=np.int32)
    offsets = np.arange(-max_step, max_step + 1)
    idx = np.arange(h)
    for s in range(1, strips):
        best = np.full(h, -np.inf)
        arg = np.zeros(h, dtype=np.int32)
        for d in offsets:
            src = idx - d
            ok = (src >= 0) & (src < h)
            cand = np.full(h, -np.inf)
            cand[ok] = total[src[ok]] - penalty * abs(d)
            better = cand > best
            best[better], arg[better] = cand[better], src[better]
        total = best + scores[s]
        back[s] = arg
    path = np.zeros(strips, dtype=np.int32)
    path[-1] = int(np.argmax(total))
    for s in range(strips - 1, 0, -1):
        path[s - 1] = back[s, path[s]]
    return path, float(total.max())


def _robust_quadratic(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Coefficients of a quadratic through (x, y), outliers down-weighted (Tukey)."""
    w = weights.astype(np.float64)
    coef = np.polyfit(x, y, 2, w=np.sqrt(w))
    for _ in range(5):
        r = y - np.polyval(coef, x)
        scale = max(1.4826 * float(np.median(np.abs(r))), 1.0)
        u = np.clip(r / (4.685 * scale), -1, 1)
        w = weights * (1 - u**2) ** 2
        if w.sum() <= 0:
            break
        coef = np.polyfit(x, y, 2, w=np.sqrt(w + 1e-12))
    return coef


def _fwhm(profile: np.ndarray, at: int) -> float:
    """Full width at half maximum of the bump at ``at`` above the profile's lower half."""
    base = float(np.percentile(profile, 25))
    level = base + 0.5 * (profile[at] - base)
    below = np.flatnonzero(profile < level)
    top = below[below < at].max() + 1 if (below < at).any() else 0
    bottom = below[below > at].min() if (below > at).any() else len(profile)
    return float(bottom - top)


def _boxes(centre: np.ndarray, half: float, margin: float, shape, parts: int) -> list[Box]:
    """``parts`` boxes along the band ``centre +- half`` (+ margin), clipped to the image."""
    h, w = shape
    edges = np.linspace(0, w, parts + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        top = float(centre[a:b].min()) - half - margin
        bottom = float(centre[a:b].max()) + half + margin
        y0, y1 = max(0, int(math.floor(top))), min(h, int(math.ceil(bottom)))
        out.append(Box(x=int(a), y=y0, width=int(b - a), height=max(y1 - y0, 1)))
    return out


def _split_band(centre: np.ndarray, half: float, margin: float, shape) -> list[Box]:
    """One box when it is at most ``EXTRA`` larger than the band, else the fewest that are."""
    h = shape[0]
    band = float(np.sum(np.minimum(centre + half, h) - np.maximum(centre - half, 0)))
    for parts in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16):
        boxes = _boxes(centre, half, margin, shape, parts)
        if sum(b.width * b.height for b in boxes) <= (1 + EXTRA) * band:
            return boxes
    return boxes


def _pipe_band(img: np.ndarray) -> tuple[int, int] | None:
    """Rows of a pipe band between nearly black areas above and below it, if any."""
    # most of each row nearly black (the image is scaled to its 1-99 % range); lettering
    # in the black area covers only part of a row
    rows = np.percentile(img, 25, axis=1)
    dark = rows < 0.06
    h = len(rows)
    top = int(np.argmin(dark)) if dark[0] else 0
    bottom = h - int(np.argmin(dark[::-1])) if dark[-1] else h
    if top >= 0.08 * h and h - bottom >= 0.08 * h and bottom - top >= 0.3 * h:
        return top, bottom
    return None


def _orient(img: np.ndarray) -> bool:
    """True when the weld runs down the image (a portrait image, or a square one whose band
    is more continuous down the columns)."""
    h, w = img.shape
    if w >= 1.3 * h:
        return False
    if h >= 1.3 * w:
        return True

    def continuity(a):
        scores = _strip_scores(a, 16, [a.shape[0] / 12])
        return float(np.median(scores.max(axis=1)))

    return continuity(img.T) > continuity(img)


def _unsure(shape, vertical: bool, reason: str, contrast=0.0, confidence=0.0) -> WeldFit:
    h, w = shape
    return WeldFit(
        Box(0, 0, w, h), vertical, 0.0, contrast, 0, "none", (), confidence, False, reason
    )


def find_weld(pixels: np.ndarray, margin: int = 8, blocks: int = STRIPS) -> WeldFit | None:
    """Where the weld is in ``pixels`` (2-D, any dtype); None when there is nothing like one.

    The fit's ``sure`` is False (with a ``reason``) when a band was found but is doubtful.
    """
    img = np.asarray(pixels, dtype=np.float32)
    lo, hi = np.percentile(img, [1, 99])
    if hi <= lo:
        return None
    img = (img - lo) / (hi - lo)
    vertical = _orient(img)
    if vertical:
        img = img.T
    small, f = _shrunk(img)
    h, w = small.shape
    full = (img.shape[0], img.shape[1])
    pipe = _pipe_band(small)
    if pipe is not None:
        fit = _pipe(small, f, full, pipe, margin, blocks)
        return _transposed(fit) if vertical else fit
    return _band(small, f, full, vertical, margin, blocks)


def _pipe(small, f: int, full, pipe: tuple[int, int], margin: int, blocks: int) -> WeldFit:
    """A double-wall pipe film: the weld is an elliptical ring across the pipe band. In the
    middle of the film its two arcs are furthest apart: the two brightest ridges there (the
    walls' bright edges left out) bound it, each widened by its FWHM."""
    top, bottom = pipe
    inset = max(int(0.06 * (bottom - top)), 2)
    h, w = small.shape
    middle = ndimage.gaussian_filter(small, 2.0)[
        top + inset : bottom - inset, int(0.4 * w) : int(0.6 * w)
    ]
    profile = ndimage.gaussian_filter1d(np.median(middle, axis=1), 2.0)
    ridge = _ridge(profile, 0.06 * (bottom - top))
    first = int(np.argmax(ridge))
    apart = int((bottom - top) / 6)
    other = ridge.copy()
    other[max(first - apart, 0) : first + apart + 1] = -np.inf
    second = int(np.argmax(other))
    box = Box(0, top * f, full[1], min(bottom * f, full[0]) - top * f)
    reason = "a double-wall pipe film: the weld ring across the pipe band"
    if not np.isfinite(other[second]) or other[second] <= 0.3 * ridge[first]:
        return WeldFit(box, False, 0.0, 0.0, 0, "pipe", (box,), 0.5, True, reason)
    widths = [_fwhm(profile, first), _fwhm(profile, second)]
    y0 = (min(first, second) - widths[0 if first < second else 1] + top + inset) * f - margin
    y1 = (max(first, second) + widths[1 if first < second else 0] + top + inset) * f + margin
    ring = Box(0, max(int(y0), 0), full[1], min(int(y1), full[0]) - max(int(y0), 0))
    contrast = float(ridge[first]) / _noise(small)
    return WeldFit(ring, False, 0.0, contrast, 0, "pipe", (ring,), 0.8, True, reason)


def _transposed(fit: WeldFit) -> WeldFit:
    def t(b: Box) -> Box:
        return Box(b.y, b.x, b.height, b.width)

    return WeldFit(
        t(fit.box),
        True,
        fit.tilt_deg,
        fit.contrast,
        fit.strips,
        fit.kind,
        tuple(t(b) for b in fit.boxes),
        fit.confidence,
        fit.sure,
        fit.reason,
        fit.centre,
        fit.fwhm,
    )


def _band_width(small: np.ndarray, path: np.ndarray, blocks: int) -> float:
    """The bead's FWHM along the path: the median over strips."""
    smooth = ndimage.gaussian_filter(small, 2.0)
    edges = np.linspace(0, small.shape[1], blocks + 1).astype(int)
    widths = [
        _fwhm(np.median(smooth[:, a:b], axis=1), int(path[s]))
        for s, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    return float(np.median(widths))


def _rival(scores: np.ndarray, path: np.ndarray, fwhm: float, max_step: int, total: float):
    """How strong the best other band is (at least a bead width away), relative."""
    masked = scores.copy()
    for s in range(len(path)):
        lo, hi = int(path[s] - fwhm), int(path[s] + fwhm) + 1
        masked[s, max(lo, 0) : max(hi, 0)] = -1e9
    _, rival_total = _best_path(masked, max_step, 0.2)
    return rival_total / total if total > 0 else 1.0


def _band(small, f: int, full, vertical: bool, margin: int, blocks: int) -> WeldFit | None:
    """Follow the brightest continuous band across the (shrunk, oriented) image."""
    h, w = small.shape
    noise = _noise(small)
    halves = [h * q for q in (0.06, 0.12, 0.2)]
    scores = _strip_scores(small, blocks, halves)
    strip_w = w / blocks
    max_step = int(math.ceil(math.tan(math.radians(8)) * strip_w)) + 2
    path, total = _best_path(scores / noise, max_step, penalty=0.2)
    contrast = float(np.median(scores[np.arange(blocks), path])) / noise
    if contrast < 1.5:
        return None
    xs = (np.arange(blocks) + 0.5) * strip_w
    own = scores.argmax(axis=1)
    fwhm = _band_width(small, path, blocks)
    agree = np.abs(own - path) <= max(0.25 * fwhm, 3)
    coef = _robust_quadratic(xs, path.astype(np.float64), np.ones(blocks))
    centre_small = np.polyval(coef, np.arange(w))
    rival = _rival(scores / noise, path, fwhm, max_step, total)
    slope = float(np.polyval(np.polyder(coef), w / 2))
    tilt = math.degrees(math.atan(slope))
    confidence = float(
        np.clip(contrast / (2 * MIN_CONTRAST), 0, 1) * agree.mean() * np.clip(1.5 - rival, 0, 1)
    )
    centre = np.interp(np.arange(full[1]) / f, np.arange(w), centre_small) * f
    if 2 * fwhm >= CROP_FILL * h:
        box = Box(0, 0, full[1], full[0])
        fit = WeldFit(
            box,
            vertical,
            tilt,
            contrast,
            int(agree.sum()),
            "crop",
            (box,),
            confidence,
            True,
            "the bead fills the image: a weld crop, left whole",
            tuple(centre),
            fwhm * f,
        )
        return _transposed(fit) if vertical else fit
    reasons = []
    if contrast < MIN_CONTRAST:
        reasons.append(f"the band stands only {contrast:.1f} noise sd out")
    if agree.mean() < MIN_AGREEMENT:
        reasons.append(f"only {int(agree.sum())} of {blocks} strips agree on where it runs")
    if rival > MAX_RIVAL:
        reasons.append(f"a second band is nearly as strong ({rival:.0%})")
    if fwhm > 0.5 * h:
        reasons.append(f"the band is too wide ({fwhm * f:.0f} px of {full[0]})")
    boxes = _split_band(centre, REACH * fwhm * f, margin, full)
    union = Box(
        0, min(b.y for b in boxes), full[1], max(b.y1 for b in boxes) - min(b.y for b in boxes)
    )
    fit = WeldFit(
        union,
        vertical,
        tilt,
        contrast,
        int(agree.sum()),
        "weld",
        tuple(boxes),
        confidence,
        not reasons,
        "; ".join(reasons) or f"a weld, tilt {tilt:.1f} deg",
        tuple(centre),
        fwhm * f,
    )
    return _transposed(fit) if vertical else fit


def _widened(box: Box, size: int, shape) -> Box:
    """``box`` made at least one fragment wide and high, inside the image."""
    h, w = shape
    x, y, bw, bh = box.x, box.y, box.width, box.height
    if bh < size:
        y = int(min(max(0, y + bh // 2 - size // 2), h - size))
        bh = size
    if bw < size:
        x = int(min(max(0, x + bw // 2 - size // 2), w - size))
        bw = size
    return Box(x, y, bw, bh)


def suggest_crops(
    pixels: np.ndarray, image_id: str, fragment_size: int, margin: int = 8
) -> list[CropSpec]:
    """The suggested crops of one image: the weld (``weld``, or ``weld_1``... along an arc),
    the pipe band, or the whole image (``image``) when it is a weld crop already or the
    finder is not sure (it says why in one line)."""
    h, w = pixels.shape
    fit = find_weld(pixels, margin=margin)
    whole = [CropSpec(x=0, y=0, width=w, height=h, name="image")]
    if fit is None:
        log.warning(
            "%s: not sure where the weld is (no band); suggesting the whole image", image_id
        )
        return whole
    if not fit.sure:
        log.warning(
            "%s: not sure where the weld is (%s); suggesting the whole image", image_id, fit.reason
        )
        return whole
    if fit.kind == "crop":
        log.info("%s: %s", image_id, fit.reason)
        return whole
    boxes = [_widened(b, fragment_size, (h, w)) for b in (fit.boxes or (fit.box,))]
    names = ["weld"] if len(boxes) == 1 else [f"weld_{i + 1}" for i in range(len(boxes))]
    log.info(
        "%s: %s (confidence %.2f, contrast %.1f noise sd, %d strips agree): %s",
        image_id,
        fit.reason,
        fit.confidence,
        fit.contrast,
        fit.strips,
        ", ".join(f"x={b.x} y={b.y} {b.width}x{b.height}" for b in boxes),
    )
    return [
        CropSpec(x=b.x, y=b.y, width=b.width, height=b.height, name=n)
        for b, n in zip(boxes, names, strict=True)
    ]


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
