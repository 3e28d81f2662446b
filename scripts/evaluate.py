"""Label fragments, calibrate thresholds on validation fragments, measure every scorer."""

import _package  # noqa: F401

from weld_anomaly.provenance import record
from weld_anomaly.score.evaluation import evaluate
from weld_anomaly.workflow.runner import run_step

settings = snakemake.params.evaluate
models = {name: snakemake.input.get(name) for name in ("autoencoder", "detector", "supervised")}
run_step(
    snakemake.log[0],
    evaluate,
    manifest_csv=snakemake.input.manifest,
    images_csv=snakemake.input.images,
    score_csvs=list(snakemake.input.scores),
    annotations_path=snakemake.input.annotations[0] if snakemake.input.annotations else None,
    mask_pngs=list(snakemake.input.masks),
    fragments_out=snakemake.output.fragments,
    metrics_out=snakemake.output.metrics,
    roc_out=snakemake.output.roc,
    findings_out=(snakemake.output.findings, snakemake.output.findings_json),
    size=snakemake.params.size,
    min_overlap=settings["min_overlap"],
    target_fpr=settings["target_fpr"],
    flag_statistic=settings["flag_statistic"],
    adaptive_k=settings["adaptive_k"],
    cross_fitted=snakemake.input.get("cross_fitted") or None,
    headline_out=snakemake.output.headline,
    bootstrap=(settings["bootstrap"]["resamples"], settings["bootstrap"]["seed"]),
    provenance=record({k: v for k, v in models.items() if v}, snakemake.config),
    crop_files=list(snakemake.input.crops),
)
