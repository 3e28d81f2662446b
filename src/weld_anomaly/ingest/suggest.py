"""Find the weld in a radiograph and suggest the crops around it, or say that it can't.

Real films (``docs/real-films.md``) are landscape with the weld along the long
side, tilted up to ~4 deg and sometimes arc-shaped (sag up to ~500 px); the bead is a
rounded bright band 140-450 px wide with darker bands beside it; lead numerals as bright as
the bead sit in rows near the edges; some films are double-wall pipe exposures (a pipe band
between nearly black areas, the weld an elliptical ring across it); and weld crops, where
the bead fills most of the image, are a separate kind of input. The finder:

1. takes the long axis as the weld's direction (a square image: the axis along which the
   band is more continuous);
2. looks for the evidence of a double-wall pipe film: nearly black rows above and below a
   band whose body is brightest at its walls (a weld crop's dark edges have no walls: its
   body is brightest in the middle, on the bead). On a pipe film it takes each row's body
   away and boxes the rows the weld ring crosses (both arcs, or the one band they merge
   into), or says it is not sure when no ring stands out;
3. otherwise cuts the image into strips across the weld; in each, a ridge score says how
   much a row is brighter than the rows about a bead's half-width away on both sides
   (median over the strip, so a numeral in part of a strip barely counts);
4. follows the band from strip to strip by dynamic programming: the path that is bright in
   every strip and moves little between neighbours wins over short bright blobs (lettering,
   an IQI) that a strip-by-strip maximum would pick;
5. fits a smooth curve (tilt and sag) through the path where the path follows one, else
   follows the path itself, and measures the bead's width strip by strip (half maximum
   above the base metal beyond its toes);
6. if the band (its centre +- ``REACH`` widths) fills the image across, the image is a weld
   crop: it is left whole;
7. boxes the band: one box, or several along the weld when an arc would make one box more
   than ``EXTRA`` larger than the band, each as wide as the bead is where it runs;
8. checks that the boxes hold each strip's own band and rates its confidence: the band's
   contrast in noise units, how well the strips agree, whether another band is nearly as
   strong, whether the boxes would cut the bead. When unsure it says why in one line (a
   WARNING) and suggests the whole image: it never silently returns a doubtful box.
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
CROP_FILL = 0.9  # a band (centre +- REACH x FWHM) this share of the height: a weld crop
EXTRA = 0.2  # one box may be this much larger than the band; else several boxes
MAX_UNEVEN = 0.75  # base metal's two sides differing by this much of the bead's height: unsure
REACH = 1.0  # the weld region: this many FWHM either side of the centre line (toes, bands)


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


def _half_maximum(profile: np.ndarray, at: int) -> tuple[int, int, float]:
    """Where the bump at ``at`` crosses half its height on either side, and how uneven its
    base is (the two sides' difference over the bump's height above the higher one). Each
    side's half maximum above its
    own base metal (the two sides of a weld often differ): the profile's level beyond the
    toes (1.2 widths from ``at``), or that side's 5th percentile when the bump fills it (a
    weld crop)."""
    n = len(profile)
    idx = np.arange(n)
    peak = float(profile[at])

    def edges(upper: float, lower: float) -> tuple[int, int]:
        above = idx[:at][profile[:at] < upper + 0.5 * (peak - upper)]
        below = idx[at + 1 :][profile[at + 1 :] < lower + 0.5 * (peak - lower)]
        return (int(above.max()) + 1 if len(above) else 0), (int(below.min()) if len(below) else n)

    def base(far: np.ndarray, side: np.ndarray) -> float:
        if far.sum() >= 0.03 * n:
            return float(np.median(profile[far]))
        return float(np.percentile(profile[side], 5)) if side.any() else peak

    quartile = float(np.percentile(profile, 25))
    top, bottom = edges(quartile, quartile)
    for _ in range(3):
        upper = base(idx < at - 2.4 * (at - top), idx < at)
        lower = base(idx > at + 2.4 * (bottom - at), idx > at)
        top, bottom = edges(upper, lower)
    uneven = abs(upper - lower) / max(peak - max(upper, lower), 1e-6)
    return top, bottom, uneven


def _boxes(centre: np.ndarray, half: np.ndarray, margin: float, shape, parts: int) -> list[Box]:
    """``parts`` boxes along the band ``centre +- half`` (+ margin), clipped to the image."""
    h, w = shape
    edges = np.linspace(0, w, parts + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        top = float((centre[a:b] - half[a:b]).min()) - margin
        bottom = float((centre[a:b] + half[a:b]).max()) + margin
        y0, y1 = max(0, int(math.floor(top))), min(h, int(math.ceil(bottom)))
        out.append(Box(x=int(a), y=y0, width=int(b - a), height=max(y1 - y0, 1)))
    return out


def _split_band(centre: np.ndarray, half: np.ndarray, margin: float, shape) -> list[Box]:
    """One box when it is at most ``EXTRA`` larger than the band, else the fewest that are."""
    h = shape[0]
    band = float(np.sum(np.minimum(centre + half, h) - np.maximum(centre - half, 0)))
    for parts in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24):
        boxes = _boxes(centre, half, margin, shape, parts)
        if sum(b.width * b.height for b in boxes) <= (1 + EXTRA) * band:
            return boxes
    return boxes


def _pipe_band(img: np.ndarray, noise: float) -> tuple[int, int, float] | None:
    """Rows of a pipe band between nearly black areas above and below it, and how strong
    the evidence is (0..1); None when there is no pipe.

    The evidence is the pipe's own: rows nearly black on both sides (direct exposure), and
    a pipe body brightest at its walls (edge-on, the longest path through metal) and darkest
    in its middle. A weld crop, whose edges are dark too, is brightest in its middle: its
    bead. The body is each row's 10th percentile, which the weld ring (crossing only part of
    every row) leaves out."""
    body = ndimage.gaussian_filter1d(np.percentile(img, 10, axis=1), 1.5)
    h = len(body)
    lo, mid = float(np.percentile(body, 2)), float(np.median(body))
    if mid - lo < 10 * noise:
        return None
    dark = body < lo + 0.3 * (mid - lo)
    if not (dark[0] and dark[-1]):
        return None
    top = int(np.argmin(dark))
    bottom = h - int(np.argmin(dark[::-1]))
    if top < 0.015 * h or h - bottom < 0.015 * h or bottom - top < 0.3 * h:
        return None
    band = body[top:bottom]
    n = len(band)
    edge = max(int(0.1 * n), 2)
    middle = float(np.median(_without_bumps(band)[int(0.3 * n) : int(0.7 * n)]))
    walls = min(float(band[:edge].max()), float(band[-edge:].max())) - middle
    darkness = float(np.median(body[dark])) - lo
    if walls < 4 * noise or darkness > 0.3 * (middle - lo):
        return None
    return top, bottom, float(np.clip(walls / (12 * noise), 0, 1))


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
    pipe = _pipe_band(small, _noise(small))
    if pipe is not None:
        fit = _pipe(small, f, full, pipe, margin)
        return _transposed(fit) if vertical else fit
    return _band(small, f, full, vertical, margin, blocks)


def _without_bumps(profile: np.ndarray) -> np.ndarray:
    """``profile`` (a pipe body across the pipe: brightest at the walls) with bright bumps
    taken off: a weld ring merged into one band across the whole pipe lifts every column
    of its rows. A quadratic is fitted to the profile's lower envelope; rows above it by
    more than 2 % of the profile's range are brought down to it."""
    x = np.linspace(-1, 1, len(profile))
    keep = np.ones(len(profile), dtype=bool)
    for _ in range(6):
        fit = np.polyval(np.polyfit(x[keep], profile[keep], 2), x)
        residual = profile - fit
        scale = max(1.4826 * float(np.median(np.abs(residual[keep]))), 1e-6)
        keep = residual < 2 * scale
        if keep.sum() < 0.3 * len(profile):
            break
    tolerance = 0.02 * max(float(np.ptp(profile)), 1e-6)
    return np.minimum(profile, fit + tolerance)


