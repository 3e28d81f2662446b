"""The sweep's report section: the trials' table, validation AUROC against each setting."""

import _package  # noqa: F401

from weld_anomaly.report.sweep import write_sweep_report
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    write_sweep_report,
    sweep_json=snakemake.input.summary,
    test_json=snakemake.input.test,
    out_html=snakemake.output.html,
    out_png=snakemake.output.figure,
)
