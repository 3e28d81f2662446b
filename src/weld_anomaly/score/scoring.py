"""Score every fragment of an image: autoencoder statistics and the training-free baseline.

One CSV per image, one row per fragment: where it is (crop, ``y``, ``x`` of its top-left
corner in the full image), the 13 reconstruction-error statistics of the thesis
(:mod:`weld_anomaly.score.statistics`), the residual-map scores, and ``baseline``, the maximum of
the median-filter background-subtraction map of :mod:`weld_anomaly.score.baseline` inside it.

Residual map: the reconstructions of the overlapping fragments are stitched into one
reconstruction of the whole crop, each weighted down near its own border (where an
autoencoder reconstructs worst), and the crop is subtracted from it: positive where the
image is darker than the model expects. Bright markers (lead letters, wire IQIs) are masked
out (:func:`marker_mask`), the weld's texture is predicted from the surroundings and taken
out (:mod:`weld_anomaly.score.texture`), and what is left is filtered: a Gaussian of ``sigma``
pixels (``residual_s<sigma>``, a matched filter for cavities a few pixels across: pixel
noise averages out, a dark spot does not) and line filters of ``length`` pixels
(``residual_l<length>``, for cracks and elongated slag). A fragment's score is the maximum
inside it.

The stitched reconstructions are also written (one HDF5 per image, like the crops file) for
the report's side-by-side views.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly.errors import UserError
from weld_anomaly.files import write_text
from weld_anomaly.ingest import hdf5_io, tiling
from weld_anomaly.model.batches import scale
from weld_anomaly.score import texture
from weld_anomaly.score.baseline import background_map
from weld_anomaly.score.metrics import robust_z
from weld_anomaly.score.statistics import COLUMNS, fragment_statistics
from weld_anomaly.score.texture import Predictor

log = logging.getLogger(__name__)
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

    @property
    def columns(self) -> list[str]:
        """Column names of the residual-map scores."""
        return residual_columns(self.sigmas, self.lines)


def score_columns(residual: ResidualSettings = ResidualSettings()) -> list[str]:
    """Every score column of a scores table, in order."""
    return [*COLUMNS, *residual.columns, "baseline"]


def residual_columns(sigmas, lines=()) -> list[str]:
    """Column names of the residual-map scores for these smoothing widths and line lengths."""
    return [f"residual_s{s:g}".replace(".", "p") for s in sigmas] + [
        f"residual_l{n:g}".replace(".", "p") for n in lines
    ]


def stitch(shape: tuple[int, int], corners: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """One image from overlapping fragments: a weighted mean, borders weighted down."""
    size = pieces.shape[1]
    weight = np.ones((size, size))
    b = min(BORDER, size // 4)
    for edge in (slice(0, b), slice(size - b, size)):
        weight[edge, :] *= BORDER_WEIGHT
        weight[:, edge] *= BORDER_WEIGHT
    total = np.zeros(shape, dtype=np.float64)
    norm = np.zeros(shape, dtype=np.float64)
    for (y, x), piece in zip(corners, pieces, strict=True):
        total[y : y + size, x : x + size] += piece * weight
        norm[y : y + size, x : x + size] += weight
    return total / np.maximum(norm, 1e-12)


def marker_mask(
    residual: np.ndarray, background: np.ndarray, z: float | None, dilate: int
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
    """
    from scipy import ndimage

    if z is None:
        return np.zeros(residual.shape, dtype=bool)
    mask = robust_z(ndimage.gaussian_filter(-residual, 1.0)) > z
    mask &= robust_z(-background) > z
    if dilate > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, iterations=int(dilate))
    return mask


def residual_scores(
    residual: np.ndarray, masked: np.ndarray, local: np.ndarray, size: int, sigmas, lines=()
) -> dict[str, np.ndarray]:
    """Max of the filtered residual inside each fragment, per sigma and line length.

    Masked pixels count 0.
    """
    from scipy import ndimage

    filtered = [ndimage.gaussian_filter(residual, s) for s in sigmas]
    filtered += [texture.line_response(residual, n) for n in lines]
    out = {}
    for name, values in zip(residual_columns(sigmas, lines), filtered, strict=True):
        values[masked] = 0.0
        out[name] = tiling.max_per_fragment(values, local, size)
    return out