def _ring_half_width(left: np.ndarray, threshold: float) -> float:
    """Half the weld ring's FWHM (rows), on the outer flank of its top arc: at the column
    where the arc is highest, 1.64 times the rise from half its height to 90 % of it (as on
    a Gaussian)."""
    rows, cols = left.shape
    over = left >= threshold
    first = np.where(over.any(axis=0), over.argmax(axis=0), rows).astype(np.float64)
    span = max(int(0.02 * cols), 3)
    column = int(np.argmin(ndimage.median_filter(first, span, mode="nearest")))
    a, b = max(column - span, 0), min(column + span + 1, cols)
    profile = ndimage.gaussian_filter1d(np.median(left[:, a:b], axis=1), 1.0)
    start = int(np.argmax(profile >= threshold))
    peak = start
    while peak + 1 < rows and profile[peak + 1] >= profile[peak]:
        peak += 1
    top = float(profile[peak])
    flank = profile[: peak + 1]
    half = int(np.flatnonzero(flank < 0.5 * top).max(initial=-1)) + 1
    nearly = int(np.argmax(flank >= 0.9 * top))
    return 1.64 * max(nearly - half, 1)


def _pipe(small, f: int, full, pipe: tuple[int, int, float], margin: int) -> WeldFit:
    """A double-wall pipe film: the weld is an elliptical ring across the pipe band (its two
    arcs apart, or merged into one band when the exposure is nearly edge-on). Lettering is
    taken off, then each row's pipe body; the rows the ring crosses are those where what is
    left is at least half the ring's height somewhere along the row, widened by the ring's
    outer half width (:func:`_ring_half_width`)."""
    top, bottom, evidence = pipe
    noise = _noise(small)
    # lettering's strokes (a seventh of its height) are narrower than the ring: an opening
    # by a twenty-fifth of the pipe's height takes them off and leaves the ring
    stroke = max(int(0.04 * (bottom - top)), 3)
    smooth = ndimage.grey_opening(ndimage.gaussian_filter(small, 2.0), size=(stroke, stroke))
    inset = max(int(0.04 * (bottom - top)), 2)
    rows = np.arange(top + inset, bottom - inset)
    body = _without_bumps(np.percentile(smooth[rows], 10, axis=1))
    left = smooth[rows] - body[:, None]
    profile = ndimage.gaussian_filter1d(np.percentile(left, 98, axis=1), 1.0)
    peak = int(np.argmax(profile))
    height = float(profile[peak])
    contrast = height / noise
    reason = "a double-wall pipe film: the weld ring across the pipe band"

    def unsure(why: str, confidence: float) -> WeldFit:
        whole = Box(0, 0, full[1], full[0])
        return WeldFit(whole, False, 0.0, contrast, 0, "pipe", (), confidence, False, why)

    if contrast < MIN_CONTRAST:
        return unsure(f"a pipe film, but no weld ring stands out ({contrast:.1f} noise sd)", 0.0)
    above = profile >= 0.5 * height
    first, last = peak, peak
    while first > 0 and above[first - 1]:
        first -= 1
    while last < len(profile) - 1 and above[last + 1]:
        last += 1
    half = _ring_half_width(left, 0.5 * height)
    y0 = (rows[first] - half) * f - margin
    y1 = (rows[last] + 1 + half) * f + margin
    y0, y1 = max(int(y0), 0), min(int(math.ceil(y1)), full[0])
    ring = Box(0, y0, full[1], y1 - y0)
    confidence = float(np.clip(contrast / (2 * MIN_CONTRAST), 0, 1) * (0.5 + 0.5 * evidence))
    if y0 <= top * f or y1 >= bottom * f:
        return unsure("a pipe film, but the ring seems to reach the pipe's walls", confidence)
    return WeldFit(ring, False, 0.0, contrast, 0, "pipe", (ring,), confidence, True, reason)


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


