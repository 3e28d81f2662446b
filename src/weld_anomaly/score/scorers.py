"""Scorers: every way of giving each fragment one anomaly score, behind one interface.

A scorer is an object with

- ``name``: its column in the scores tables;
- ``description``: what it measures, in plain words (the report's glossary);
- ``family``: the kind of scorer, for tables and the report;
- ``orientation``: ``"high"`` when a larger score is more anomalous, ``"either"`` when the
  annotated validation images decide (the thesis's statistics);
- ``learned``: whether it uses a trained model;
- ``reads_reconstruction``: whether it reads the autoencoder's reconstructions (scoring
  runs the autoencoder only when a scorer it computes does);
- ``score(crop)``: one number per fragment of a crop (:class:`CropEvidence`);
- optionally ``fit(normal)``: parameters fitted on the normal validation fragments' scores.

Two kinds. *Crop scorers* score a crop from its pixels and the model's reconstructions; the
per-image scoring job runs them. *Combined scorers* (``combined = True``) combine other
scorers' columns; the evaluation fits them on normal validation fragments, keeps their
parameters in ``evaluation.json``, and inspection computes them again from those.

A new scorer is one class and one registration; the scoring job writes its column, the
evaluation measures it and the report lists it::

    @register
    class Darkest(Scorer):
        name = "darkest"
        description = "how dark the darkest pixel of the fragment is"

        def score(self, crop):
            return 1.0 - crop.fragments.min(axis=(1, 2)) / crop.top

A class that makes several scorers from the settings (one per smoothing width, say)
overrides :meth:`Scorer.instances`, and :meth:`Scorer.claim` to recognise its columns.
Registration order is column order.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from weld_anomaly.ingest import tiling
from weld_anomaly.ingest.gaussian import gaussian_filter
from weld_anomaly.ingest.normalize import CONTRAST_RANGE, Normalized, normalize
from weld_anomaly.score import texture
from weld_anomaly.score.baseline import background_map
from weld_anomaly.score.metrics import robust_location_scale
from weld_anomaly.score.residual import (
    DEFAULT_RESIDUAL,
    ResidualSettings,
    brighter_than_expected,
    crop_residual,
    residual_map,
    stitch,
)
from weld_anomaly.score.statistics import COLUMNS, fragment_statistics

MULTISCALE = "residual_multiscale"
# the flagging scorer when no annotated validation image can choose one: the first present.
# The textbook filter led every learned scorer on held-out real weld films (docs/evaluation.md);
# the others are fallbacks for tables without it.
DEFAULT_FLAG = ("baseline", "fused", MULTISCALE, "residual_s2")


@dataclass(frozen=True)
class ScoreSettings:
    """What the crop scorers need from the ``score`` configuration."""

    median_size: int = 41  # the baseline's median window
    sigma: float = 1.0  # the baseline's smoothing before the median
    residual: ResidualSettings = field(default_factory=ResidualSettings)
    contrast_sigmas: tuple[float, ...] = ()  # training-free scores in noise units
    detector: object | None = None  # the trained flaw detector (a Keras model), if any
    robust: bool = True  # background and noise from the sound part only (normalize)
    supervised: object | None = None  # the detector fine-tuned on annotations, if any


@dataclass(eq=False)
class CropEvidence:
    """One crop as the crop scorers see it; the expensive maps are computed once, on demand.

    ``corners`` are the fragments' top-left corners in crop coordinates; ``scores`` fills
    up with each scorer's column as the scoring pass goes.
    """

    pixels: np.ndarray  # the crop, integer grey levels
    corners: np.ndarray  # (N, 2)
    size: int  # fragment side
    fragments: np.ndarray  # (N, S, S) integer grey levels
    reconstructions: np.ndarray | None  # (N, S, S) in [0, 1]; None: no autoencoder ran
    settings: ScoreSettings = field(default_factory=ScoreSettings)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    # held while a map that several scorers share is made (the scoring job's two threads
    # may both ask for the residual and its spectrum): made once, by one of them
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @classmethod
    def from_residual(
        cls,
        residual: np.ndarray,
        mask: np.ndarray,
        corners: np.ndarray,
        size: int,
        settings: ScoreSettings | None = None,
    ) -> CropEvidence:
        """A crop known only by its residual map and marker mask (residual scorers only)."""
        empty = np.zeros((0, size, size))
        evidence = cls(np.zeros(residual.shape, np.uint8), corners, size, empty, empty)
        if settings is not None:
            evidence.settings = settings
        evidence.__dict__["_residual_and_mask"] = (residual, mask)
        return evidence

    @property
    def top(self) -> float:
        """The largest grey level of the pixels' type (255 or 65535)."""
        return 255.0 if self.pixels.dtype == np.uint8 else 65535.0

    @cached_property
    def statistics(self) -> dict[str, np.ndarray]:
        """The thesis's 13 statistics of every fragment."""
        if not len(self.fragments):
            return {c: np.zeros(0) for c in COLUMNS}
        return fragment_statistics(self.fragments, self.reconstructions)

    @cached_property
    def reconstruction_map(self) -> np.ndarray:
        """The fragments' reconstructions stitched over the crop, in [0, 1]."""
        return stitch(self.pixels.shape, self.corners, self.reconstructions)

    @cached_property
    def normalized(self) -> Normalized:
        """The crop on the one grey scale (:mod:`weld_anomaly.ingest.normalize`)."""
        s = self.settings
        return normalize(self.pixels, s.median_size, s.sigma, robust=s.robust)

    @property
    def background(self) -> np.ndarray:
        """Median background minus the image, in [0, 1] units (markers taken out)."""
        return self.normalized.difference / np.float32(self.top)

    @cached_property
    def textbook(self) -> np.ndarray:
        """The textbook filter's map exactly (:mod:`weld_anomaly.score.baseline`), [0, 1]."""
        s = self.settings
        # the normalisation's median (computed anyway for these scorers) saves the interior
        shared = bool(s.residual.sigmas or s.residual.lines or s.contrast_sigmas or s.detector)
        if not shared:
            return background_map(self.pixels, s.median_size, s.sigma)
        norm = self.normalized
        return background_map(self.pixels, s.median_size, s.sigma, norm.median, norm.image)

    @cached_property
    def detector_logits(self) -> np.ndarray:
        """The flaw detector's logit at every pixel (markers, edges: the lowest logit)."""
        logits = detect(self.settings.detector, self.normalized.contrast)
        logits[self.normalized.ignored] = float(logits.min()) if logits.size else 0.0
        return logits

    @cached_property
    def supervised_logits(self) -> np.ndarray:
        """The supervised detector's logit at every pixel (markers, edges: the lowest)."""
        logits = detect(self.settings.supervised, self.normalized.contrast)
        logits[self.normalized.ignored] = float(logits.min()) if logits.size else 0.0
        return logits

    @cached_property
    def residual_parts(self) -> tuple[np.ndarray, np.ndarray | None]:
        """What of the residual needs no normalisation (computed beside it): the map
        before the texture is taken out, and the marker mask's first test (None: no mask)."""
        raw = residual_map(self.pixels, self.reconstruction_map)
        z = self.settings.residual.mask_z
        return raw, None if z is None else brighter_than_expected(raw, z)

    @cached_property
    def unmasked_prediction(self) -> np.ndarray | None:
        """The texture predictor's prediction of the residual with no pixel masked: made
        ahead, beside the normalisation, by a job with a thread to spare; the residual uses
        it where the marker mask is empty (the same numbers), else predicts again."""
        predictor = self.settings.residual.predictor
        raw = self.residual_parts[0]
        return None if predictor is None else texture.prediction(raw, None, predictor.kernel)

    @cached_property
    def _residual_and_mask(self) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            made = self.__dict__.get("_residual_and_mask")  # (by a thread this one waited for)
            if made is None:
                raw, brighter = self.residual_parts
                del self.residual_parts  # (not kept beside the residual)
                unmasked = self.__dict__.pop("unmasked_prediction", None)
                made = crop_residual(
                    self.pixels,
                    self.reconstruction_map,
                    self.background,
                    self.settings.residual,
                    raw,
                    brighter,
                    unmasked,
                )
                self.__dict__["_residual_and_mask"] = made
            return made

    @property
    def residual(self) -> np.ndarray:
        """Reconstruction minus crop, texture taken out (:mod:`weld_anomaly.score.residual`)."""
        return self._residual_and_mask[0]

    @property
    def mask(self) -> np.ndarray:
        """The bright markers left out of the residual scores."""
        return self._residual_and_mask[1]

    def smoothed_residual(self, sigma: float) -> np.ndarray:
        """The residual smoothed by a Gaussian of ``sigma`` px (``scipy.ndimage``'s, mirrored
        border), through the residual's spectrum, computed once for all the widths."""
        reach = texture.gaussian_radius(sigma)
        with self.lock:
            spectrum = self.__dict__.get("_residual_spectrum")
            if spectrum is None or spectrum.reach < reach:
                widths = [*self.settings.residual.sigmas, sigma]
                reach = max(texture.gaussian_radius(s) for s in widths)
                dtype = np.float32 if self.residual.dtype == np.float32 else np.float64
                spectrum = texture.Spectrum(self.residual, reach, dtype)
                self.__dict__["_residual_spectrum"] = spectrum
        return spectrum.gaussian(sigma)

    def max_per_fragment(self, score_map: np.ndarray) -> np.ndarray:
        """The largest value of a map of the crop inside each fragment."""
        if not len(self.corners):
            return np.zeros(0)
        return tiling.max_per_fragment(score_map, self.corners, self.size)

    def mean_per_fragment(self, score_map: np.ndarray) -> np.ndarray:
        """The mean of a map of the crop inside each fragment."""
        if not len(self.corners):
            return np.zeros(0)
        return tiling.mean_per_fragment(score_map, self.corners, self.size)


