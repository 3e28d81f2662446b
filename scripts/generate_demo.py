"""Write the built-in demo: synthetic weld radiographs (DICOM) and their tables."""

import _package  # noqa: F401

from weld_anomaly.simulate.demo import DemoSettings, write_demo
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    write_demo,
    settings=DemoSettings.from_config(snakemake.params.demo),
    out_dir=snakemake.params.demo["out_dir"],
)
