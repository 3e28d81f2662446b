"""The training-length experiment: the demo's autoencoder, a checkpoint per epoch."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.train["backend"], snakemake.threads)

from weld_anomaly.workflow.experiments import run_training_length  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

run_step(
    snakemake.log[0],
    run_training_length,
    train_h5=snakemake.input.train,
    validation_h5=snakemake.input.validation,
    fragments_h5=list(snakemake.input.fragments),
    annotations_path=snakemake.input.annotations[0] if snakemake.input.annotations else None,
    out_json=snakemake.output.json,
    out_png=snakemake.output.figure,
    work_dir=snakemake.output.work,
    resume_dir=".resume/experiment_training_length",
    settings=snakemake.params.settings,
    train_settings=snakemake.params.train,
    filters=snakemake.params.model["filters"],
    architecture=snakemake.params.model["architecture"],
    min_overlap=snakemake.params.min_overlap,
)
