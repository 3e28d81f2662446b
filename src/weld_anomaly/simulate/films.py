"""Synthetic weld radiographs that look like real digitised weld films.

Every figure here comes from ``docs/real-films.md`` (measured on real films kept
for independent evaluation; p10 / p50 / p90 over films). Three kinds of image:

- ``film``: a whole film, landscape, the weld along the long side, tilted (|tilt| 0.26 /
  0.95 / 4.2 deg) and sometimes arc-shaped; a near-Gaussian bead (FWHM 142 / 272 / 454 px,
  varying along the weld) 36 / 88 / 179 grey above base metal (21 / 50 / 107), its contrast
  drifting slowly; dark bands beside it at 0.75-1 FWHM; base metal that differs between the
  two sides and drifts along the film, sometimes vignetted; darker strips at the edges
  (left on most films, 6 / 12 / 16 px, 24 / 38 / 64 grey darker; top, bottom, right on
  fewer); a broadband ripple on the bead (spectrum f^-2.1); grain of sd 2.2 / 3.2 / 4.2
  grey, correlated over 0.87 px along the weld and 1.2 px across, with the measured noise
  power spectrum; vertical scanner streaks; isolated specks; rows of lead numerals as bright
  as the bead; wire IQI labels.
- ``pipe``: a double-wall pipe exposure: a horizontal pipe band with bright wall lines,
  nearly black direct exposure outside, the weld an elliptical ring across the band.
- ``crop``: a crop of the weld region of another film: the bead fills most of the height,
  half the films' noise (1.45 grey), a 2.5x coarser grain (smoothed when re-digitised).

Styles (``STYLES``) give the harder cases a weld finder meets, drawn only when asked for (the
default style, ``""``, is what the demo uses): films whose bead is wide (FWHM 28-36 % of the
height, the bright bead 35-50 %) with rows of lettering above and below it (``wide``);
rough beads whose width changes locally and whose centre wanders off a smooth curve
(``rough``); pipe films whose ring's two arcs merge into one band (``flat``), whose pipe
band fills nearly all the height (``tall``), or whose faint ring sits off the film's middle
(``offset``).

Sizes are the configuration's (real films are ~1300 x 5000 px; the demo uses shorter
sections of weld to stay quick); pixel-scale figures (bead width, grain, flaws, markers)
are the real ones, scaled down only when an image is too small for them (the tiny test
run). Grey levels are 8-bit film grey levels (0-255, bright = more metal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import fft, ndimage

from weld_anomaly.simulate.flaws import (
    DENSE_EVENTS,
    EVENTS,
    Flaw,
    FlawPainter,
    WeldLine,
    _lognormal,
)

KINDS = ("film", "pipe", "crop")
STYLES = {"film": ("", "wide", "rough"), "pipe": ("", "flat", "tall", "offset"), "crop": ("",)}
# the median noise sd of real films and of real weld crops (grey levels): the flaws'
# contrast-to-noise figures were measured on crops, and a flaw's grey-level contrast
# follows its kind of image, not the grain of the one film it is on
TYPICAL_NOISE = {"film": 3.2, "pipe": 3.2, "crop": 1.45}

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
    "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    "B": ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
    "I": ["01110", "00100", "00100", "00100", "00100", "00100", "01110"],
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "W": ["10001", "10001", "10001", "10101", "10101", "10101", "01010"],
    "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
}


@dataclass
class Radiograph:
    """A rendered radiograph: 8-bit grey levels (float), its flaws and what is true of it."""

    grey: np.ndarray
    kind: str
    flaws: list[Flaw] = field(default_factory=list)
    defect_mask: np.ndarray | None = None
    weld_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    noise_sd: float = 0.0
    tilt_deg: float = 0.0
    sag_px: float = 0.0
    fwhm_px: float = 0.0
    weld: WeldLine | None = None  # the bead's centre and width along the image
    markers: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, w, h

    def weld_region(self) -> np.ndarray:
        """The true weld region: within one FWHM of the bead's centre (the toes and the
        bands beside them); a pipe film's ring box; all of a weld crop."""
        h, w = self.grey.shape
        region = np.zeros((h, w), dtype=bool)
        if self.kind == "crop" or self.weld is None:
            region[:] = True
        elif self.kind == "pipe":
            x, y, bw, bh = self.weld_box
            region[y : y + bh, x : x + bw] = True
        else:
            rows = np.arange(h)[:, None]
            region = np.abs(rows - self.weld.centre[None, :]) <= self.weld.fwhm[None, :]
        return region


