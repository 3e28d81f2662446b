"""Score the test images once, with the sweep's chosen trial."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.config["train"]["backend"], snakemake.threads)

from weld_anomaly.workflow.runner import run_step  # noqa: E402
from weld_anomaly.workflow.sweep import score_test, trial_dirs, trial_paths  # noqa: E402

run_step(
    snakemake.log[0],
    score_test,
    sweep_json=snakemake.input.summary,
    trial_dirs=trial_dirs(snakemake.input.work),
    config=snakemake.params.config,
    paths=trial_paths(snakemake.input, snakemake.params.images),
    out_json=snakemake.output.test,
)
