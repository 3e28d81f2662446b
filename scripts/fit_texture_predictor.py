"""Fit the texture predictor on the residual maps of the training images."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from weld_anomaly.score.scoring import fit_texture_predictor  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

settings = snakemake.params.score
run_step(
    snakemake.log[0],
    fit_texture_predictor,
    model_path=snakemake.input.model,
    fragments_h5s=list(snakemake.input.fragments),
    crops_h5s=list(snakemake.input.crops),
    out_json=snakemake.output[0],
    batch_size=settings["batch_size"],
    median_size=settings["baseline_median"],
    sigma=settings["baseline_sigma"],
    mask_z=settings["marker_mask_z"],
    mask_dilate=settings["marker_mask_dilate"],
    predictor=settings["texture_predictor"],
)
