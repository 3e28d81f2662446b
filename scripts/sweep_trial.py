"""One trial of the sweep: train with its settings, score and measure the validation images."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.config["train"]["backend"], snakemake.threads)

from weld_anomaly.workflow.runner import run_step  # noqa: E402
from weld_anomaly.workflow.sweep import run_trial, trial_paths  # noqa: E402

run_step(
    snakemake.log[0],
    run_trial,
    round_json=snakemake.input.round,
    trial=int(snakemake.wildcards.trial),
    config=snakemake.params.config,
    paths=trial_paths(snakemake.input, snakemake.params.images),
    work_dir=snakemake.output.work,
    out_json=snakemake.output.result,
)