def _band_widths(small: np.ndarray, path: np.ndarray, blocks: int):
    """The bead's FWHM in each strip along the path, its centre there (midway between its
    half-maximum points: a bead on base metal brighter on one side has its ridge pulled
    towards that side), and how uneven the base metal beside it is."""
    smooth = ndimage.gaussian_filter(small, 2.0)
    edges = np.linspace(0, small.shape[1], blocks + 1).astype(int)
    halves = [
        _half_maximum(np.median(smooth[:, a:b], axis=1), int(path[s]))
        for s, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    tops, bottoms, uneven = np.array(halves, dtype=np.float64).T
    return bottoms - tops, (tops + bottoms) / 2, uneven


def _rival(scores: np.ndarray, path: np.ndarray, fwhm: float, max_step: int, total: float):
    """How strong the best other band is (at least a bead width away), relative."""
    masked = scores.copy()
    for s in range(len(path)):
        lo, hi = int(path[s] - fwhm), int(path[s] + fwhm) + 1
        masked[s, max(lo, 0) : max(hi, 0)] = -1e9
    _, rival_total = _best_path(masked, max_step, 0.2)
    return rival_total / total if total > 0 else 1.0


def _missed_strips(boxes, centres, halves, blocks: int, shape) -> int:
    """Strips whose own band (centre +- half, full-image rows) the boxes cover less than
    90 % of."""
    h, w = shape
    edges = np.linspace(0, w, blocks + 1).astype(int)
    missed = 0
    for s, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        lo, hi = max(centres[s] - halves[s], 0), min(centres[s] + halves[s], h)
        over = [bx for bx in boxes if bx.x < b and bx.x1 > a]
        if not over or hi <= lo:
            missed += 1
            continue
        inside = min(hi, min(bx.y1 for bx in over)) - max(lo, max(bx.y for bx in over))
        missed += inside < 0.9 * (hi - lo)
    return missed


def _centre_line(xs, mids, fwhm: float, columns) -> tuple[np.ndarray, np.ndarray]:
    """The bead's centre in every column: a smooth curve (tilt and sag) through the strips'
    centres where it follows them (a straight, tilted or arc-shaped weld), else the strips'
    centres themselves (a weld that wanders); and the curve's coefficients."""
    coef = _robust_quadratic(xs, mids, np.ones(len(xs)))
    follows = np.abs(mids - np.polyval(coef, xs)) <= max(0.15 * fwhm, 3)
    if follows.mean() >= 0.9:
        return np.polyval(coef, columns), coef
    return np.interp(columns, xs, mids), coef


def _doubts(contrast: float, agree, rival: float, uneven: float, missed: int) -> list[str]:
    """Why a band found is doubtful (none: sure)."""
    blocks = len(agree)
    reasons = []
    if contrast < MIN_CONTRAST:
        reasons.append(f"the band stands only {contrast:.1f} noise sd out")
    if agree.mean() < MIN_AGREEMENT:
        reasons.append(f"only {int(agree.sum())} of {blocks} strips agree on where it runs")
    if rival > MAX_RIVAL:
        reasons.append(f"a second band is nearly as strong ({rival:.0%})")
    if uneven > MAX_UNEVEN:
        reasons.append(
            "the base metal differs on the two sides by more than the bead stands out "
            "(its width is uncertain)"
        )
    if missed > 1:
        reasons.append(f"the boxes would cut the bead in {missed} of {blocks} strips")
    return reasons


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
    raw_widths, raw_mids, uneven = _band_widths(small, path, blocks)
    widths = ndimage.median_filter(raw_widths, 3, mode="nearest")
    mids = ndimage.median_filter(raw_mids, 3, mode="nearest")
    fwhm = float(np.median(widths))
    reach = REACH * widths
    agree = np.abs(own - path) <= max(0.25 * fwhm, 3)
    columns = np.arange(w)
    centre_small, coef = _centre_line(xs, mids, fwhm, columns)
    rival = _rival(scores / noise, path, fwhm, max_step, total)
    slope = float(np.polyval(np.polyder(coef), w / 2))
    tilt = math.degrees(math.atan(slope))
    confidence = float(
        np.clip(contrast / (2 * MIN_CONTRAST), 0, 1) * agree.mean() * np.clip(1.5 - rival, 0, 1)
    )
    full_columns = np.arange(full[1]) / f
    centre = np.interp(full_columns, columns, centre_small) * f
    half = np.interp(full_columns, xs, reach) * f
    if np.mean(np.minimum(centre + half, full[0]) - np.maximum(centre - half, 0)) >= (
        CROP_FILL * full[0]
    ):
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
    boxes = _split_band(centre, half, margin, full)
    # does every strip's own band, as measured there, lie in the boxes?
    missed = _missed_strips(boxes, raw_mids * f, REACH * raw_widths * f, blocks, full)
    confidence *= 1 - missed / blocks
    reasons = _doubts(contrast, agree, rival, float(np.median(uneven)), missed)
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


@dataclass(frozen=True)
class Suggestion:
    """The crops suggested for one image and the one line that says why."""

    crops: list[CropSpec]
    sure: bool  # False: not sure where the weld is, the whole image suggested
    message: str  # the line logged (INFO when sure, WARNING when not)
    confidence: float = 0.0


def suggest(pixels: np.ndarray, image_id: str, fragment_size: int, margin: int = 8) -> Suggestion:
    """The suggested crops of one image: the weld (``weld``, or ``weld_1``... along an arc),
    the pipe film's weld ring, or the whole image (``image``) when it is a weld crop already
    or the finder is not sure. Logs one line: INFO with its confidence and evidence when
    sure, WARNING saying why when not."""
    h, w = pixels.shape
    fit = find_weld(pixels, margin=margin)
    whole = [CropSpec(x=0, y=0, width=w, height=h, name="image")]
    if fit is None or not fit.sure:
        why = "no band" if fit is None else fit.reason
        line = f"{image_id}: not sure where the weld is ({why}); suggesting the whole image"
        log.warning("%s", line)
        return Suggestion(whole, False, line, 0.0 if fit is None else fit.confidence)
    evidence = f"confidence {fit.confidence:.2f}, contrast {fit.contrast:.1f} noise sd"
    if fit.kind != "pipe":
        evidence += f", {fit.strips} of {STRIPS} strips agree"
    if fit.kind == "crop":
        line = f"{image_id}: {fit.reason} ({evidence})"
        log.info("%s", line)
        return Suggestion(whole, True, line, fit.confidence)
    boxes = [_widened(b, fragment_size, (h, w)) for b in (fit.boxes or (fit.box,))]
    names = ["weld"] if len(boxes) == 1 else [f"weld_{i + 1}" for i in range(len(boxes))]
    where = ", ".join(f"x={b.x} y={b.y} {b.width}x{b.height}" for b in boxes)
    line = f"{image_id}: {fit.reason} ({evidence}): {where}"
    log.info("%s", line)
    crops = [
        CropSpec(x=b.x, y=b.y, width=b.width, height=b.height, name=n)
        for b, n in zip(boxes, names, strict=True)
    ]
    return Suggestion(crops, True, line, fit.confidence)


def suggest_crops(
    pixels: np.ndarray, image_id: str, fragment_size: int, margin: int = 8
) -> list[CropSpec]:
    """The crops of :func:`suggest`."""
    return suggest(pixels, image_id, fragment_size, margin).crops


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
