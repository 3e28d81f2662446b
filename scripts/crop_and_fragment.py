"""Cut the crops of one image (from the crop manifest), draw a preview, fragment them."""

import _package  # noqa: F401

from weld_anomaly.ingest.preprocess import crop_and_fragment
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    crop_and_fragment,
    image_h5=snakemake.input.image,
    crops=snakemake.params.crops,
    manifest_path=(list(snakemake.input.manifest) or [snakemake.params.manifest_path])[0],
    crops_h5=snakemake.output.crops,
    preview_png=snakemake.output.preview,
    fragments_h5=snakemake.output.fragments,
    image_id=snakemake.wildcards.image,
    size=snakemake.params.size,
    stride=snakemake.params.stride,
    missing=snakemake.params.missing,
    preview_width=snakemake.params.preview_width,
    suggest_margin=snakemake.params.suggest_margin,
)