def crop_residual(
    crop_pixels: np.ndarray, recon_map: np.ndarray, background: np.ndarray, settings
) -> tuple[np.ndarray, np.ndarray]:
    """The residual map of a crop (the texture taken out when a predictor is given), masked."""
    residual = residual_map(crop_pixels, recon_map)
    masked = marker_mask(residual, background, settings.mask_z, settings.mask_dilate)
    if settings.predictor is not None:
        residual = texture.innovation(residual, masked, settings.predictor.kernel)
    return residual, masked


def residual_map(crop_pixels: np.ndarray, recon_map: np.ndarray) -> np.ndarray:
    """Reconstruction - crop, in units of the full grey range: positive where darker."""
    top = 255.0 if crop_pixels.dtype == np.uint8 else 65535.0
    return recon_map - crop_pixels.astype(np.float64) / top


class _Progress:
    """A progress bar on a terminal; a log line every tenth of the way otherwise."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.next = total, label, 0.1
        self.bar = None
        if sys.stderr.isatty() and total:
            import keras

            self.bar = keras.utils.Progbar(total, unit_name="fragment")

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)
        elif self.total and done / self.total >= self.next:
            log.info(
                "%s: %d/%d fragments (%.0f%%)",
                self.label,
                done,
                self.total,
                100 * done / self.total,
            )
            self.next = (int(10 * done / self.total) + 1) / 10


def reconstruct(model, fragments: np.ndarray, batch_size: int, label: str = "") -> np.ndarray:
    """Reconstructions of integer fragments ``(N, S, S)`` as float32 ``(N, S, S)``, in batches."""
    out = np.empty(fragments.shape, dtype=np.float32)
    progress = _Progress(len(fragments), label) if label else None
    for start in range(0, len(fragments), batch_size):
        batch = scale(fragments[start : start + batch_size])
        out[start : start + len(batch)] = np.asarray(model.predict_on_batch(batch))[..., 0]
        if progress:
            progress.update(start + len(batch))
    return out


def score_fragments(
    model,
    frags: hdf5_io.Fragments,
    crops: list[hdf5_io.Crop],
    image_id: str,
    *,
    batch_size: int,
    median_size: int,
    sigma: float,
    residual: ResidualSettings = ResidualSettings(),
) -> tuple[pd.DataFrame, list[hdf5_io.Crop], list[np.ndarray]]:
    """Score the fragments of one image in memory.

    Returns the table, the stitched reconstruction of each crop and each crop's marker mask
    (``masked`` in the table: the share of a fragment's pixels under it).
    """
    start = time.perf_counter()
    recon = reconstruct(model, frags.fragments, batch_size, label=f"scoring {image_id}")
    seconds = time.perf_counter() - start
    stats = fragment_statistics(scale(frags.fragments)[..., 0], recon)
    size = frags.fragments.shape[1] if len(frags) else 64
    residuals = {name: np.zeros(len(frags)) for name in residual.columns}
    masked_share = np.zeros(len(frags))
    baseline = np.zeros(len(frags))
    maps, masks = [], []
    for i, crop in enumerate(crops):
        sel = frags.crop_index == i
        local = frags.corners[sel] - np.array([crop.y, crop.x])
        recon_map = stitch(crop.pixels.shape, local, recon[sel])
        background = background_map(crop.pixels, median_size, sigma)
        if sel.any():
            baseline[sel] = tiling.max_per_fragment(background, local, size)
        res, masked = crop_residual(crop.pixels, recon_map, background, residual)
        scores = residual_scores(res, masked, local, size, residual.sigmas, residual.lines)
        for name, values in scores.items():
            residuals[name][sel] = values
        masked_share[sel] = tiling.mean_per_fragment(masked, local, size)
        masks.append(masked)
        top = 255 if crop.pixels.dtype == np.uint8 else 65535
        maps.append(
            hdf5_io.Crop(
                crop.name,
                crop.x,
                crop.y,
                crop.width,
                crop.height,
                np.rint(np.clip(recon_map, 0, 1) * top).astype(crop.pixels.dtype),
            )
        )
    table = pd.DataFrame(
        {
            "image": image_id,
            "fragment": np.arange(len(frags)),
            "crop": [frags.crop_names[i] for i in frags.crop_index],
            "y": frags.corners[:, 0],
            "x": frags.corners[:, 1],
            "masked": masked_share,
            **stats,
            **residuals,
            "baseline": baseline,
        }
    )
    log.info(
        "%s: %d fragments scored, %.0f fragments/s",
        image_id,
        len(frags),
        len(frags) / max(seconds, 1e-9),
    )
    return table, maps, masks


def write_table(path: str | Path, table: pd.DataFrame) -> None:
    """Write a scores table as CSV, byte-stable (fixed float format)."""
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    write_text(path, buffer.getvalue())


def score_image(
    model_path: str | Path,
    fragments_h5: str | Path,
    crops_h5: str | Path,
    out_csv: str | Path,
    image_id: str,
    *,
    batch_size: int,
    median_size: int,
    sigma: float,
    residual: ResidualSettings = ResidualSettings(),
    reconstructions_out: str | Path | None = None,
    model=None,
) -> pd.DataFrame:
    """Score every fragment of one image; write the table (and the reconstructions)."""
    frags = hdf5_io.read_fragments(fragments_h5)
    crops, _ = hdf5_io.read_crops(crops_h5)
    if model is None:
        model = load_model(model_path)
    table, maps, masks = score_fragments(
        model,
        frags,
        crops,
        image_id,
        batch_size=batch_size,
        median_size=median_size,
        sigma=sigma,
        residual=residual,
    )
    if reconstructions_out is not None:
        hdf5_io.write_crops(
            reconstructions_out, image_id, maps, {"kind": "reconstruction"}, masks=masks
        )
    write_table(out_csv, table)
    return table


def load_model(model_path: str | Path):
    """The trained autoencoder (logs the backend and the GPUs it sees)."""
    import keras

    from weld_anomaly.model.backend import describe_devices

    devices = describe_devices()
    log.info("backend %s, GPUs: %s", devices["backend"], ", ".join(devices["gpus"]) or "none")
    return keras.saving.load_model(model_path, compile=False)


def fit_texture_predictor(
    model_path: str | Path,
    fragments_h5s: list[str | Path],
    crops_h5s: list[str | Path],
    out_json: str | Path,
    *,
    batch_size: int,
    median_size: int,
    sigma: float,
    mask_z: float | None,
    mask_dilate: int,
    predictor: dict,
    model=None,
) -> texture.Predictor:
    """Fit the texture predictor on the residual maps of the training images; write it.

    ``predictor``: the ``score.texture_predictor`` settings.
    """
    settings = texture.PredictorSettings.from_config(predictor)
    model = model if model is not None else load_model(model_path)
    maps = []
    for fragments_h5, crops_h5 in zip(fragments_h5s, crops_h5s, strict=True):
        frags = hdf5_io.read_fragments(fragments_h5)
        crops, _ = hdf5_io.read_crops(crops_h5)
        if not len(frags):
            continue
        recon = reconstruct(model, frags.fragments, batch_size)
        for i, crop in enumerate(crops):
            sel = frags.crop_index == i
            if not sel.any():
                continue
            local = frags.corners[sel] - np.array([crop.y, crop.x])
            residual = residual_map(crop.pixels, stitch(crop.pixels.shape, local, recon[sel]))
            background = background_map(crop.pixels, median_size, sigma)
            maps.append((residual, marker_mask(residual, background, mask_z, mask_dilate)))
    fitted = texture.fit_predictor(maps, settings)
    log.info(
        "texture predictor: %d offsets fitted on %d pixels of %d crops, explains %.0f%% of "
        "the smoothed residual's variance",
        len(texture.offsets(settings)),
        fitted.pixels,
        len(maps),
        100 * fitted.explained_variance,
    )
    fitted.save(out_json)
    return fitted