def grain(rng: np.random.Generator, shape: tuple[int, int], coarse: bool = False) -> np.ndarray:
    """Unit-variance film grain with the real films' noise power spectrum.

    Power ∝ f^-0.6 over 0.03-0.15 cycles/px and ∝ f^-2.1 above (the scanner's roll-off),
    correlated over 0.87 px along the rows and 1.2 px down the columns (HWHM);
    ``coarse``: smoothed to the weld crops' 2.6 px.
    """
    h, w = shape
    fy = fft.fftfreq(h)[:, None].astype(np.float32)
    fx = fft.rfftfreq(w)[None, :].astype(np.float32)
    f = np.maximum(np.sqrt((0.8 * fx) ** 2 + (1.2 * fy) ** 2), 0.03)
    power = np.where(f < 0.15, (f / 0.15) ** -0.6, (f / 0.15) ** -2.1)
    white = rng.standard_normal(shape, dtype=np.float32)
    out = fft.irfft2(fft.rfft2(white) * np.sqrt(power), shape).astype(np.float32)
    if coarse:
        out = ndimage.gaussian_filter(out, 1.25)
    return out / out.std()


def _smooth_series(rng: np.random.Generator, n: int, length: float) -> np.ndarray:
    """A slowly varying zero-mean unit-sd series of ``n`` values, correlated over ``length``."""
    pad = int(3 * length)
    raw = ndimage.gaussian_filter1d(rng.standard_normal(n + 2 * pad), length / 2.5)
    raw = raw[pad : pad + n]
    return (raw - raw.mean()) / max(raw.std(), 1e-9)


def _ripple(rng, shape, weld_dist: np.ndarray, fwhm: float, amplitude: float) -> np.ndarray:
    """A faint broadband mottled texture on the bead: spectrum ∝ f^-2.1 over 8-250 px,
    blobs about twice as long across the weld as along it."""
    h, w = shape
    fx = fft.rfftfreq(w)[None, :]
    fy = fft.fftfreq(h)[:, None]
    f = np.sqrt(fx**2 + (2 * fy) ** 2)
    band = (f >= 1 / 250) & (f <= 1 / 8)
    spectrum = np.where(band, np.maximum(f, 1e-6) ** -1.05, 0.0)
    field_ = fft.irfft2(fft.rfft2(rng.standard_normal(shape)) * spectrum, shape)
    field_ /= max(field_.std(), 1e-9)
    on_bead = np.exp(-0.5 * (weld_dist / (0.45 * fwhm)) ** 2)
    return (amplitude * field_ * on_bead).astype(np.float32)


def _text_mask(text: str, height: int) -> np.ndarray:
    """Block letters ``height`` px tall with strokes 1/7 of it, slightly blurred edges."""
    cell = max(height // 7, 1)
    glyphs = [np.array([[c == "1" for c in row] for row in _GLYPHS[ch]]) for ch in text]
    gap = np.zeros((7, 1), dtype=bool)
    parts: list[np.ndarray] = []
    for glyph in glyphs:
        parts += [glyph, gap]
    mask = np.kron(np.concatenate(parts[:-1], axis=1), np.ones((cell, cell)))
    return ndimage.gaussian_filter(mask.astype(np.float32), 0.8)


def _paste(target: np.ndarray, patch: np.ndarray, y: int, x: int, value: float):
    """Add ``value * patch`` at (y, x); the box it covers (x, y, w, h) or None."""
    h, w = patch.shape
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + h, target.shape[0]), min(x + w, target.shape[1])
    if y1 > y0 and x1 > x0:
        target[y0:y1, x0:x1] += value * patch[y0 - y : y1 - y, x0 - x : x1 - x]
        return (x0, y0, x1 - x0, y1 - y0)
    return None


