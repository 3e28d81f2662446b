"""Weld flaws for the demo's films, drawn from what hand-masked real flaws measure.

``docs/real-films.md`` gives the figures this follows (p10 / p50 / p90): area
40 / 174 / 1104 px; axis ratio 1.18 / 1.79 / 4.39, elongated ones mostly along the weld,
about a third across it; contrast to noise (mean minus a ring 3-6 px out) -1.5 / -3.8 /
-14; edge blur sigma 1.4 / 2.85 / 4.5 px; 58 % on the bead's centre, 33 % at its toes, 9 %
outside; about half in groups of three or more within 50 px (pore chains along the
centreline); a few brighter than their surroundings (tungsten inclusions). The flaw types
and their frequencies are those listed for real films (pores, porosity clusters and chains,
elongated cavities, cracks along and across the weld, lack of fusion and of penetration,
undercut, root concavity, slag, tungsten).

Each flaw is a thickness deficit: a shape (irregular ellipse, chain, jagged line), deeper in
its middle, blurred at its edge, scaled so that its mean minus the ring around it is the
drawn contrast. The mask (what a person would outline) is the shape before the blur.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Flaw events and their weights. Every type listed for real films appears; the weights are
# set so that the masked defects match what the 641 hand-masked real ones measure (area
# p50 ~170 px, p90 ~1,100 px; about half in groups of three or more within 50 px): most
# events are pores and groups of pores, long line flaws are rarer.
EVENTS = {
    "pore": 45,
    "clustered porosity": 12,
    "linear porosity": 12,
    "elongated cavity": 10,
    "tungsten inclusion": 6,
    "slag": 3,
    "longitudinal crack": 4,
    "transverse crack": 4,
    "lack of fusion": 3,
    "lack of penetration": 3,
    "undercut": 3,
    "root concavity": 1,
}

# A densely flawed weld (the densest real crop: about half its fragments hold a flaw, 193
# flaws in 5,000 px of weld): porosity, mostly in clusters and chains.
DENSE_EVENTS = {"porosity field": 4, "clustered porosity": 3, "linear porosity": 2, "pore": 1}


@dataclass
class Flaw:
    """One flaw as annotated: its kind, box, contrast and pixel mask (in its box)."""

    kind: str
    box: tuple[int, int, int, int]  # x, y, width, height
    contrast: float  # grey levels, mean minus the surrounding ring (negative: darker)
    cnr: float  # contrast / noise sd
    mask: np.ndarray  # bool, the box's shape

    @property
    def severity(self) -> str:
        """``likely`` when it stands 3 noise sd or more out of the film, else ``possible``."""
        return "likely" if abs(self.cnr) >= 3.0 else "possible"

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True)
class WeldLine:
    """Where the weld runs: centre ``y`` and bead FWHM for every column ``x``."""

    centre: np.ndarray  # (W,)
    fwhm: np.ndarray  # (W,)

    def place(self, rng: np.random.Generator, x: float, zone: str) -> float:
        """A ``y`` for column ``x``: on the ``centre``, at a ``toe`` or ``outside`` the bead."""
        i = int(np.clip(x, 0, len(self.centre) - 1))
        fwhm = float(self.fwhm[i])
        side = 1 if rng.random() < 0.5 else -1
        offset = {
            "centre": rng.uniform(-0.25, 0.25),
            "toe": side * rng.uniform(0.3, 0.55),
            "outside": side * rng.uniform(0.65, 1.1),
        }[zone]
        return float(self.centre[i] + offset * fwhm)

    def angle(self, x: float) -> float:
        """The weld's direction at column ``x``, in radians."""
        i = int(np.clip(x, 1, len(self.centre) - 2))
        return math.atan((self.centre[i + 1] - self.centre[i - 1]) / 2.0)


def _lognormal(rng: np.random.Generator, p50: float, p10: float, p90: float) -> float:
    """A draw whose 10th / 50th / 90th percentiles are roughly the given ones."""
    below = math.log(p50 / p10) / 1.2816
    above = math.log(p90 / p50) / 1.2816
    z = rng.standard_normal()
    return p50 * math.exp(z * (below if z < 0 else above))


def _zone(rng: np.random.Generator) -> str:
    return str(rng.choice(["centre", "toe", "outside"], p=[0.58, 0.33, 0.09]))


