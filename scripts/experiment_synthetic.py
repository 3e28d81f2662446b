"""One synthetic experiment of the thesis (lines, digits, shapes, dirty)."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from weld_anomaly.workflow.experiments import run_synthetic  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

run_step(
    snakemake.log[0],
    run_synthetic,
    name=snakemake.wildcards.experiment,
    settings=snakemake.params.settings,
    filters=snakemake.params.filters,
    seed=snakemake.params.seed,
    out_json=snakemake.output.json,
    out_png=snakemake.output.figure,
)
