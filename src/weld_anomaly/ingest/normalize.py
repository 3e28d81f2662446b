"""One grey scale: every crop in units of its own film noise, background removed.

Real archives mix films scanned with different ranges and crops re-digitised with half the
noise, so a grey level means something different on each. What does not change is how far a
pixel stands out of its surroundings compared with the film's noise. This module computes,
for a crop of integer grey levels:

- :func:`textbook_map`: the training-free detector of the literature, ``median_41(G) - G``
  with ``G`` the image smoothed by a Gaussian of sigma 1: positive where a spot is darker
  than its surroundings. The median is exact up to a quarter of a grey level (8-bit input;
  1/4096 of the range for 16-bit), by a sliding histogram (:mod:`.window_median`).
- :func:`noise_map`: the local noise of that map, its robust standard deviation (median
  absolute deviation) in 64-px blocks, smoothed and interpolated: flaws do not inflate it.
- :func:`inspectable`: where scoring makes sense: not the darker strips along a film's edges,
  not unexposed (nearly black) areas such as those beside a pipe, not bright markers (lead
  numerals, IQI labels and wires) and not the halo the median leaves around them.
- :func:`normalize`: all of it together; ``contrast`` is ``(median - G) / noise`` computed
  with the markers taken out of the median (so a numeral does not make its surroundings look
  dark) and the image continued beyond its borders, in units of noise standard deviations.

A film and a crop cut from it get the same values where they overlap (away from the crop's
border): every step is local.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from weld_anomaly.ingest import window_median
from weld_anomaly.ingest.gaussian import gaussian_filter
from weld_anomaly.threads import job_threads

MEDIAN_SIZE = 41
NOISE_BLOCK = 64  # side (px) of the blocks the local noise is measured in
MARKER_SEED_Z = 8.0  # numerals stand 10-30 noise sd above their surroundings
MARKER_GROW_Z = 3.0
MARKER_MARGIN = 6
CONTRAST_RANGE = (-8.0, 16.0)  # contrast (noise sd) the flaw detector sees; beyond: clipped
# robust normalisation: spots DARK_Z noise sd or more darker than their surroundings over
# DARK_MIN_AREA px or more (grown by DARK_GROW px) are left out of the noise, and of the
# median background where they fill more than DARK_SHARE of its window
DARK_Z = 3.0
DARK_MIN_AREA = 12
DARK_GROW = 2
DARK_SHARE = 0.1


def _top(pixels: np.ndarray) -> float:
    return 255.0 if pixels.dtype == np.uint8 else 65535.0


def smoothed(pixels: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """The image as float32 grey levels of its own type, smoothed by a Gaussian of ``sigma``."""
    g = pixels.astype(np.float32)
    return gaussian_filter(g, sigma) if sigma > 0 else g


def median_background(
    g: np.ndarray,
    top: float,
    size: int = MEDIAN_SIZE,
    ignore: np.ndarray | None = None,
    border: str = "symmetric",
) -> np.ndarray:
    """``size`` x ``size`` median of float grey levels ``g`` (0..top), exact to top/1022.

    (Quantised to 512 levels for 8-bit data, 4096 for deeper: a quarter of a grey level,
    far below any film's noise; the sliding histogram of :mod:`.window_median` takes ~0.1 s
    per megapixel.)

    ``border``: ``symmetric`` mirrors the image at its edges (scipy.ndimage's "reflect",
    the textbook's); ``odd`` continues it (2 x edge - mirror), so that a slope running into
    the edge, a bead's flank in a weld crop, is not mistaken for a dark spot there.

    A large image is filtered in bands of rows on the job's threads
    (:func:`weld_anomaly.threads.job_threads`; the filter releases the GIL), each band with
    the window's reach of rows beyond it: the same medians, bit for bit.
    """
    window_median.ahead(g.size)
    threads = min(job_threads(), g.shape[0] // (4 * size))
    if threads < 2 or g.size < BANDED_PIXELS:
        return _median_background(g, top, size, ignore, border)
    from concurrent.futures import ThreadPoolExecutor

    half = size // 2
    cuts = np.linspace(0, g.shape[0], threads + 1).round().astype(int)

    def band(rows: tuple[int, int]) -> np.ndarray:
        lo, hi = max(rows[0] - half, 0), min(rows[1] + half, g.shape[0])
        part = None if ignore is None else ignore[lo:hi]
        return _median_background(g[lo:hi], top, size, part, border)[rows[0] - lo : rows[1] - lo]

    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(band, zip(cuts[:-1], cuts[1:], strict=True))))


BANDED_PIXELS = 250_000  # images smaller than this are filtered in one piece


def _median_background(g, top, size, ignore, border) -> np.ndarray:
    levels = 511 if top <= 255 else 4095
    half = size // 2
    # padded borders: a filter alone would use a truncated, one-sided window there
    if border == "odd":
        padded = np.pad(g, half, mode="reflect", reflect_type="odd")
    elif border == "none":  # padded by the caller: the medians of its full windows only
        padded = g
    else:
        padded = np.pad(g, half, mode="symmetric")
    q = np.rint(np.clip(padded, 0, top) * (levels / top)).astype(np.uint16)
    # levels from the darkest: a shorter histogram (the same medians)
    low = int(q.min()) if q.size else 0
    q -= np.uint16(low)
    if ignore is not None:  # (padded as the image; by the caller with it where "none")
        ignore = ignore if border == "none" else np.pad(ignore, half, "symmetric")
    mask = None if ignore is None else (~ignore).astype(np.uint8)
    out = window_median.window_medians(q, size, mask).astype(np.float32) + np.float32(low)
    if mask is not None and low:  # a window without a pixel to count gives 0, as before
        out[_window_counts(mask, size) == 0] = 0.0
    return out * np.float32(top / levels)


def _window_counts(padded: np.ndarray, size: int) -> np.ndarray:
    """How many pixels of ``padded`` (padded by ``size // 2``) are non-zero in the ``size`` x
    ``size`` window around each pixel of the unpadded image (a summed-area table)."""
    table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), np.int64)
    np.cumsum(np.cumsum(padded, axis=0, dtype=np.int64), axis=1, out=table[1:, 1:])
    return table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]


def textbook_map(
    pixels: np.ndarray,
    size: int = MEDIAN_SIZE,
    sigma: float = 1.0,
    continued: np.ndarray | None = None,
    image: np.ndarray | None = None,
) -> np.ndarray:
    """``median(G) - G`` in grey levels of the image's type: positive where darker.

    ``continued``: the same median with the ``odd`` border (what :func:`normalize` computes
    first, :attr:`Normalized.median`), when at hand: the two differ only within ``size // 2``
    pixels of the edges, so only those bands are filtered again (the same numbers, a fifth
    of the work on a weld crop). ``image``: ``G`` itself (:attr:`Normalized.image`, smoothed
    by the same ``sigma``), when at hand.
    """
    g = smoothed(pixels, sigma) if image is None else image
    top, half = _top(pixels), size // 2
    if continued is None or min(g.shape) <= 4 * half:
        return median_background(g, top, size) - g
    median = continued.copy()
    # a band of ``half`` rows (columns) needs the ``2 * half`` nearest and the mirror
    # beyond the edge, not the rows past them: only those are filtered
    median[:half] = _edge_band(g[: 2 * half], top, size, ((half, 0), (half, half)))
    median[-half:] = _edge_band(g[-2 * half :], top, size, ((0, half), (half, half)))
    median[:, :half] = _edge_band(g[:, : 2 * half], top, size, ((half, half), (half, 0)))
    median[:, -half:] = _edge_band(g[:, -2 * half :], top, size, ((half, half), (0, half)))
    return median - g


def _edge_band(g: np.ndarray, top: float, size: int, pads) -> np.ndarray:
    """The symmetric-border median of ``g`` mirrored by ``pads``, where its windows are
    full: ``g``'s pixels less ``size // 2`` rows (columns) on each side not padded."""
    window_median.ahead(g.size)
    return _median_background(np.pad(g, pads, mode="symmetric"), top, size, None, "none")


def _clipped_sd(values: np.ndarray) -> float:
    """Standard deviation after clipping at 3 sd, iterated (docs/real-films.md's definition)."""
    v = values[np.isfinite(values)]
    if v.size < 16:
        return 1.0
    centre, sd = float(np.median(v)), 1.4826 * float(np.median(np.abs(v - np.median(v))))
    for _ in range(5):
        keep = np.abs(v - centre) <= 3 * max(sd, 1e-6)
        centre, sd = float(v[keep].mean()), float(v[keep].std())
    return max(sd, 1e-3)


def _block_mad(blocks: np.ndarray, full: np.ndarray) -> np.ndarray:
    """The median absolute deviation of each block's pixels (NaN: left out). Blocks without
    NaN (``full``: nearly all) go through one vectorised median; ``np.nanmedian`` alone
    would sort block by block in Python whenever any NaN exists."""
    out = np.empty(blocks.shape[:2], dtype=blocks.dtype)
    whole = blocks[full]
    centre = np.median(whole, axis=1, keepdims=True)
    out[full] = np.median(np.abs(whole - centre), axis=1)
    rest = blocks[~full]
    if len(rest):
        centre = np.nanmedian(rest, axis=1, keepdims=True)
        out[~full] = np.nanmedian(np.abs(rest - centre), axis=1)
    return out


def _nanmedian3(grid: np.ndarray) -> np.ndarray:
    """The NaN-ignoring median of each cell's 3 x 3 neighbourhood (edges repeated): what
    ``ndimage.generic_filter(grid, np.nanmedian, 3, mode="nearest")`` gives, vectorised."""
    h, w = grid.shape
    padded = np.pad(grid, 1, mode="edge")
    stack = np.stack([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    return np.nanmedian(stack, axis=0)


def noise_map(residual: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """The local noise sd of a residual map (image - median), robust, in its units.

    The median absolute deviation in blocks of ``NOISE_BLOCK`` px (a flaw, a cluster of
    pores or a crack covers much less than half a block, so it does not inflate it),
    smoothed over neighbouring blocks, interpolated between block centres. Blocks with too
    few valid pixels take the image's value.
    """
    return BlockNoise(residual, valid).map()


class BlockNoise:
    """The blocks' noise behind :func:`noise_map`, measured again only where it changes.

    The normalisation measures the noise up to four times, each time with a few more
    pixels left out (dark spots, markers) or a few medians recomputed: :meth:`update`
    measures again only the blocks where the valid pixels or their values differ (the
    same numbers as measuring all of them: each block's median is its own).
    """

    def __init__(self, residual: np.ndarray, valid: np.ndarray | None = None):
        self.residual = residual
        self.valid = np.ones(residual.shape, bool) if valid is None else valid
        b = NOISE_BLOCK
        h, w = residual.shape
        ny, nx = -(-h // b), -(-w // b)
        padded = np.full((ny * b, nx * b), np.nan, dtype=np.float32)
        padded[:h, :w] = np.where(self.valid, residual, np.nan)
        blocks = padded.reshape(ny, b, nx, b).transpose(0, 2, 1, 3).reshape(ny, nx, b * b)
        self.counts = np.isfinite(blocks).sum(axis=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: filled in map
            self.mad = 1.4826 * _block_mad(blocks, self.counts == b * b)

    def update(self, residual: np.ndarray, valid: np.ndarray) -> BlockNoise:
        """The noise of ``residual`` over ``valid``, measured again where they changed."""
        changed = (valid != self.valid) | (valid & (residual != self.residual))
        b = NOISE_BLOCK
        ny, nx = self.counts.shape
        h, w = residual.shape
        cells = np.zeros((ny * b, nx * b), bool)
        cells[:h, :w] = changed
        cells = cells.reshape(ny, b, nx, b).any(axis=(1, 3))
        out = object.__new__(BlockNoise)
        out.residual, out.valid = residual, valid
        out.counts, out.mad = self.counts.copy(), self.mad.copy()
        where = np.argwhere(cells)
        if len(where):
            blocks = np.full((len(where), b * b), np.nan, dtype=np.float32)
            for row, (cy, cx) in zip(blocks, where, strict=True):
                part = (slice(cy * b, (cy + 1) * b), slice(cx * b, (cx + 1) * b))
                values = np.where(valid[part], residual[part], np.nan)
                row.reshape(b, b)[: values.shape[0], : values.shape[1]] = values
            counts = np.isfinite(blocks).sum(axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mad = 1.4826 * _block_mad(blocks[None], (counts == b * b)[None])[0]
            out.counts[cells], out.mad[cells] = counts, mad
        return out

    def map(self) -> np.ndarray:
        """The noise sd at every pixel: the blocks' values smoothed and interpolated."""
        b = NOISE_BLOCK
        h, w = self.residual.shape
        ny, nx = self.counts.shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: filled below
            grid = np.where(self.counts >= b * b // 8, self.mad, np.nan)
            grid = _nanmedian3(grid)
        usable = np.isfinite(grid) & (grid > 0)
        if not usable.all():  # (the clipped sd of millions of pixels: only when it is needed)
            valid = self.valid
            fill = _clipped_sd(self.residual[valid]) if valid.any() else 1.0
            grid = np.where(usable, grid, fill)
        # bilinear between block centres, the edges held (map_coordinates' order 1,
        # "nearest"), as two small matrix products: rows, then columns
        along_y, along_x = _linear_weights(h, ny, b), _linear_weights(w, nx, b)
        return (along_y @ grid.astype(np.float32)) @ along_x.T


def _linear_weights(n: int, cells: int, block: int) -> np.ndarray:
    """``(n, cells)`` weights that interpolate linearly between the centres of ``cells``
    blocks of ``block`` pixels at each of ``n`` pixel centres (constant beyond the ends)."""
    at = np.clip((np.arange(n, dtype=np.float64) + 0.5) / block - 0.5, 0, cells - 1)
    low = np.minimum(np.floor(at).astype(np.int64), max(cells - 2, 0))
    frac = at - low
    out = np.zeros((n, cells), np.float32)
    out[np.arange(n), low] = 1.0 - frac
    if cells > 1:
        out[np.arange(n), low + 1] += frac
    return out


def edge_strips(g: np.ndarray, depth: int = 64) -> np.ndarray:
    """Strips along the image's edges that scanning left darker (or brighter).

    A strip ends in a step: the median profile across the edge changes by more than 3 grey
    levels (of 255) per pixel within ``depth`` px of it (a bead's flank or a dark band
    beside it changes at most ~2 per pixel, a strip's edge 5-20), and beyond the step the
    film levels off (a steep bead flank running into the edge of a narrow weld crop keeps
    climbing). The strip and 4 px more are left out. (No noise threshold: the profile is a
    quartile of thousands of pixels.)
    """
    h, w = g.shape
    mask = np.zeros(g.shape, bool)
    threshold = 3.0 * _top_of(g) / 255.0
    for axis, flip in ((1, False), (1, True), (0, False), (0, True)):
        length = w if axis == 1 else h
        if length < 4 * depth:
            continue
        # one value per column (axis 1) or row, of the 2 * depth nearest the edge; the lower
        # quartile ignores bright lettering
        near = slice(length - 2 * depth, length) if flip else slice(0, 2 * depth)
        profile = np.percentile(g[:, near] if axis == 1 else g[near], 25, axis=1 - axis)
        profile = ndimage.gaussian_filter1d(profile[::-1] if flip else profile, 1)
        steps = np.abs(np.gradient(profile))[:depth]
        edges = np.nonzero(steps > threshold)[0]
        if not len(edges):
            continue
        edge = int(edges.max())
        depth_of_strip = abs(float(profile[edge + 3] - profile[0]))
        after = profile[edge + 3 : edge + 23]
        if float(np.ptp(after)) > 0.5 * depth_of_strip:  # still climbing: a bead's flank
            continue
        width = edge + 1 + 4
        index = slice(length - width, length) if flip else slice(0, width)
        if axis == 1:
            mask[:, index] = True
        else:
            mask[index, :] = True
    return mask


def _top_of(g: np.ndarray) -> float:
    return 255.0 if float(g.max()) <= 255.0 else 65535.0


def unexposed(g: np.ndarray, top: float) -> np.ndarray:
    """Nearly black areas (direct exposure beside a pipe) and a margin of the median's reach."""
    level = 6.0 * top / 255.0
    if g.size and float(g.min()) > level * 1.001:  # a smoothed image is never darker
        return np.zeros(g.shape, bool)
    dark = gaussian_filter(g, 4) < level
    if not dark.any():
        return dark
    big = _large_parts(dark, 0.02 * g.size)
    return ndimage.binary_dilation(big, iterations=MEDIAN_SIZE // 2) if big.any() else big


def bright_markers(contrast_z: np.ndarray) -> np.ndarray:
    """Lead numerals, IQI labels and wires: much brighter than their surroundings.

    Seeds stand ``MARKER_SEED_Z`` noise sd above the median background (smoothed by 1.5 px,
    so grain alone never does), grown while they stay ``MARKER_GROW_Z`` above, plus a
    margin. A bead is smooth and wide: the median follows it and it never gets there.
    """
    bright = gaussian_filter(-contrast_z, 1.5)
    seeds = bright > MARKER_SEED_Z / 2  # smoothing by 1.5 px halves the grain's sd
    if not seeds.any():
        return seeds
    grown = ndimage.binary_propagation(seeds, mask=bright > MARKER_GROW_Z / 2)
    # (the counters of letters stay scored: the median is recomputed without the strokes,
    # so they are not darker than their surroundings; a pore inside one would still show)
    return ndimage.binary_dilation(grown, iterations=MARKER_MARGIN)


@dataclass
class Normalized:
    """A crop on the one grey scale; see the module's docstring."""

    contrast: np.ndarray  # (median - G) / local noise: noise sd darker than the surroundings
    difference: np.ndarray  # median(G) - G, grey levels (continued borders, markers out)
    noise: np.ndarray  # local noise sd of ``difference``, grey levels
    markers: np.ndarray  # bool: bright markers and their margin
    excluded: np.ndarray  # bool: edge strips and unexposed areas
    median: np.ndarray | None = None  # median(G), continued borders, markers in (grey levels)
    image: np.ndarray | None = None  # G: the crop smoothed (float32 grey levels)

    @property
    def ignored(self) -> np.ndarray:
        """Pixels no scorer counts: markers, edge strips, unexposed areas."""
        return self.markers | self.excluded


def _without_markers(g, background, markers, top: float, size: int, ignore=None) -> np.ndarray:
    """The median background recomputed near the markers with their pixels replaced by the
    background, so that a bright numeral does not raise the median around it (``ignore``:
    the pixels left out of those medians, the markers by default)."""
    ignore = markers if ignore is None else ignore
    out = background.copy()
    reach = size  # the median of a pixel within ``size // 2`` of a marker sees it
    labels, _ = ndimage.label(ndimage.binary_dilation(markers, iterations=reach // 2 + 1))
    for region in ndimage.find_objects(labels):
        ys, xs = region
        y0, y1 = max(ys.start - reach, 0), min(ys.stop + reach, g.shape[0])
        x0, x1 = max(xs.start - reach, 0), min(xs.stop + reach, g.shape[1])
        local = median_background(g[y0:y1, x0:x1], top, size, ignore[y0:y1, x0:x1], border="odd")
        out[ys, xs] = local[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    return out


def _large_parts(mask: np.ndarray, min_area: float) -> np.ndarray:
    """The connected parts of ``mask`` (4-connected) of at least ``min_area`` pixels."""
    labels, count = ndimage.label(mask)
    # on the labelled pixels only (a few per thousand: dark spots, not the whole image)
    where = np.flatnonzero(mask)
    part = labels.ravel()[where]
    keep = np.bincount(part, minlength=count + 1) >= min_area
    out = np.zeros(mask.shape, bool)
    out.ravel()[where[keep[part]]] = True
    return out


def dark_spots(contrast_z: np.ndarray) -> np.ndarray:
    """Spots that stand ``DARK_Z`` noise sd or more below their surroundings over at least
    ``DARK_MIN_AREA`` pixels (what a flaw is; grain alone seldom is), grown by
    ``DARK_GROW`` px: left out of the background and the noise where flaws are dense."""
    dark = contrast_z > DARK_Z
    if not dark.any():
        return dark
    dark = _large_parts(dark, DARK_MIN_AREA)
    return ndimage.binary_dilation(dark, iterations=DARK_GROW) if dark.any() else dark


def _crowded(dark: np.ndarray, size: int) -> np.ndarray:
    """Where dark spots fill more than ``DARK_SHARE`` of the ``size`` x ``size`` window
    (``uniform_filter``'s mean over mirrored borders, exactly), counted only where a
    window can hold that many: a window meets at most 2 x 2 blocks of its own size, so
    the blocks' counts bound the windows' (on sound weld no window comes near)."""
    half, limit = size // 2, DARK_SHARE * size * size  # (a count, never equal to it)
    h, w = dark.shape
    padded = np.pad(dark, half, mode="symmetric")  # scipy.ndimage's "reflect"
    blocks = np.add.reduceat(padded, np.arange(0, padded.shape[0], size), 0, dtype=np.int32)
    blocks = np.pad(np.add.reduceat(blocks, np.arange(0, padded.shape[1], size), 1), (0, 1))
    groups = blocks[:-1, :-1] + blocks[1:, :-1] + blocks[:-1, 1:] + blocks[1:, 1:]
    out = np.zeros(dark.shape, bool)
    # the windows of the pixels of block (i, j) lie in blocks i, i + 1 and j, j + 1 of the
    # padded image (a pixel's window starts at its own index there)
    for i, j in np.argwhere(groups[: -(-h // size), : -(-w // size)] > limit):
        y, x = i * size, j * size
        rows, cols = min(size, h - y), min(size, w - x)
        part = padded[y : y + rows + size - 1, x : x + cols + size - 1]
        out[y : y + rows, x : x + cols] = _window_counts(part, size) > limit
    return out


def _median_without(g, background, ignore, where, top: float, size: int) -> np.ndarray:
    """``background`` with the median recomputed at the ``where`` pixels, ``ignore`` pixels
    left out of it (each connected part of ``where`` in its box, with the window's reach)."""
    out = background.copy()
    half = size // 2
    labels, _ = ndimage.label(where)
    for label, region in enumerate(ndimage.find_objects(labels), start=1):
        ys, xs = region
        y0, y1 = max(ys.start - half, 0), min(ys.stop + half, g.shape[0])
        x0, x1 = max(xs.start - half, 0), min(xs.stop + half, g.shape[1])
        local = median_background(g[y0:y1, x0:x1], top, size, ignore[y0:y1, x0:x1], border="odd")
        part = labels[ys, xs] == label
        inner = local[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        out[ys, xs][part] = inner[part]
    return out


def normalize(
    pixels: np.ndarray, size: int = MEDIAN_SIZE, sigma: float = 1.0, robust: bool = True
) -> Normalized:
    """The crop's contrast in noise units, with what to leave out of the scores.

    The noise unit is the local robust sd of the difference map itself, so that ``contrast``
    is about N(0, 1) on sound weld whatever the grain, the scanner or the window. Unlike the
    textbook map, the median here continues the image beyond its border (no false alarm
    where a bead's flank meets a crop's edge) and leaves the markers out.

    ``robust``: the background and the noise are measured on the sound part of the crop
    only: dark spots (:func:`dark_spots`) are left out of both, twice (the second time with
    the noise the first gave), so that where flaws are dense (a weld riddled with porosity)
    they do not darken the background or inflate the noise and hide themselves. Off: the
    release of 2026-12-04's normalisation (measured on real films).
    """
    top = _top(pixels)
    g = smoothed(pixels, sigma)
    background = median_background(g, top, size, border="odd")
    difference = background - g
    excluded = edge_strips(g) | unexposed(g, top)
    blocks = BlockNoise(difference, ~excluded)
    noise = blocks.map()
    dark = np.zeros(g.shape, bool)
    # first the flaws: where they crowd, they pull the median down, so that the sound weld
    # between them looks bright (like a marker) and the flaws look shallower than they are
    median = background
    for _ in range(2 if robust else 0):
        dark = dark_spots(difference / noise) & ~excluded
        if not dark.any():
            break
        crowded = _crowded(dark, size)
        if crowded.any():  # where flaws fill the median's window: the median without them
            median = _median_without(g, background, dark, crowded, top, size)
            difference = median - g
        blocks = blocks.update(difference, ~(excluded | dark))
        noise = blocks.map()
    markers = bright_markers(difference / noise) & ~excluded
    if markers.any():  # the median again without the markers: no dark halo around them
        # (dark spots within the median's reach of a marker may be that halo: kept in)
        dark &= ~ndimage.maximum_filter(markers, size)
        difference = _without_markers(g, median, markers, top, size, markers | dark) - g
        blocks = blocks.update(difference, ~(excluded | markers | dark))  # markers inflate it
        noise = blocks.map()
    contrast = np.where(excluded | markers, 0.0, difference / noise).astype(np.float32)
    difference = difference.astype(np.float32)
    return Normalized(contrast, difference, noise, markers, excluded, background, g)
