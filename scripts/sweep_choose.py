"""Choose the sweep's best trial by validation; write its settings and the study."""

import _package  # noqa: F401

from weld_anomaly.workflow.runner import run_step
from weld_anomaly.workflow.sweep import choose, trial_dirs

run_step(
    snakemake.log[0],
    choose,
    results=list(snakemake.input.results),
    space=snakemake.params.space,
    config=snakemake.params.config,
    trial_dirs=trial_dirs(snakemake.input.work),
    out_json=snakemake.output.summary,
    out_config=snakemake.output.config,
    out_dvc_args=snakemake.output.dvc_args,
    study_path=snakemake.output.study,
    bootstrap=tuple(snakemake.params.bootstrap),
)
