"""Score every fragment of an image with every registered scorer.

One CSV per image, one row per fragment: where it is (crop, ``y``, ``x`` of its top-left
corner in the full image), the share of it under the marker mask (``masked``), and one
column per crop scorer of :mod:`weld_anomaly.score.scorers` (the thesis's statistics, the
residual-map filters, the training-free baseline, and any scorer registered there).

The stitched reconstructions are also written (one HDF5 per image, like the crops file) for
the report's side-by-side views, with each crop's marker mask.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly.files import write_text
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.tiling import scale
from weld_anomaly.score import texture
from weld_anomaly.score.baseline import background_map
from weld_anomaly.score.residual import (
    DEFAULT_RESIDUAL,
    ResidualSettings,
    marker_mask,
    residual_map,
    stitch,
)
from weld_anomaly.score.scorers import (
    CropEvidence,
    Detector,
    DetectorSupervised,
    ScoreSettings,
    ThesisStatistic,
    crop_scorers,
)
from weld_anomaly.threads import job_threads

log = logging.getLogger(__name__)


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


def _crop_evidence(frags, crops, recon, settings: ScoreSettings):
    """Each crop with its fragments (corners in crop coordinates) and their reconstructions."""
    size = frags.fragments.shape[1] if len(frags) else 64
    for i, crop in enumerate(crops):
        sel = _rows_of(frags.crop_index == i)
        yield (
            sel,
            CropEvidence(
                crop.pixels,
                frags.corners[sel] - np.array([crop.y, crop.x]),
                size,
                frags.fragments[sel],
                None if recon is None else recon[sel],
                settings,
            ),
        )


def _rows_of(selected: np.ndarray) -> slice | np.ndarray:
    """The rows a boolean selection picks: a slice (views, no copies of the fragments and
    their reconstructions) when they are consecutive, as crop by crop they are."""
    rows = np.flatnonzero(selected)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return selected


def _reconstruction_crop(crop: hdf5_io.Crop, evidence: CropEvidence) -> hdf5_io.Crop:
    """The stitched reconstruction of a crop, in the crop's own grey levels."""
    pixels = np.rint(np.clip(evidence.reconstruction_map, 0, 1) * evidence.top)
    return hdf5_io.Crop(
        crop.name, crop.x, crop.y, crop.width, crop.height, pixels.astype(crop.pixels.dtype)
    )


def _score_crop(evidence: CropEvidence, scorers: list) -> dict[str, np.ndarray]:
    """Every scorer's column for one crop, in the scorers' order.

    With two threads or more (:func:`weld_anomaly.threads.job_threads`), the work that
    does not depend on each other runs two at a time: the reconstruction's statistics,
    stitched map and the residual's first parts beside the normalisation, then the
    residual scorers beside the other training-free ones (:func:`_from_both_ends`); the
    networks (the detectors) run alone, after them. (The same numbers: each map is
    computed once, by one thread.)
    """
    side = [s for s in scorers if s.reads_reconstruction and not isinstance(s, ThesisStatistic)]
    alone = [s for s in scorers if isinstance(s, (Detector, DetectorSupervised))]
    main = [s for s in scorers if s not in side and s not in alone]
    scores = evidence.scores
    if job_threads() >= 2 and evidence.reconstructions is not None and len(evidence.corners):
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(
                lambda: (
                    evidence.statistics,
                    evidence.reconstruction_map,
                    side and evidence.residual_parts,
                    side and evidence.unmasked_prediction,
                )
            )
            if any(not isinstance(s, ThesisStatistic) for s in scorers):
                evidence.normalized  # noqa: B018 (computed here, read by the scorers)
            first.result()
            scores.update(_from_both_ends(pool, evidence, side, main))
    for scorer in scorers:
        if scorer.name not in scores:
            scores[scorer.name] = scorer.score(evidence)
    return {s.name: scores[s.name] for s in scorers}


