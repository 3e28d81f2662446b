"""Tabulate how every radiograph was converted, or why it was rejected."""

import _package  # noqa: F401

from weld_anomaly.ingest.preprocess import summarize_images
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    summarize_images,
    manifest_csv=snakemake.input.manifest,
    images=list(snakemake.input.images),
    out_csv=snakemake.output.table,
    on_error=snakemake.params.on_error,
    pixel_size_mm=snakemake.params.pixel_size_mm,
    min_snr_n=snakemake.params.min_snr_n,
    labels=snakemake.input.labels[0] if snakemake.input.labels else None,
)