def _ellipse_depth(
    shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float, angle: float, rng
) -> np.ndarray:
    """Normalised depth (chord length) of an irregular ellipsoid on a local grid."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    ca, sa = math.cos(angle), math.sin(angle)
    u = (dx * ca + dy * sa) / rx
    v = (-dx * sa + dy * ca) / ry
    theta = np.arctan2(v, u)
    wobble = 1.0 + sum(
        rng.uniform(0, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * math.pi)) for k in (2, 3, 5)
    )
    r2 = (u * u + v * v) / wobble**2
    return np.sqrt(np.clip(1.0 - r2, 0.0, None))


def _line_depth(shape, points: np.ndarray, width: float) -> np.ndarray:
    """Depth of a thin line through ``points`` (y, x), ``width`` pixels across."""
    canvas = np.zeros(shape, dtype=np.float32)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:], strict=True):
        n = int(max(abs(y1 - y0), abs(x1 - x0)) * 2) + 1
        ys, xs = np.linspace(y0, y1, n), np.linspace(x0, x1, n)
        iy, ix = np.rint(ys).astype(int), np.rint(xs).astype(int)
        ok = (iy >= 0) & (iy < shape[0]) & (ix >= 0) & (ix < shape[1])
        canvas[iy[ok], ix[ok]] = 1.0
    if width > 1.0:
        canvas = (ndimage.distance_transform_edt(canvas == 0) <= width / 2).astype(np.float32)
    return canvas


def _jagged(rng, cy, cx, length: float, angle: float, roughness: float) -> np.ndarray:
    """A wandering polyline ``length`` px long around ``angle`` through (cy, cx)."""
    steps = max(int(length / 3), 2)
    heading = angle
    y, x = cy - 0.5 * length * math.sin(angle), cx - 0.5 * length * math.cos(angle)
    points = [(y, x)]
    for _ in range(steps):
        heading += rng.normal(0, roughness) - 0.3 * (heading - angle)
        y, x = y + 3 * math.sin(heading), x + 3 * math.cos(heading)
        points.append((y, x))
    return np.array(points)


class FlawPainter:
    """Draws flaw events onto a film (grey levels) and records their masks."""

    def __init__(
        self,
        rng,
        grey: np.ndarray,
        weld: WeldLine,
        noise_sd: float,
        scale: float = 1.0,
        contrast: float = 1.0,
        unit: float | None = None,
    ):
        self.rng, self.grey, self.weld, self.noise = rng, grey, weld, noise_sd
        self.scale = scale  # size factor (small test films get smaller flaws)
        self.contrast = contrast  # contrast factor (the demo's calibration)
        # grey levels per unit of drawn contrast-to-noise: the typical noise of films of
        # this kind, not this film's own (a flaw's grey-level contrast does not follow the
        # grain of the film it is on); by default this film's noise
        self.unit = noise_sd if unit is None else unit
        self.flaws: list[Flaw] = []
        self.mask = np.zeros(grey.shape, dtype=bool)

    # -- one defect -------------------------------------------------------------------
    def _stamp(self, kind: str, cy: float, cx: float, reach: float, depth_fn: Callable, cnr):
        """Render one defect whose depth ``depth_fn(shape, cy, cx)`` lies within ``reach``."""
        h, w = self.grey.shape
        blur = _lognormal(self.rng, 2.85, 1.4, 4.5) * min(1.0, 0.5 + 0.5 * self.scale)
        pad = int(math.ceil(reach + 3 * blur + 8))
        y0, y1 = max(int(cy) - pad, 0), min(int(cy) + pad + 1, h)
        x0, x1 = max(int(cx) - pad, 0), min(int(cx) + pad + 1, w)
        if y1 - y0 < 4 or x1 - x0 < 4:
            return
        depth = depth_fn((y1 - y0, x1 - x0), cy - y0, cx - x0)
        shape = depth > 0
        if shape.sum() < 3:
            return
        blurred = ndimage.gaussian_filter(depth, blur)
        ring = ndimage.binary_dilation(shape, iterations=6) & ~ndimage.binary_dilation(
            shape, iterations=3
        )
        level = float(blurred[shape].mean() - (blurred[ring].mean() if ring.any() else 0.0))
        if level <= 1e-6:
            return
        contrast = cnr * self.unit
        cnr = contrast / self.noise
        self.grey[y0:y1, x0:x1] += blurred * (contrast / level)
        ys, xs = np.nonzero(shape)
        box = (x0 + int(xs.min()), y0 + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        mask = shape[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        self.mask[box[1] : box[1] + box[3], box[0] : box[0] + box[2]] |= mask
        self.flaws.append(Flaw(kind, box, round(contrast, 3), round(cnr, 3), mask))

    def _cnr(self, bright: bool = False, factor: float = 1.0) -> float:
        value = _lognormal(self.rng, 3.8, 1.5, 14.0) * factor * self.contrast
        return value if bright else -value

    def _pore(self, kind, cy, cx, area, aspect=None, angle=None, cnr=None):
        rng = self.rng
        aspect = aspect or max(1.0, _lognormal(rng, 1.35, 1.05, 2.0))
        angle = self.weld.angle(cx) if angle is None else angle
        r = math.sqrt(max(area, 8.0) / math.pi)
        rx, ry = r * math.sqrt(aspect), r / math.sqrt(aspect)
        self._stamp(
            kind,
            cy,
            cx,
            max(rx, ry) * 1.3,
            lambda s, y, x: _ellipse_depth(s, y, x, ry, rx, angle, rng),
            self._cnr() if cnr is None else cnr,
        )

    def _line(self, kind, cy, cx, length, width, angle, roughness, cnr):
        points = _jagged(self.rng, cy, cx, length, angle, roughness)

        def depth(shape, y, x):
            return _line_depth(shape, points - [cy - y, cx - x], width)

        self._stamp(kind, cy, cx, length / 2 + 10, depth, cnr)

    # -- events ---------------------------------------------------------------------
    def event(self, kind: str) -> None:
        """Draw one flaw event of ``kind`` somewhere along the weld."""
        rng, s = self.rng, self.scale
        w = self.grey.shape[1]
        margin = 40 * s + 8
        cx = float(rng.uniform(margin, w - margin))
        along = self.weld.angle(cx)
        fwhm = float(self.weld.fwhm[int(cx)])
        area = float(np.clip(_lognormal(rng, 174, 40, 1104), 12, 20000)) * s * s
        if kind == "pore":
            self._pore(kind, self.weld.place(rng, cx, _zone(rng)), cx, area)
        elif kind == "tungsten inclusion":
            self._pore(kind, self.weld.place(rng, cx, "centre"), cx, area / 2, cnr=self._cnr(True))
        elif kind in ("clustered porosity", "linear porosity", "porosity field"):
            self._group(kind, cx, along)
        elif kind in ("elongated cavity", "slag"):
            aspect = rng.uniform(3.0, 8.0)
            self._pore(kind, self.weld.place(rng, cx, _zone(rng)), cx, area, aspect, along)
        elif kind == "longitudinal crack":
            length = min(_lognormal(rng, 80, 30, 400), 500) * s
            cy = self.weld.place(rng, cx, "centre")
            self._line(kind, cy, cx, length, rng.uniform(1, 2.5), along, 0.15, self._cnr())
        elif kind == "transverse crack":
            length = min(_lognormal(rng, 40, 20, 120) * s, 0.8 * fwhm)
            cy = self.weld.place(rng, cx, "centre")
            angle = along + math.pi / 2 + rng.normal(0, 0.2)
            self._line(kind, cy, cx, length, rng.uniform(1, 2.0), angle, 0.2, self._cnr())
        elif kind in ("lack of fusion", "undercut"):
            length = rng.uniform(60, 300) * s
            cy = self.weld.place(rng, cx, "toe")
            width = rng.uniform(1.5, 3) if kind == "lack of fusion" else rng.uniform(3, 6)
            self._line(kind, cy, cx, length, width * s, along, 0.03, self._cnr())
        elif kind == "lack of penetration":
            length = rng.uniform(100, 400) * s
            cy = self.weld.place(rng, cx, "centre")
            self._line(kind, cy, cx, length, rng.uniform(2, 5) * s, along, 0.02, self._cnr())
        elif kind == "root concavity":
            cy = self.weld.place(rng, cx, "centre")
            area = rng.uniform(1000, 3000) * s * s
            self._pore(kind, cy, cx, area, rng.uniform(4, 10), along, self._cnr(factor=0.6))

    def _group(self, kind: str, cx: float, along: float) -> None:
        """Pores in a cluster, or a chain along the centreline 15-40 px apart."""
        rng, s = self.rng, self.scale
        if kind == "porosity field":  # a stretch of weld riddled with small pores
            n = int(rng.integers(15, 40))
            cy = self.weld.place(rng, cx, "centre")
            for _ in range(n):
                px, py = cx + rng.normal(0, 45 * s), cy + rng.normal(0, 18 * s)
                area = float(np.clip(_lognormal(rng, 60, 20, 250), 10, 1500)) * s * s
                self._pore("clustered porosity", py, px, area, cnr=self._cnr(factor=0.6))
            return
        n = int(rng.integers(3, 12))
        cy = self.weld.place(rng, cx, "centre")
        spacing = rng.uniform(15, 40) * s
        for i in range(n):
            if kind == "linear porosity":
                t = (i - (n - 1) / 2) * spacing
                px, py = cx + t * math.cos(along), cy + t * math.sin(along) + rng.normal(0, 2)
            else:
                px, py = cx + rng.normal(0, 18 * s), cy + rng.normal(0, 10 * s)
            area = float(np.clip(_lognormal(rng, 110, 35, 450), 10, 2500)) * s * s
            self._pore("pore" if kind == "linear porosity" else kind, py, px, area)

    def draw(self, n_events: int, events: dict[str, int] = EVENTS) -> list[Flaw]:
        """``n_events`` events of random kinds (weighted as in real films' flaw lists, or
        as ``events`` says)."""
        kinds = list(events)
        weights = np.array([events[k] for k in kinds], dtype=float)
        for _ in range(n_events):
            self.event(str(self.rng.choice(kinds, p=weights / weights.sum())))
        return self.flaws
