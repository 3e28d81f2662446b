"""Write each DICOM radiograph's findings as a DICOM presentation state (lab viewers)."""

import _package  # noqa: F401

from weld_anomaly.report.dicom_findings import export_findings
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    export_findings,
    findings_json=snakemake.input.findings,
    sources=dict(zip(snakemake.params.images, snakemake.input.sources, strict=True)),
    out_dir=snakemake.output.folder,
)
