"""Synthetic cavities injected into sound weld patches: the detector's training examples.

The detector learns what a flaw looks like from sound welds with made-up flaws added, so no
annotated flaw is ever needed for training. The flaws are drawn from broad priors around
what hand-masked real flaws measure (``docs/real-films.md``): areas from ~12 to
~3,000 px (median ~150), axis ratios up to ~8, thin lines (cracks, lack of fusion) in a
fifth of them, contrast 1 to 25 noise standard deviations darker than the surroundings
(median ~3.5), edges blurred by 1.2-4.5 px, often several close together. They are
deliberately simpler than the demo's flaws (:mod:`weld_anomaly.simulate.flaws`: irregular
outlines, clusters, chains, toe and root flaws placed on a weld): the detector must not
be trained on the exact recipe it is measured on.

Patches are on the one grey scale (:mod:`weld_anomaly.ingest.normalize`: how many noise sd
darker than the median background), so a flaw is added as ``contrast * shape`` with
``shape`` averaging 1 over the flaw.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def _shape(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A flaw's depth profile and its mask on a ``size`` x ``size`` grid, centred."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    if rng.random() < 0.2:  # a thin line: crack, lack of fusion
        length = rng.uniform(10, min(150, size * 1.5))
        width = rng.uniform(0.8, 3.0)
        angle = rng.choice([0.0, math.pi / 2]) + rng.normal(0, 0.25)
        along = xx * math.cos(angle) + yy * math.sin(angle)
        across = -xx * math.sin(angle) + yy * math.cos(angle)
        bend = rng.normal(0, 0.004) * along**2
        inside = (np.abs(across - bend) <= width / 2) & (np.abs(along) <= length / 2)
        return inside.astype(np.float32), inside
    area = float(np.clip(rng.lognormal(math.log(150), 1.2), 12, 3000))
    aspect = float(np.clip(rng.lognormal(math.log(1.6), 0.55), 1.0, 8.0))
    angle = rng.uniform(0, math.pi)
    r = math.sqrt(area / math.pi)
    rx, ry = r * math.sqrt(aspect), r / math.sqrt(aspect)
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / rx
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / ry
    depth = np.sqrt(np.clip(1 - u * u - v * v, 0, None))
    return depth, depth > 0


def inject(
    rng: np.random.Generator, patch: np.ndarray, max_flaws: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """``patch`` (contrast units) with 1..``max_flaws`` flaws added, and their mask."""
    out = patch.astype(np.float32).copy()
    target = np.zeros(patch.shape, dtype=bool)
    h, w = patch.shape
    n = int(rng.integers(1, max_flaws + 1))
    centre = (rng.uniform(0, h), rng.uniform(0, w))
    for _ in range(n):
        grid = 2 * int(min(h, w) * 0.75) + 1
        depth, inside = _shape(rng, grid)
        if inside.sum() < 3:
            continue
        blur = rng.uniform(1.2, 4.5)
        blurred = ndimage.gaussian_filter(depth, blur)
        contrast = float(np.clip(rng.lognormal(math.log(3.5), 0.8), 1.0, 25.0))
        blurred *= contrast / max(float(blurred[inside].mean()), 1e-6)
        if rng.random() < 0.5:  # flaws come in groups: near the previous one
            cy, cx = centre[0] + rng.normal(0, 15), centre[1] + rng.normal(0, 15)
        else:
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        centre = (cy, cx)
        _add(out, target, blurred, inside, int(round(cy)), int(round(cx)))
    return out, target


def _add(out, target, values, inside, cy: int, cx: int) -> None:
    """Add ``values`` centred at (cy, cx), clipped to the patch."""
    half = values.shape[0] // 2
    y0, x0 = cy - half, cx - half
    ys = slice(max(y0, 0), min(y0 + values.shape[0], out.shape[0]))
    xs = slice(max(x0, 0), min(x0 + values.shape[1], out.shape[1]))
    if ys.stop <= ys.start or xs.stop <= xs.start:
        return
    vs = slice(ys.start - y0, ys.stop - y0)
    us = slice(xs.start - x0, xs.stop - x0)
    out[ys, xs] += values[vs, us]
    target[ys, xs] |= inside[vs, us]
