"""Cut every crop of one image into overlapping square fragments."""

import _package  # noqa: F401

from weld_anomaly.preprocess import fragment_crops
from weld_anomaly.runner import run_step

run_step(
    snakemake.log[0],
    fragment_crops,
    crops_h5=snakemake.input.crops,
    out_h5=snakemake.output.fragments,
    size=snakemake.params.size,
    stride=snakemake.params.stride,
)