def _from_both_ends(pool, evidence: CropEvidence, side: list, main: list) -> dict:
    """Score ``side`` first to last on ``pool``'s thread while this one scores ``main``;
    whichever runs out first takes the other's scorers from the far end. (The residual
    scorers, ``side``, wait for the residual map, which the first of them makes: the
    other thread joins them once its own are done and the map is there.)"""
    queue, lock = deque([*side, *reversed(main)]), threading.Lock()

    def work(first: bool) -> dict:
        done = {}
        while True:
            with lock:
                if not queue:
                    return done
                scorer = queue.popleft() if first else queue.pop()
            done[scorer.name] = scorer.score(evidence)

    later = pool.submit(work, True)
    return {**work(False), **later.result()}


def score_fragments(
    model,
    frags: hdf5_io.Fragments,
    crops: list[hdf5_io.Crop],
    image_id: str,
    *,
    batch_size: int,
    median_size: int,
    sigma: float,
    residual: ResidualSettings = DEFAULT_RESIDUAL,
    contrast_sigmas: tuple[float, ...] = (),
    detector=None,
    robust: bool = True,
    supervised=None,
    columns: Collection[str] | None = None,
) -> tuple[pd.DataFrame, list[hdf5_io.Crop], list[np.ndarray]]:
    """Score the fragments of one image in memory with every registered crop scorer.

    ``detector``: the trained flaw detector (a Keras model), or None to leave it out.
    ``robust``: the normalisation's background and noise from the sound part only
    (:func:`weld_anomaly.ingest.normalize.normalize`). ``supervised``: the detector
    fine-tuned on annotated images (:mod:`weld_anomaly.model.supervised`), or None.
    ``columns``: compute only these crop scorers' columns (inspection computes what its
    flagging rule reads); the autoencoder (``model``, then unused and may be None) runs
    only when one of them reads its reconstructions.

    Returns the table, the stitched reconstruction of each crop (none when the autoencoder
    did not run) and each crop's marker mask (``masked`` in the table: the share of a
    fragment's pixels under it; without the autoencoder, what the normalisation leaves
    out: markers, film edges, unexposed areas).
    """
    settings = ScoreSettings(
        median_size, sigma, residual, tuple(contrast_sigmas), detector, robust, supervised
    )
    scorers = [s for s in crop_scorers(settings) if columns is None or s.name in columns]
    recon, seconds = None, 0.0
    if columns is None or any(s.reads_reconstruction for s in scorers):
        start = time.perf_counter()
        recon = reconstruct(model, frags.fragments, batch_size, label=f"scoring {image_id}")
        seconds = time.perf_counter() - start
    values = {s.name: np.zeros(len(frags)) for s in scorers}
    masked_share = np.zeros(len(frags))
    maps, masks = [], []
    for crop, (sel, evidence) in zip(
        crops, _crop_evidence(frags, crops, recon, settings), strict=True
    ):
        for name, column in _score_crop(evidence, scorers).items():
            values[name][sel] = column
        mask = evidence.mask if recon is not None else evidence.normalized.ignored
        masked_share[sel] = evidence.mean_per_fragment(mask)
        masks.append(mask)
        if recon is not None:
            maps.append(_reconstruction_crop(crop, evidence))
    table = pd.DataFrame(
        {
            "image": image_id,
            "fragment": np.arange(len(frags)),
            "crop": [frags.crop_names[i] for i in frags.crop_index],
            "y": frags.corners[:, 0],
            "x": frags.corners[:, 1],
            "masked": masked_share,
            **values,
        }
    )
    if recon is not None:
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
    residual: ResidualSettings = DEFAULT_RESIDUAL,
    contrast_sigmas: tuple[float, ...] = (),
    detector_path: str | Path | None = None,
    reconstructions_out: str | Path | None = None,
    model=None,
    detector=None,
    robust: bool = True,
    supervised=None,
) -> pd.DataFrame:
    """Score every fragment of one image; write the table (and the reconstructions).

    ``detector_path`` (or an already loaded ``detector``): the trained flaw detector."""
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
        contrast_sigmas=contrast_sigmas,
        detector=detector or (load_model(detector_path) if detector_path else None),
        robust=robust,
        supervised=supervised,
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
