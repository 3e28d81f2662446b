"""Score every fragment of an image: autoencoder statistics and the training-free baseline.

One CSV per image, one row per fragment: where it is (crop, ``y``, ``x`` of its top-left
corner in the full image), the 14 reconstruction-error statistics of
:mod:`weld_anomaly.statistics`, and ``baseline``, the maximum of the median-filter
background-subtraction map of :mod:`weld_anomaly.baseline` inside it.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly import hdf5_io, tiling
from weld_anomaly.baseline import background_map
from weld_anomaly.data import scale
from weld_anomaly.files import write_text
from weld_anomaly.statistics import COLUMNS, fragment_statistics

log = logging.getLogger(__name__)
SCORE_COLUMNS = (*COLUMNS, "baseline")


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


def baseline_scores(
    crops_h5: str | Path, frags: hdf5_io.Fragments, median_size: int, sigma: float
) -> np.ndarray:
    """The baseline score of every fragment, from maps computed over each whole crop."""
    crops, _ = hdf5_io.read_crops(crops_h5)
    size = frags.fragments.shape[1]
    scores = np.zeros(len(frags), dtype=np.float64)
    for i, crop in enumerate(crops):
        sel = frags.crop_index == i
        if not sel.any():
            continue
        bmap = background_map(crop.pixels, median_size, sigma)
        local = frags.corners[sel] - np.array([crop.y, crop.x])
        scores[sel] = tiling.max_per_fragment(bmap, local, size)
    return scores


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
    model=None,
) -> pd.DataFrame:
    """Score every fragment of one image and write the table to ``out_csv``."""
    frags = hdf5_io.read_fragments(fragments_h5)
    if model is None:
        import keras

        model = keras.saving.load_model(model_path, compile=False)
    start = time.perf_counter()
    recon = reconstruct(model, frags.fragments, batch_size, label=f"scoring {image_id}")
    seconds = time.perf_counter() - start
    stats = fragment_statistics(scale(frags.fragments)[..., 0], recon)
    table = pd.DataFrame(
        {
            "image": image_id,
            "fragment": np.arange(len(frags)),
            "crop": [frags.crop_names[i] for i in frags.crop_index],
            "y": frags.corners[:, 0],
            "x": frags.corners[:, 1],
            **stats,
            "baseline": baseline_scores(crops_h5, frags, median_size, sigma),
        }
    )
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    write_text(out_csv, buffer.getvalue())
    log.info(
        "%s: %d fragments scored, %.0f fragments/s",
        image_id,
        len(frags),
        len(frags) / max(seconds, 1e-9),
    )
    return table
