"""Gather the fragments of the train and validation images into two chunked HDF5 files."""

import _package  # noqa: F401

from weld_anomaly.ingest.preprocess import build_training_sets
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    build_training_sets,
    train=list(snakemake.input.train),
    train_ids=snakemake.params.train_ids,
    validation=list(snakemake.input.validation),
    validation_ids=snakemake.params.validation_ids,
    train_out=snakemake.output.train,
    validation_out=snakemake.output.validation,
    on_error=snakemake.params.on_error,
)
