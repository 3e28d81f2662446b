"""Render the self-contained HTML report of the run."""

from pathlib import Path

import _package  # noqa: F401

from weld_anomaly.report.html import render_report
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    render_report,
    manifest_csv=snakemake.input.manifest,
    images_csv=snakemake.input.summary,
    fragments_csv=snakemake.input.fragments,
    metrics_json=snakemake.input.metrics,
    train_info_json=snakemake.input.train_info,
    history_csv=snakemake.input.history,
    crops_h5=list(snakemake.input.crops),
    annotations_path=snakemake.input.annotations[0] if snakemake.input.annotations else None,
    config=snakemake.params.config,
    out_html=snakemake.output.html,
    figures_dir=Path(snakemake.output.loss).parent,
    size=snakemake.params.size,
    max_width=snakemake.params.max_width,
    images_h5=list(snakemake.input.images),
    quality_h5=list(snakemake.input.quality),
    previews=list(snakemake.input.previews),
    reconstructions_h5=list(snakemake.input.reconstructions),
    experiments_json=snakemake.input.experiments[0] if snakemake.input.experiments else None,
    findings_json=snakemake.input.findings,
    welds_dir=snakemake.output.welds,
    sweep_files=list(snakemake.input.sweep),
)
