"""Findings: what an operator acts on, made of the flagged fragments.

With 50 % overlap one defect lights up a cluster of fragments. A *finding* is one such
cluster in one crop: flagged fragments whose squares overlap, merged. Each finding has an
outline (the union of its squares, as a polygon in image pixels), a centre (weighted by how
far each fragment's score rises above the threshold), a length and width in pixels and, when
the file gives a pixel spacing, in millimetres, its peak score, and a confidence said two ways:

- ``margin``: how far the peak lies above the calibrated threshold, in units of the spread
  (robust standard deviation) of the scores of normal validation fragments;
- ``false_alarm_rate``: the share of normal validation fragments (sound welds never trained
  on) that score at least as high as the peak; 0 means none of them did.

``confidence`` names the band of the margin: *high* (3 and more), *medium* (1 to 3), *low*
(just above the threshold). The false-alarm rate is given beside it, not folded in: with a
few hundred normal fragments, "none as high" is weak evidence on its own.

Images are ranked by their strongest finding (:func:`worklist`): the operator's order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from weld_anomaly.files import write_text
from weld_anomaly.score.indication import indication
from weld_anomaly.score.metrics import robust_location_scale

COLUMNS = (
    "image",
    "crop",
    "finding",
    "confidence",
    "peak_score",
    "margin",
    "false_alarm_rate",
    "centre_x",
    "centre_y",
    "x",
    "y",
    "width_px",
    "height_px",
    "length_px",
    "breadth_px",
    "length_mm",
    "breadth_mm",
    # the indication: the dark spot inside the fragments (weld_anomaly.score.indication),
    # which length and breadth describe when it was found; x, y, width, height: the fragments
    "indication_x",
    "indication_y",
    "indication_width_px",
    "indication_height_px",
    "area_px",
    "area_mm2",
    "fragments",
    "scorer",
    "threshold",
    # the audit trail (weld_anomaly.provenance): what made the call, and when
    "software",
    "commit",
    "models",
    "config_sha256",
    "evaluated",
)


@dataclass
class Finding:
    """One cluster of overlapping flagged fragments (see the module's docstring)."""

    image: str
    crop: str
    finding: int  # 1, 2, ... within the image, strongest first
    confidence: str
    peak_score: float
    margin: float
    false_alarm_rate: float
    centre_x: float
    centre_y: float
    x: int  # the bounding box, image pixels
    y: int
    width_px: int
    height_px: int
    length_px: int  # the longer side of the bounding box
    breadth_px: int  # the shorter side
    length_mm: float | None
    breadth_mm: float | None
    fragments: int
    scorer: str
    threshold: float
    outline: list[list[float]] = field(default_factory=list)  # [[x, y], ...], closed
    indication_x: int | None = None  # the indication's box, image pixels (None: not found)
    indication_y: int | None = None
    indication_width_px: int | None = None
    indication_height_px: int | None = None
    area_px: int | None = None  # the indication's area
    area_mm2: float | None = None
    software: str = ""  # weld-anomaly and its version
    commit: str = ""  # the code's git commit
    models: str = ""  # name:sha256 of each trained model behind the scorer; '' training-free
    config_sha256: str = ""
    evaluated: str = ""  # the date of the evaluation (UTC)


@dataclass(frozen=True)
class NormalScores:
    """The scores of normal validation fragments: the yardstick of every finding."""

    sorted_scores: np.ndarray
    scale: float

    @classmethod
    def of(cls, scores: np.ndarray) -> NormalScores:
        scores = np.sort(np.asarray(scores, dtype=np.float64))
        _, scale = robust_location_scale(scores) if len(scores) else (0.0, 1.0)
        return cls(scores, float(scale) if scale > 0 else 1.0)

    def summary(self) -> dict:
        """A compact copy (1,001 quantiles) to judge later findings by (``inspect``)."""
        levels = np.linspace(0.0, 1.0, 1001)
        quantiles = np.quantile(self.sorted_scores, levels) if len(self.sorted_scores) else []
        return {"scale": self.scale, "quantiles": [float(q) for q in quantiles]}

    @classmethod
    def from_summary(cls, summary: dict) -> NormalScores:
        return cls(np.asarray(summary["quantiles"], dtype=np.float64), float(summary["scale"]))

    def false_alarm_rate(self, score: float) -> float:
        if not len(self.sorted_scores):
            return float("nan")
        above = len(self.sorted_scores) - np.searchsorted(self.sorted_scores, score, "left")
        return float(above / len(self.sorted_scores))


def _clusters(corners: np.ndarray, size: int) -> list[np.ndarray]:
    """Indices of fragments whose squares overlap, transitively (union-find)."""
    parent = list(range(len(corners)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(corners)):
        near = np.flatnonzero(np.all(np.abs(corners[i + 1 :] - corners[i]) < size, axis=1))
        for j in near + i + 1:
            parent[root(int(j))] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(corners)):
        groups.setdefault(root(i), []).append(i)
    return [np.array(g) for g in groups.values()]


def outline(corners: np.ndarray, size: int) -> list[list[float]]:
    """The boundary of the union of squares as one closed polygon ``[[x, y], ...]``.

    Fragment corners lie on a grid (the stride), so the union is drawn on a raster of grid
    cells (each split in 4 × 4, so that the traced contour cuts corners by at most an eighth
    of a cell), its outer contour traced, and every vertex put back on the grid.
    """
    from skimage import measure

    y0, x0 = corners.min(axis=0)
    offsets = np.concatenate([(corners - [y0, x0]).ravel(), [size]])
    cell = int(np.gcd.reduce(offsets.astype(np.int64))) or size
    split = 4
    cells = size // cell
    rows = (corners[:, 0].max() - y0) // cell + cells
    cols = (corners[:, 1].max() - x0) // cell + cells
    mask = np.zeros(((rows + 2) * split, (cols + 2) * split))  # padded: contours close
    for y, x in corners:
        r, c = ((y - y0) // cell + 1) * split, ((x - x0) // cell + 1) * split
        mask[r : r + cells * split, c : c + cells * split] = 1.0
    contour = max(measure.find_contours(mask, 0.5), key=len)
    # back to pixels (index i + 0.5 is the edge between sub-cells i and i + 1), on the grid
    grid = np.rint((contour + 0.5) / split - 1) * cell + [y0, x0]
    points: list[tuple[float, float]] = []
    for y, x in grid:
        if not points or points[-1] != (x, y):
            points.append((float(x), float(y)))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    corners_only = [
        point
        for prev, point, nxt in zip(
            points[-1:] + points[:-1], points, points[1:] + points[:1], strict=True
        )
        if (point[0] - prev[0]) * (nxt[1] - point[1]) != (point[1] - prev[1]) * (nxt[0] - point[0])
    ]
    return [[x, y] for x, y in corners_only]


def _confidence(margin: float) -> str:
    if margin >= 3:
        return "high"
    return "medium" if margin >= 1 else "low"


def image_findings(
    rows: pd.DataFrame,
    scores: np.ndarray,
    threshold: float,
    normal: NormalScores,
    size: int,
    scorer: str,
    spacing_mm: float | None = None,
    crops: dict | None = None,
) -> list[Finding]:
    """The findings of one image: ``rows`` (image, crop, y, x) of its flagged fragments and
    their ``scores`` (oriented: high = suspicious), strongest first. ``crops``: the image's
    crops (name: (pixels, (x, y))) to find each finding's indication in."""
    found = []
    for crop, members in rows.groupby("crop", sort=True).indices.items():
        corners = rows[["y", "x"]].to_numpy()[members].astype(np.int64)
        crop_scores = np.asarray(scores)[members]
        for group in _clusters(corners, size):
            found.append(
                _finding(
                    str(rows["image"].iloc[0]),
                    str(crop),
                    corners[group],
                    crop_scores[group],
                    threshold,
                    normal,
                    size,
                    scorer,
                    spacing_mm,
                    (crops or {}).get(str(crop)),
                )
            )
    found.sort(key=lambda f: (-f.peak_score, f.crop, f.y, f.x))
    for number, finding in enumerate(found, start=1):
        finding.finding = number
    return found


def _finding(image, crop, corners, scores, threshold, normal, size, scorer, spacing_mm, pixels):
    weights = np.maximum(scores - threshold, 0) + 1e-9
    centres = corners + size / 2
    y0, x0 = corners.min(axis=0)
    height, width = corners[:, 0].max() + size - y0, corners[:, 1].max() + size - x0
    peak = float(scores.max())
    margin = (peak - threshold) / normal.scale
    rate = normal.false_alarm_rate(peak)
    # the size is the indication's when one is found in the pixels, else the fragments'
    spot = None if pixels is None else indication(pixels[0], pixels[1], corners, size)
    sides = (height, width) if spot is None else (spot["height"], spot["width"])
    length, breadth = max(sides), min(sides)
    extra = {}
    if spot is not None:
        area_mm2 = None if spacing_mm is None else round(float(spot["area"] * spacing_mm**2), 4)
        extra = {
            "indication_x": spot["x"], "indication_y": spot["y"],
            "indication_width_px": spot["width"], "indication_height_px": spot["height"],
            "area_px": spot["area"], "area_mm2": area_mm2,
        }  # fmt: skip
    return Finding(
        **extra,
        image=image,
        crop=crop,
        finding=0,
        confidence=_confidence(margin),
        peak_score=peak,
        margin=float(margin),
        false_alarm_rate=rate,
        centre_x=float(np.average(centres[:, 1], weights=weights)),
        centre_y=float(np.average(centres[:, 0], weights=weights)),
        x=int(x0),
        y=int(y0),
        width_px=int(width),
        height_px=int(height),
        length_px=int(length),
        breadth_px=int(breadth),
        length_mm=None if spacing_mm is None else round(float(length * spacing_mm), 2),
        breadth_mm=None if spacing_mm is None else round(float(breadth * spacing_mm), 2),
        fragments=len(corners),
        scorer=scorer,
        threshold=float(threshold),
        outline=outline(corners, size),
    )


def find(
    table: pd.DataFrame,
    scores: np.ndarray,
    flagged: np.ndarray,
    threshold: float,
    normal_scores: np.ndarray | NormalScores,
    size: int,
    scorer: str,
    spacing_mm: dict[str, float] | None = None,
    crops=None,
) -> list[Finding]:
    """Every image's findings; ``table`` holds image, crop, y, x per fragment. ``crops``:
    a function of an image id giving its crops (name: (pixels, (x, y))), for the
    indications; None: sizes are the fragments'."""
    normal = (
        normal_scores if isinstance(normal_scores, NormalScores) else NormalScores.of(normal_scores)
    )
    flagged = np.asarray(flagged, dtype=bool)
    chosen = table[flagged]
    chosen_scores = np.asarray(scores)[flagged]
    out: list[Finding] = []
    for image, members in chosen.groupby("image", sort=True).indices.items():
        out += image_findings(
            chosen.iloc[members],
            chosen_scores[members],
            threshold,
            normal,
            size,
            scorer,
            (spacing_mm or {}).get(str(image)),
            None if crops is None else crops(str(image)),
        )
    return out


def worklist(images: Iterable[str], findings: list[Finding]) -> list[dict]:
    """Every inspected image, the most suspicious first: by its strongest finding's margin,
    then by its number of findings; images without findings last, by name."""
    by_image: dict[str, list[Finding]] = {}
    for f in findings:
        by_image.setdefault(f.image, []).append(f)
    rows = []
    for image in images:
        own = by_image.get(image, [])
        strongest = max(own, key=lambda f: f.margin, default=None)
        largest = max(own, key=lambda f: f.length_px, default=None)
        rows.append(
            {
                "image": image,
                "findings": len(own),
                "high": sum(f.confidence == "high" for f in own),
                "strongest_margin": None if strongest is None else strongest.margin,
                "strongest_confidence": "" if strongest is None else strongest.confidence,
                "largest_length_px": None if largest is None else largest.length_px,
                "largest_length_mm": None if largest is None else largest.length_mm,
            }
        )
    rows.sort(
        key=lambda r: (
            r["findings"] == 0,
            -(r["strongest_margin"] or 0.0),
            -r["findings"],
            r["image"],
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def with_provenance(findings: list[Finding], provenance: dict, learned: bool) -> list[Finding]:
    """The findings with the audit fields of :func:`weld_anomaly.provenance.record` (the
    models' digests only when the scorer is a learned one)."""
    from dataclasses import replace

    models = ";".join(f"{k}:{v}" for k, v in provenance.get("models", {}).items())
    return [
        replace(
            f,
            software=provenance.get("software", ""),
            commit=provenance.get("commit", ""),
            models=models if learned else "",
            config_sha256=provenance.get("config_sha256", ""),
            evaluated=provenance.get("evaluated", ""),
        )
        for f in findings
    ]


def write(findings: list[Finding], csv_path, json_path, meta: dict | None = None) -> None:
    """``findings.csv`` (one row per finding, no outline) and ``findings.json`` (with it)."""
    frame = pd.DataFrame([asdict(f) for f in findings], columns=[*COLUMNS, "outline"])
    write_text(csv_path, frame[list(COLUMNS)].to_csv(index=False, float_format="%.6g"))
    payload = {**(meta or {}), "findings": [_jsonable(asdict(f)) for f in findings]}
    write_text(json_path, json.dumps(payload, indent=1, sort_keys=False) + "\n")


def _jsonable(record: dict) -> dict:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }
