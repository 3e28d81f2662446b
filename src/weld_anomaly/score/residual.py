"""The residual map of a crop: where the image is darker than the autoencoder expects.

The reconstructions of the overlapping fragments are stitched into one reconstruction of the
whole crop, each weighted down near its own border (where an autoencoder reconstructs
worst), and the crop is subtracted from it: positive where the image is darker than the
model expects. Bright markers (lead letters, wire IQIs) are masked out (:func:`marker_mask`)
and the weld's texture is predicted from the surroundings and taken out
(:mod:`weld_anomaly.score.texture`). The residual scorers of
:mod:`weld_anomaly.score.scorers` filter what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from weld_anomaly.errors import UserError
from weld_anomaly.ingest.gaussian import gaussian_filter
from weld_anomaly.score import texture
from weld_anomaly.score.metrics import robust_z
from weld_anomaly.score.texture import Predictor

BORDER = 8  # pixels of a fragment's border weighted down when stitching
BORDER_WEIGHT = 0.1


@dataclass(frozen=True)
class ResidualSettings:
    """How the residual map is scored (``score`` in the configuration)."""

    sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)
    lines: tuple[float, ...] = ()
    mask_z: float | None = None
    mask_dilate: int = 0
    predictor: Predictor | None = None

    @classmethod
    def from_config(cls, score: dict, predictor_path: str | Path | None = None):
        """The ``score`` group, with the fitted texture predictor when it is on."""
        predictor = None
        if score.get("texture_predictor") is not None:
            if predictor_path is None:
                raise UserError(
                    "the texture predictor is on but no fitted predictor was given",
                    where="config score.texture_predictor",
                    fix="pass the fitted predictor (results/model/texture_predictor.json) "
                    "or set score.texture_predictor to null",
                )
            predictor = Predictor.load(predictor_path)
        return cls(
            tuple(score["residual_sigmas"]),
            tuple(score.get("residual_lines") or ()),
            score["marker_mask_z"],
            score["marker_mask_dilate"],
            predictor,
        )


def stitch(shape: tuple[int, int], corners: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """One image from overlapping fragments: a weighted mean, borders weighted down.

    In float32, like the reconstructions (a pixel sums at most four pieces)."""
    size = pieces.shape[1]
    weight = np.ones((size, size), np.float32)
    b = min(BORDER, size // 4)
    for edge in (slice(0, b), slice(size - b, size)):
        weight[edge, :] *= np.float32(BORDER_WEIGHT)
        weight[:, edge] *= np.float32(BORDER_WEIGHT)
    total = np.zeros(shape, dtype=np.float32)
    norm = np.zeros(shape, dtype=np.float32)
    for (y, x), piece in zip(corners.tolist(), pieces, strict=True):
        window = total[y : y + size, x : x + size]
        window += piece * weight
        norm[y : y + size, x : x + size] += weight
    np.maximum(norm, np.float32(1e-12), out=norm)
    return np.divide(total, norm, out=total)


def marker_mask(
    residual: np.ndarray,
    background: np.ndarray,
    z: float | None,
    dilate: int,
    brighter: np.ndarray | None = None,
) -> np.ndarray:
    """Where the image is much brighter than the model expects: markers, not cavities.

    Lead letters and wire IQIs are bright, sharp and not in every fragment, so the
    autoencoder blurs them and the residual next to each wire looks like a dark spot.
    Pixels whose lightly smoothed negative residual exceeds ``z`` robust standard
    deviations of the crop's own residual *and* that are brighter than their surroundings
    by ``z`` robust standard deviations of ``background`` (the baseline's
    median-minus-image map, positive where darker), grown by ``dilate`` pixels, are left
    out of the residual scores. The second test keeps the bright rim the autoencoder leaves
    around a dark cavity out of the mask: the image is not bright there. ``z=None``: no mask.
    ``brighter``: the first test's answer (:func:`brighter_than_expected`), when at hand.
    """
    from scipy import ndimage

    if z is None:
        return np.zeros(residual.shape, dtype=bool)
    if brighter is None:
        brighter = brighter_than_expected(residual, z)
    if not brighter.any():  # (the usual crop: nothing to test against the background)
        return brighter
    mask = brighter & (robust_z(-background) > z)
    if dilate > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, iterations=int(dilate))
    return mask


def brighter_than_expected(residual: np.ndarray, z: float) -> np.ndarray:
    """Where the lightly smoothed negative residual exceeds ``z`` robust standard deviations
    of the crop's own: brighter than the model expects (:func:`marker_mask`'s first test,
    which needs only the reconstruction)."""
    return robust_z(gaussian_filter(-residual, 1.0)) > z


def residual_map(crop_pixels: np.ndarray, recon_map: np.ndarray) -> np.ndarray:
    """Reconstruction - crop, in units of the full grey range: positive where darker.

    float32 (the reconstructions' precision; half the memory of every map made from it)."""
    top = np.float32(255.0 if crop_pixels.dtype == np.uint8 else 65535.0)
    return recon_map.astype(np.float32, copy=False) - crop_pixels.astype(np.float32) / top


def crop_residual(
    crop_pixels: np.ndarray,
    recon_map: np.ndarray,
    background: np.ndarray,
    settings: ResidualSettings,
    residual: np.ndarray | None = None,
    brighter: np.ndarray | None = None,
    unmasked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The residual map of a crop (the texture taken out when a predictor is given), masked.

    ``residual`` (:func:`residual_map`), ``brighter`` (:func:`brighter_than_expected`) and
    ``unmasked`` (the predictor's :func:`~weld_anomaly.score.texture.prediction` with no
    pixel masked): those parts, when computed already (they need no background; the last
    is used only where the mask turns out empty, as it usually does)."""
    residual = residual_map(crop_pixels, recon_map) if residual is None else residual
    z, dilate = settings.mask_z, settings.mask_dilate
    masked = marker_mask(residual, background, z, dilate, brighter)
    if settings.predictor is not None:
        if unmasked is None or masked.any():
            unmasked = texture.prediction(residual, masked, settings.predictor.kernel)
        residual = residual - unmasked
    return residual, masked


DEFAULT_RESIDUAL = ResidualSettings()  # smoothing widths 1, 2, 3; no lines, mask or predictor
