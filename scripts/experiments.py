"""Gather the experiments' numbers (experiments.json) and their report section (HTML)."""

import _package  # noqa: F401

from weld_anomaly.workflow.experiments import write_summary
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    write_summary,
    results_json=list(snakemake.input.json),
    figures_png=list(snakemake.input.figures),
    out_json=snakemake.output.summary,
    out_html=snakemake.output.html,
)
