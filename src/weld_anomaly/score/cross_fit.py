"""Scores of the images a model learnt from, by models that did not see them.

The supervised detector (:mod:`weld_anomaly.model.supervised`) learns from the annotated
validation images, which also choose the flagging scorer. Each of them is therefore scored
by the model of its own fold, trained on the others; the evaluation puts those scores in
place of the ones the model of all images gave
(:func:`weld_anomaly.score.evaluation.cross_fit`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.score.scorers import CropEvidence, DetectorSupervised
from weld_anomaly.score.scoring import load_model, write_table

log = logging.getLogger(__name__)


def score_folds(
    models: dict[str, str | Path],
    crops_h5s: dict[str, str | Path],
    fragments_h5s: dict[str, str | Path],
    out_csv: str | Path,
    settings,
) -> int:
    """``detector_supervised`` of each annotated image by the model of its own fold (the
    one that did not see it): a CSV of image, fragment, detector_supervised.

    ``settings``: the :class:`~weld_anomaly.score.scorers.ScoreSettings` of the scoring."""
    rows = []
    for image_id in sorted(crops_h5s):
        model = load_model(models[image_id])
        frags = hdf5_io.read_fragments(fragments_h5s[image_id])
        crops, _ = hdf5_io.read_crops(crops_h5s[image_id])
        values = np.zeros(len(frags))
        size = frags.fragments.shape[1] if len(frags) else 64
        for i, crop in enumerate(crops):
            sel = frags.crop_index == i
            empty = np.zeros((0, size, size))
            evidence = CropEvidence(
                crop.pixels,
                frags.corners[sel] - np.array([crop.y, crop.x]),
                size,
                empty,
                empty,
                dataclasses.replace(settings, supervised=model),
            )
            values[sel] = DetectorSupervised().score(evidence)
        rows.append(
            pd.DataFrame(
                {
                    "image": image_id,
                    "fragment": np.arange(len(frags)),
                    DetectorSupervised.name: values,
                }
            )
        )
        log.info("%s: scored by the model that did not see it", image_id)
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["image", "fragment", DetectorSupervised.name])
    )
    write_table(out_csv, table)
    return len(table)
