"""Gather the crops every image was cut with into one draft crop manifest."""

import _package  # noqa: F401

from weld_anomaly.ingest.preprocess import gather_crop_manifest
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    gather_crop_manifest,
    crops_h5=list(snakemake.input.crops),
    out_yaml=snakemake.output.manifest,
)
