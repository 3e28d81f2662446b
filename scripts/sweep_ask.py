"""Propose one round of the sweep's trials (Optuna ask-and-tell, from the trials before)."""

import _package  # noqa: F401

from weld_anomaly.workflow.runner import run_step
from weld_anomaly.workflow.sweep import ask

run_step(
    snakemake.log[0],
    ask,
    out_json=snakemake.output[0],
    results=list(snakemake.input),
    space=snakemake.params.space,
    config=snakemake.params.config,
    numbers=list(snakemake.params.numbers),
    seed=snakemake.params.seed,
    startup=snakemake.params.startup,
    annotated=snakemake.params.annotated,
)
