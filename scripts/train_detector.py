"""Train the flaw detector on the training images' crops (synthetic flaws, no labels)."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from dataclasses import replace  # noqa: E402

from weld_anomaly.model.detector import DetectorSettings, train_detector  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

run_step(
    snakemake.log[0],
    train_detector,
    crops_h5s=list(snakemake.input.crops),
    model_out=snakemake.output.model,
    info_out=snakemake.output.info,
    settings=replace(
        DetectorSettings.from_config(snakemake.params.detector), robust=snakemake.params.robust
    ),
    precision=snakemake.params.precision,
)