class FilmRenderer:
    """Renders one radiograph of a kind; all randomness from one seeded generator."""

    def __init__(
        self, rng: np.random.Generator, kind: str, height: int, width: int, style: str = ""
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown radiograph kind {kind!r}")
        if style not in STYLES[kind]:
            raise ValueError(f"unknown style {style!r} of {kind!r} radiographs")
        self.rng, self.kind, self.h, self.w, self.style = rng, kind, height, width, style
        self.marker_boxes: list[tuple[int, int, int, int]] = []
        self.scale = min(1.0, height / 1000) if kind == "film" else min(1.0, height / 480)
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)

    # -- geometry ---------------------------------------------------------------------
    def weld_line(self) -> tuple[WeldLine, float, float]:
        """The weld's centre and width along the film; its tilt (deg) and sag (px)."""
        rng, h, w = self.rng, self.h, self.w
        x = np.arange(w, dtype=np.float64) - w / 2
        if self.kind == "crop":
            tilt, sag = rng.normal(0, 0.15), rng.normal(0, 4)
            fwhm = rng.uniform(0.55, 0.75) * h
        else:
            tilt = _lognormal(rng, 0.95, 0.26, 4.2) * (1 if rng.random() < 0.5 else -1)
            tilt = float(np.clip(tilt, -6, 6))
            sag = _lognormal(rng, 27, 2, 518) * (w / 4984) ** 2 * (1 if rng.random() < 0.5 else -1)
            fwhm = float(np.clip(_lognormal(rng, 272, 142, 454) * self.scale, 40, 0.45 * h))
            if self.style == "wide":
                fwhm = rng.uniform(0.28, 0.36) * h
        # keep the whole bead on the film: limit tilt and sag to what the height allows
        room = max(h / 2 - 1.2 * fwhm - 20, 0)
        swing = abs(math.tan(math.radians(tilt))) * w / 2 + abs(sag)
        if swing > room:
            factor = room / swing
            tilt = math.degrees(math.atan(math.tan(math.radians(tilt)) * factor))
            sag *= factor
        centre = h / 2 + math.tan(math.radians(tilt)) * x + sag * (1 - (2 * x / w) ** 2)
        centre += rng.uniform(-0.5, 0.5) * max(room - swing, 0)
        cv = float(np.clip(_lognormal(rng, 0.22, 0.03, 0.43), 0.02, 0.45)) * 0.35
        if self.kind == "crop" or self.style == "wide":
            cv *= 0.3
        widths = fwhm * np.clip(1 + cv * _smooth_series(rng, w, 600), 0.6, 1.5)
        if self.style == "rough":  # the width changes locally; the centre wanders off a curve
            cv = rng.uniform(0.25, 0.45)
            widths = fwhm * np.clip(1 + cv * _smooth_series(rng, w, 400), 0.5, 1.8)
            centre = centre + rng.uniform(0.1, 0.25) * fwhm * _smooth_series(rng, w, 700)
        return WeldLine(centre.astype(np.float32), widths.astype(np.float32)), tilt, sag

    def distance(self, weld: WeldLine) -> np.ndarray:
        """Signed distance of every pixel from the weld's centre line, across the weld."""
        slope = np.gradient(weld.centre)
        return ((self.yy - weld.centre[None, :]) / np.sqrt(1 + slope**2)[None, :]).astype(
            np.float32
        )

    # -- layers ---------------------------------------------------------------------
    def levels(self) -> tuple[float, float]:
        """Base metal and crest grey levels (films: 21 / 50 / 107 and 107 / 166 / 213)."""
        rng = self.rng
        if self.kind == "crop":  # real crops: 1st percentile 6 / 22 / 37, 99th 168 / 185 / 238
            base = rng.uniform(12, 38)
            return base, min(base + rng.uniform(95, 140), 215.0)
        base = float(np.clip(_lognormal(rng, 50, 21, 107), 15, 110))
        crest = float(np.clip(_lognormal(rng, 166, 107, 213), base + 30, 225))
        return base, crest

    def base_metal(self, dist: np.ndarray, level: float, crest: float) -> np.ndarray:
        rng, w = self.rng, self.w
        step = _lognormal(rng, 13, 5, 35) * (1 if rng.random() < 0.5 else -1)
        step = float(np.clip(step, -0.6 * level, 0.6 * level))
        drift = min(_lognormal(rng, 34, 17, 92) * 0.5, 0.5 * level)
        along = drift * np.clip(_smooth_series(rng, w, 900), -1.5, 1.5)[None, :]
        base = np.maximum(level + along + 0.5 * step * np.tanh(dist / 60.0), 12.0)
        if self.kind == "film" and rng.random() < 0.15:  # vignetting: one end much brighter
            end = 1 if rng.random() < 0.5 else -1
            lift = rng.uniform(0.4, 0.9) * (235 - crest)
            base += lift * np.clip(end * (self.xx / w - 0.5) * 2, 0, 1) ** 3
        return base.astype(np.float32)

    def bead(self, dist: np.ndarray, weld: WeldLine, level: float, crest: float) -> np.ndarray:
        """The bead: a near-Gaussian crest whose contrast drifts slowly along the weld, and
        darker bands beside it (toe, undercut, bevel) on most sides."""
        rng, w = self.rng, self.w
        contrast = crest - level
        cv = float(np.clip(_lognormal(rng, 0.18, 0.05, 0.49), 0.03, 0.5)) * 0.6
        along = contrast * np.clip(1 + cv * _smooth_series(rng, w, 450), 0.6, 1.3)
        s = (weld.fwhm / 2.3548)[None, :]
        profile = np.exp(-0.5 * (dist / s) ** 2)
        bands = np.zeros_like(dist)
        for side in (-1, 1):
            depth = min(rng.uniform(0.1, 0.3), 0.6 * level / contrast) if rng.random() < 0.8 else 0
            centre = rng.uniform(0.75, 1.0) * weld.fwhm[None, :] * side
            bands += depth * np.exp(-0.5 * ((dist - centre) / (0.09 * weld.fwhm[None, :])) ** 2)
        return (along[None, :] * (profile - bands)).astype(np.float32)

    def edge_strips(self, grey: np.ndarray) -> None:
        """Darker strips along the film's edges (left on most films)."""
        rng = self.rng
        for side, chance, widths in (
            ("left", 0.69, (6, 12, 16)),
            ("top", 0.37, (9, 28, 58)),
            ("bottom", 0.15, (6, 15, 30)),
            ("right", 0.11, (6, 12, 16)),
        ):
            if rng.random() >= chance:
                continue
            width = int(np.clip(_lognormal(rng, widths[1], widths[0], widths[2]), 3, 80))
            dark = float(np.clip(_lognormal(rng, 38, 24, 64), 10, 90))
            ramp = np.clip(1 - np.arange(width + 6) / width, 0, 1) ** 0.3
            ramp[width:] = 0
            n = width + 6
            region = {
                "left": np.s_[:, :n],
                "right": np.s_[:, -n:],
                "top": np.s_[:n, :],
                "bottom": np.s_[-n:, :],
            }[side]
            shape = {
                "left": ramp[None, :],
                "right": ramp[::-1][None, :],
                "top": ramp[:, None],
                "bottom": ramp[::-1][:, None],
            }[side]
            grey[region] -= np.minimum(dark * shape, np.maximum(grey[region] - 8, 0))

    def markers(self, grey: np.ndarray, weld: WeldLine, crest: float) -> None:
        """A row of lead numerals along the top or bottom edge (as bright as the crest),
        sometimes on the bead, and a wire IQI's label with its faint wires."""
        rng, h, w = self.rng, self.h, self.w
        boxes = self.marker_boxes
        n = int(np.clip(round(_lognormal(rng, 8, 3, 15) * w / 4984), 1, 15))
        height = int(np.clip(_lognormal(rng, 96, 44, 192) * self.scale, 14, 0.3 * h))
        text = "".join(rng.choice(list("0123456789AB-"), n))
        mask = _text_mask(text, height)
        bright = crest * float(np.clip(_lognormal(rng, 1.01, 0.56, 2.09), 0.4, 2.2))
        top = rng.random() < 0.5
        y = int(rng.integers(8, 40)) if top else h - mask.shape[0] - int(rng.integers(8, 40))
        x = int(rng.integers(20, max(w - mask.shape[1] - 20, 21)))
        if self.style == "wide":  # rows of lettering above and below a wide bead
            for row_top in (True, False):
                row = _text_mask(text, int(rng.uniform(0.04, 0.06) * h))
                yr = int(rng.integers(6, 12))
                yr = yr if row_top else h - row.shape[0] - yr
                boxes.append(_paste(grey, row, yr, int(rng.integers(20, w // 3)), bright))
            return
        boxes.append(_paste(grey, mask, y, x, bright))
        if rng.random() < 0.2:  # a numeral on the bead itself
            small = _text_mask(str(rng.integers(1, 99)), max(height // 2, 14))
            xc = int(rng.integers(40, w - 40 - small.shape[1]))
            yc = int(weld.centre[xc]) - small.shape[0] // 2
            boxes.append(_paste(grey, small, yc, xc, 0.6 * bright))
        if rng.random() < 0.68:  # wire IQI: the label clear, the wires barely visible
            label = _text_mask("10ISO16", max(height // 2, 14))
            xi = int(rng.integers(20, max(w - label.shape[1] - 100, 21)))
            yi = 10 if not top else h - label.shape[0] - 10
            boxes.append(_paste(grey, label, yi, xi, 0.8 * bright))
            for i, radius in enumerate([1.6, 1.25, 1.0, 0.8, 0.63, 0.5, 0.4]):
                cx = xi + 20 + 12 * i
                wire = np.clip(1 - ((self.xx[0] - cx) / radius) ** 2, 0, None) ** 0.5
                y0 = int(np.clip(weld.centre[min(cx, w - 1)] - weld.fwhm[0], 0, h))
                y1 = int(np.clip(weld.centre[min(cx, w - 1)] + weld.fwhm[0], 0, h))
                grey[y0:y1, :] += 1.5 * radius * wire[None, :]

    def streaks_and_specks(self, grey: np.ndarray, noise_sd: float) -> None:
        rng, h, w = self.rng, self.h, self.w
        for _ in range(int(rng.poisson(2.0 * w / 4984 * 2))):
            x = int(rng.integers(0, w))
            width = int(np.clip(_lognormal(rng, 2, 1, 8), 1, 10))
            grey[:, x : x + width] += rng.choice([-1, 1]) * _lognormal(rng, 1.8, 1.2, 3.0)
        if rng.random() < 0.18:
            y = int(rng.integers(0, h))
            grey[y : y + int(rng.integers(1, 4)), :] += rng.choice([-1, 1]) * rng.uniform(1, 3)
        megapixels = h * w / 1e6
        for bright in (True, False):
            for _ in range(int(rng.poisson((10 if bright else 8) * megapixels))):
                y, x = int(rng.integers(2, h - 2)), int(rng.integers(2, w - 2))
                r = int(rng.integers(1, 3))
                sign = 1 if bright else -1
                grey[y - r + 1 : y + r, x - r + 1 : x + r] += sign * rng.uniform(8, 14) * noise_sd

    def pipe(self, grey: np.ndarray) -> WeldLine:
        """A double-wall pipe: band, bright walls, black outside, an elliptical weld ring."""
        rng, h, w = self.rng, self.h, self.w
        top, bottom = rng.uniform(0.12, 0.2) * h, rng.uniform(0.8, 0.88) * h
        if self.style == "tall":  # the pipe band fills nearly all the height
            top, bottom = rng.uniform(0.02, 0.05) * h, rng.uniform(0.95, 0.98) * h
        inside = ((self.yy > top) & (self.yy < bottom)).astype(np.float32)
        rel = (self.yy - top) / (bottom - top)  # 0 .. 1 across the pipe
        wall = np.exp(-0.5 * (np.minimum(rel, 1 - rel) * (bottom - top) / 12) ** 2)
        grey[:] = 2 + inside * (40 + 60 * np.abs(rel - 0.5) * 2 + 50 * wall)
        self.quiet = 1 - 0.7 * (1 - inside)  # direct exposure: black, little grain
        cx, cy = w / 2, (top + bottom) / 2
        a, b = rng.uniform(0.3, 0.42) * w, rng.uniform(0.25, 0.38) * (bottom - top)
        width = rng.uniform(70, 140) * self.scale
        if self.style == "flat":  # the two arcs merge into one band
            b = rng.uniform(0.03, 0.08) * (bottom - top)
        if self.style == "offset":  # a faint ring off the film's middle
            cx += rng.choice([-1, 1]) * rng.uniform(0.05, 0.1) * w
            a = rng.uniform(0.3, 0.36) * w
        radial = np.sqrt(((self.xx - cx) / a) ** 2 + ((self.yy - cy) / b) ** 2)
        ring = np.exp(-0.5 * ((radial - 1) * min(a, b) / (width / 2.3548)) ** 2)
        contrast = float(np.clip(_lognormal(rng, 147, 63, 189), 60, 200))
        if self.style == "offset":
            contrast = rng.uniform(60, 80)
        grey += inside * contrast * ring
        xs = np.arange(w, dtype=np.float32)
        lower = cy + b * np.sqrt(np.clip(1 - ((xs - cx) / a) ** 2, 0, None))
        self.ring = (cy - b - width, cy + b + width)  # rows the ring spans
        return WeldLine(lower.astype(np.float32), np.full(w, width, np.float32))

    # -- the whole radiograph ------------------------------------------------------------
    def render(
        self, n_flaw_events: int, flaw_contrast: float = 1.0, dense: bool = False
    ) -> Radiograph:
        rng = self.rng
        tilt = sag = 0.0
        if self.kind == "pipe":
            grey = np.zeros((self.h, self.w), np.float32)
            weld = self.pipe(grey)
            crest = 150.0
        else:
            weld, tilt, sag = self.weld_line()
            dist = self.distance(weld)
            level, crest = self.levels()
            base = self.base_metal(dist, level, crest)
            bead = self.bead(dist, weld, level, crest)
            amplitude = _lognormal(rng, 1.9, 0.65, 5.3) * (0.5 if self.kind == "crop" else 1)
            ripple = _ripple(rng, (self.h, self.w), dist, float(weld.fwhm[0]), amplitude)
            grey = base + bead + ripple
        if self.kind == "crop":
            noise_sd = float(rng.uniform(1.25, 1.55))
        else:
            noise_sd = float(np.clip(_lognormal(rng, 3.2, 2.2, 4.2), 1.8, 4.8))
            self.markers(grey, weld, crest)
        # flaws keep their real size
        painter = FlawPainter(
            rng, grey, weld, noise_sd, contrast=flaw_contrast, unit=TYPICAL_NOISE[self.kind]
        )
        flaws = painter.draw(n_flaw_events, DENSE_EVENTS if dense else EVENTS)
        if self.kind != "crop":
            self.edge_strips(grey)
        self.streaks_and_specks(grey, noise_sd)
        # grain: flat up to grey ~190, ~30 % weaker near white
        level = np.clip((grey - 190) / 65, 0, 1)
        quiet = getattr(self, "quiet", 1.0)
        grey += noise_sd * quiet * (1 - 0.3 * level) * grain(rng, grey.shape, self.kind == "crop")
        grey = np.clip(_shoulder(grey), 0, 255)
        return Radiograph(
            grey.astype(np.float32),
            self.kind,
            flaws,
            painter.mask,
            self.weld_box(weld),
            noise_sd,
            float(tilt),
            float(sag),
            float(np.median(weld.fwhm)),
            weld,
            [b for b in self.marker_boxes if b is not None],
        )

    def weld_box(self, weld: WeldLine) -> tuple[int, int, int, int]:
        """The box around the bead (centre ± FWHM: toes and flanking bands included)."""
        if self.kind == "crop":
            return (0, 0, self.w, self.h)
        if self.kind == "pipe":
            top, bottom = self.ring
        else:
            top = float(np.min(weld.centre - weld.fwhm))
            bottom = float(np.max(weld.centre + weld.fwhm))
        top, bottom = max(int(math.floor(top)), 0), min(int(math.ceil(bottom)), self.h)
        return (0, top, self.w, bottom - top)


def _shoulder(grey: np.ndarray, knee: float = 235.0) -> np.ndarray:
    """The film's shoulder: levels above ``knee`` compressed smoothly below 255."""
    over = grey > knee
    grey[over] = knee + 20 * np.tanh((grey[over] - knee) / 20)
    return grey


def render(
    seed: list[int],
    kind: str,
    height: int,
    width: int,
    n_flaw_events: int,
    flaw_contrast: float = 1.0,
    dense: bool = False,
    style: str = "",
) -> Radiograph:
    """One radiograph of ``kind``, a pure function of its arguments (``flaw_contrast``:
    the flaws' contrast, times the measured distribution; ``dense``: porosity everywhere;
    ``style``: one of ``STYLES[kind]``)."""
    renderer = FilmRenderer(np.random.default_rng(seed), kind, height, width, style)
    return renderer.render(n_flaw_events, flaw_contrast, dense)