TILE = 512  # the detector runs on tiles of this many pixels, with MARGIN px of context
MARGIN = 32


def detect(model, contrast: np.ndarray) -> np.ndarray:
    """The flaw detector's logit for every pixel of a crop's contrast map (tiled)."""
    h, w = contrast.shape
    x = np.clip(contrast, *CONTRAST_RANGE).astype(np.float32)
    out = np.empty((h, w), dtype=np.float32)
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            y1, x1 = min(y0 + TILE, h), min(x0 + TILE, w)
            ya, xa = max(y0 - MARGIN, 0), max(x0 - MARGIN, 0)
            yb, xb = min(y1 + MARGIN, h), min(x1 + MARGIN, w)
            tile = x[ya:yb, xa:xb]
            pad = ((0, (-tile.shape[0]) % 4), (0, (-tile.shape[1]) % 4))
            tile = np.pad(tile, pad, mode="symmetric")
            logits = np.asarray(model.predict_on_batch(tile[None, ..., None]))[0, ..., 0]
            out[y0:y1, x0:x1] = logits[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return out


@dataclass
class ScoredFragments:
    """Fragments known only by their scores (a scores table): what combined scorers read."""

    scores: Mapping[str, np.ndarray]


class Scorer(ABC):
    """One anomaly score per fragment. Subclass, set the attributes, implement ``score``."""

    name: str = ""
    description: str = ""
    family: str = "other"
    orientation: str = "high"  # "high" or "either"
    learned: bool = True
    combined: bool = False
    reads_reconstruction: bool = False

    @classmethod
    def instances(cls, settings: ScoreSettings) -> list[Scorer]:
        """The scorers of this class that the settings ask for (default: one)."""
        return [cls()]

    @classmethod
    def claim(cls, column: str) -> Scorer | None:
        """This class's scorer for a scores-table column, or None when it is not one."""
        return cls() if column == cls.name else None

    @abstractmethod
    def score(self, crop: CropEvidence | ScoredFragments) -> np.ndarray:
        """One score per fragment of ``crop``."""

    def fit(self, normal: Mapping[str, np.ndarray]) -> dict:
        """Fit on the normal validation fragments' scores; the parameters, JSON-ready."""
        return {}

    @classmethod
    def from_columns(cls, columns: list[str]) -> Scorer | None:
        """A combined scorer over these score columns, or None when they allow none."""
        return None

    def restore(self, parameters: dict) -> Scorer:
        """This scorer with the parameters an earlier :meth:`fit` returned."""
        return self

    @property
    def parts(self) -> list[str]:
        """The columns a combined scorer reads (none for a crop scorer)."""
        return []

    def __repr__(self) -> str:
        return f"<scorer {self.name}>"


_REGISTRY: list[type[Scorer]] = []


def register(cls: type[Scorer]) -> type[Scorer]:
    """Add a scorer class to the registry (a class of the same name is replaced)."""
    _REGISTRY[:] = [c for c in _REGISTRY if c.__name__ != cls.__name__ or c is cls]
    if cls not in _REGISTRY:
        _REGISTRY.append(cls)
    return cls


def unregister(cls: type[Scorer]) -> None:
    """Take a scorer class out of the registry (tests)."""
    if cls in _REGISTRY:
        _REGISTRY.remove(cls)


def crop_scorers(settings: ScoreSettings = ScoreSettings()) -> list[Scorer]:
    """Every registered crop scorer the settings ask for, in column order."""
    out: list[Scorer] = []
    for cls in _REGISTRY:
        if not cls.combined:
            out += cls.instances(settings)
    return out


def score_columns(residual: ResidualSettings = DEFAULT_RESIDUAL) -> list[str]:
    """Every score column of a scores table written with these residual settings, in order."""
    return [s.name for s in crop_scorers(ScoreSettings(residual=residual))]


def for_column(column: str) -> Scorer:
    """The scorer behind a scores-table column (an unregistered column becomes a plain one)."""
    for cls in _REGISTRY:
        scorer = cls.claim(column)
        if scorer is not None:
            return scorer
    return Column(column)


def combined_scorers(columns: Iterable[str]) -> list[Scorer]:
    """The registered combined scorers that the given score columns make possible."""
    columns = list(columns)
    out = []
    for cls in _REGISTRY:
        if cls.combined:
            scorer = cls.from_columns(columns)
            if scorer is not None:
                out.append(scorer)
    return out


class Column(Scorer):
    """A score column that no registered scorer claims (kept, measured, described as such)."""

    description = "a score column that no registered scorer describes"
    orientation = "either"

    def __init__(self, name: str):
        self.name = name

    def score(self, crop):
        return np.asarray(crop.scores[self.name], dtype=np.float64)


def _suffix(value: float) -> str:
    return f"{value:g}".replace(".", "p")


def _number(suffix: str) -> float:
    return float(suffix.replace("p", "."))


# --------------------------------------------------------------------------------------
# The registered scorers, in column order


_THESIS_WORDS = {
    "frag": "the fragment",
    "recon": "the model's reconstruction",
    "diff": "the difference reconstruction - fragment (positive where darker than expected)",
    "sum": "sum",
    "min": "smallest value",
    "max": "largest value",
    "std": "standard deviation",
}


@register
class ThesisStatistic(Scorer):
    """The thesis's statistics of a fragment, its reconstruction and their difference."""

    family = "thesis statistic"
    reads_reconstruction = True
    orientation = "either"

    def __init__(self, column: str):
        self.name = column
        if column == "mse":
            self.description = "mean squared difference between the fragment and its reconstruction"
        else:
            source, stat = column.split("_")
            self.description = f"{_THESIS_WORDS[stat]} of {_THESIS_WORDS[source]}"

    @classmethod
    def instances(cls, settings):
        return [cls(c) for c in COLUMNS]

    @classmethod
    def claim(cls, column):
        return cls(column) if column in COLUMNS else None

    def score(self, crop):
        return crop.statistics[self.name]


@register
class ResidualSmoothed(Scorer):
    """The residual map smoothed by a Gaussian: a matched filter for round dark spots."""

    family = "residual map"
    reads_reconstruction = True

    def __init__(self, sigma: float):
        self.sigma = float(sigma)
        self.name = f"residual_s{_suffix(self.sigma)}"
        self.description = (
            f"how much darker than the model expects the fragment's darkest spot is, "
            f"averaged over about {4 * self.sigma:g} px (bright markers and weld texture "
            "taken out)"
        )

    @classmethod
    def instances(cls, settings):
        return [cls(s) for s in settings.residual.sigmas]

    @classmethod
    def claim(cls, column):
        m = re.fullmatch(r"residual_s([0-9p]+)", column)
        return cls(_number(m.group(1))) if m else None

    def score(self, crop):
        values = crop.smoothed_residual(self.sigma)
        values[crop.mask] = 0.0
        return crop.max_per_fragment(values)


@register
class ResidualLine(Scorer):
    """The residual map through line filters: cracks and elongated cavities."""

    family = "residual line filter"
    reads_reconstruction = True

    def __init__(self, length: float):
        self.length = float(length)
        self.name = f"residual_l{_suffix(self.length)}"
        self.description = (
            f"how much darker than the model expects the fragment's darkest thin line is, "
            f"about {2 * self.length:g} px long, at any of 12 orientations (cracks)"
        )

    @classmethod
    def instances(cls, settings):
        return [cls(n) for n in settings.residual.lines]

    @classmethod
    def claim(cls, column):
        m = re.fullmatch(r"residual_l([0-9p]+)", column)
        return cls(_number(m.group(1))) if m else None

    def score(self, crop):
        values = texture.line_response(crop.residual, self.length)
        values[crop.mask] = 0.0
        return crop.max_per_fragment(values)


@register
class Baseline(Scorer):
    """The training-free median filter: how much darker than its surroundings a spot is."""

    name = "baseline"
    family = "baseline (no training)"
    learned = False
    description = (
        "how much darker than its surroundings (a median filter) the fragment's darkest "
        "spot is; needs no training: the bar the model has to clear"
    )

    def score(self, crop):
        return crop.max_per_fragment(crop.textbook)


def noise_units(values: np.ndarray, ignored: np.ndarray) -> np.ndarray:
    """A map divided by its robust standard deviation over the crop's inspectable pixels."""
    keep = values[~ignored] if (~ignored).any() else values.ravel()
    _, spread = robust_location_scale(keep)
    return values / spread


@register
class Contrast(Scorer):
    """The textbook map on the one grey scale: in noise units, markers and edges left out."""

    family = "training-free, noise units"
    learned = False

    def __init__(self, sigma: float):
        self.sigma = float(sigma)
        self.name = f"contrast_s{_suffix(self.sigma)}"
        self.description = (
            "how many noise standard deviations darker than its surroundings (a median "
            f"filter) the fragment's darkest spot is, averaged over about {4 * self.sigma:g} px; "
            "film edges, unexposed areas and bright markers left out; needs no training"
        )

    @classmethod
    def instances(cls, settings):
        return [cls(s) for s in settings.contrast_sigmas]

    @classmethod
    def claim(cls, column):
        m = re.fullmatch(r"contrast_s([0-9p]+)", column)
        return cls(_number(m.group(1))) if m else None

    def score(self, crop):
        norm = crop.normalized
        smooth = gaussian_filter(norm.contrast, self.sigma) if self.sigma else norm.contrast
        values = noise_units(smooth, norm.ignored)
        values[norm.ignored] = 0.0
        return crop.max_per_fragment(values)


@register
class Detector(Scorer):
    """The learned flaw detector (:mod:`weld_anomaly.model.detector`)."""

    name = "detector"
    family = "learned flaw detector"
    description = (
        "how sure the flaw detector is that the fragment holds a flaw (its largest logit): a "
        "small network trained on the sound training welds with synthetic flaws added"
    )

    @classmethod
    def instances(cls, settings):
        return [cls()] if settings.detector is not None else []

    def score(self, crop):
        return crop.max_per_fragment(crop.detector_logits)


@register
class DetectorSupervised(Scorer):
    """The flaw detector fine-tuned on the lab's annotated images
    (:mod:`weld_anomaly.model.supervised`)."""

    name = "detector_supervised"
    family = "learned flaw detector, supervised"
    description = (
        "how sure the flaw detector fine-tuned on the lab's annotated welds is that the "
        "fragment holds a flaw (its largest logit); annotated validation images are scored "
        "by a model that did not see them"
    )

    @classmethod
    def instances(cls, settings):
        return [cls()] if settings.supervised is not None else []

    def score(self, crop):
        return crop.max_per_fragment(crop.supervised_logits)


def residual_scores(
    residual: np.ndarray, masked: np.ndarray, corners: np.ndarray, size: int, sigmas, lines=()
) -> dict[str, np.ndarray]:
    """The residual scorers' values for a residual map and its mask (masked pixels count 0)."""
    settings = ScoreSettings(residual=ResidualSettings(tuple(sigmas), tuple(lines)))
    crop = CropEvidence.from_residual(residual, masked, corners, size, settings)
    chosen = [*map(ResidualSmoothed, sigmas), *map(ResidualLine, lines)]
    return {s.name: s.score(crop) for s in chosen}


def is_residual_column(column: str) -> bool:
    """A residual-map score: ``residual_s<sigma>`` or ``residual_l<length>``."""
    return re.fullmatch(r"residual_[sl][0-9p]+", column) is not None


class RobustCombination(Scorer):
    """Combined scorers: their parts' columns, each in robust z units of sound welds.

    ``fit`` takes each part's median and robust standard deviation on the normal
    validation fragments; subclasses say which columns are parts and how z's combine.
    """

    family = "combined"
    combined = True

    def __init__(self, parts: list[str] | None = None, parameters: dict | None = None):
        self.parameters = dict(parameters or {})
        self._parts = list(parts if parts is not None else self.parameters)

    @property
    def parts(self) -> list[str]:
        return self._parts

    def restore(self, parameters):
        return type(self)(parameters=parameters)

    def fit(self, normal):
        self.parameters = {}
        for column in self.parts:
            med, spread = robust_location_scale(np.asarray(normal[column], dtype=np.float64))
            self.parameters[column] = {"median": med, "scale": spread}
        return self.parameters

    def z(self, crop) -> np.ndarray:
        """Each part's scores in robust z units, stacked (parts x fragments)."""
        return np.array(
            [
                (np.asarray(crop.scores[c], dtype=np.float64) - p["median"]) / p["scale"]
                for c, p in self.parameters.items()
            ]
        )


@register
class Multiscale(RobustCombination):
    """The residual scores combined: each in robust z units of normal data, the largest."""

    name = MULTISCALE
    description = (
        "the strongest of the residual-map scores, each counted in standard deviations of "
        "the sound validation welds: small pores, large faint ones and cracks on one scale"
    )

    @classmethod
    def from_columns(cls, columns: list[str]) -> Multiscale | None:
        """The combination of the residual columns present, when there are several."""
        parts = [c for c in columns if is_residual_column(c)]
        return cls(parts) if len(parts) > 1 else None

    def score(self, crop):
        return self.z(crop).max(axis=0)


@register
class Fused(RobustCombination):
    """The detector and the training-free contrast, each in robust z of sound welds, added."""

    name = "fused"
    description = (
        "the flaw detector's score and the noise-unit contrast, each counted in standard "
        "deviations of the sound validation welds, added: both must agree for a high score"
    )

    @classmethod
    def from_columns(cls, columns):
        contrast = [c for c in columns if c.startswith("contrast_s")]
        return cls(["detector", contrast[-1]]) if "detector" in columns and contrast else None

    def score(self, crop):
        return self.z(crop).sum(axis=0)


@register
class FilterFused(RobustCombination):
    """The textbook filter and the detector, each in robust z of sound welds, added."""

    name = "fused_filter"
    description = (
        "the textbook filter's score and the flaw detector's, each counted in standard "
        "deviations of the sound validation welds, added"
    )

    @classmethod
    def from_columns(cls, columns):
        return cls(["baseline", "detector"]) if {"baseline", "detector"} <= set(columns) else None

    def score(self, crop):
        return self.z(crop).sum(axis=0)


def multiscale_parameters(table, normal: np.ndarray) -> dict:
    """Median and robust standard deviation of each residual score on normal fragments."""
    scorer = Multiscale([c for c in table.columns if is_residual_column(c)])
    return scorer.fit({c: table[c].to_numpy()[normal] for c in scorer.parts})


def multiscale_scores(table, parameters: dict) -> np.ndarray:
    """``residual_multiscale`` of a scores table, with parameters from the evaluation."""
    return Multiscale(parameters=parameters).score(ScoredFragments(table))
