"""Record the images, their status (faulty / non-faulty) and split in results/manifest.csv."""

import _package  # noqa: F401

from weld_anomaly.ingest.inventory import write_manifest
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    write_manifest,
    rows=snakemake.params.images,
    labels=snakemake.input.labels[0] if snakemake.input.labels else None,
    out_csv=snakemake.output.manifest,
)
