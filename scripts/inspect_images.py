"""Inspect new radiographs with the trained model and its calibrated threshold."""

import _package  # noqa: F401

from weld_anomaly.memory import keep_freed_memory
from weld_anomaly.model.backend import configure

configure(snakemake.params.config["train"]["backend"], snakemake.threads)
keep_freed_memory()  # many crop-sized maps made and freed: reuse the memory

from weld_anomaly.errors import UserError  # noqa: E402
from weld_anomaly.workflow.inspection import inspect_images  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402


def inspect(**kwargs):
    if not kwargs["images"]:
        raise UserError(
            "no images to inspect",
            where="config inspect.images_dir",
            fix="set inspect.images_dir to a folder of radiographs",
        )
    return inspect_images(**kwargs)


run_step(
    snakemake.log[0],
    inspect,
    images=list(snakemake.input.images),
    model_path=snakemake.input.model,
    metrics_json=snakemake.input.metrics,
    config=snakemake.params.config,
    out_dir=snakemake.output[0],
    crop_manifest=snakemake.params.crops,
    predictor_path=snakemake.input.get("predictor") or None,
    detector_path=snakemake.input.get("detector") or None,
)
