"""Cut the crops of one image (from the crop manifest) and draw a preview."""

import _package  # noqa: F401

from weld_anomaly.preprocess import extract_crops
from weld_anomaly.runner import run_step

run_step(
    snakemake.log[0],
    extract_crops,
    image_h5=snakemake.input.image,
    crops=snakemake.params.crops,
    manifest_path=snakemake.params.manifest_path,
    out_h5=snakemake.output.crops,
    preview_png=snakemake.output.preview,
    image_id=snakemake.wildcards.image,
    fragment_size=snakemake.params.fragment_size,
    missing=snakemake.params.missing,
    preview_width=snakemake.params.preview_width,
)
