"""Score every fragment of one image with the autoencoder and the baseline."""

import _package  # noqa: F401

from weld_anomaly.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from weld_anomaly.runner import run_step  # noqa: E402
from weld_anomaly.scoring import score_image  # noqa: E402

settings = snakemake.params.score
run_step(
    snakemake.log[0],
    score_image,
    model_path=snakemake.input.model,
    fragments_h5=snakemake.input.fragments,
    crops_h5=snakemake.input.crops,
    out_csv=snakemake.output.scores,
    image_id=snakemake.wildcards.image,
    batch_size=settings["batch_size"],
    median_size=settings["baseline_median"],
    sigma=settings["baseline_sigma"],
    residual_sigmas=settings["residual_sigmas"],
    mask_z=settings["marker_mask_z"],
    mask_dilate=settings["marker_mask_dilate"],
    reconstructions_out=snakemake.output.reconstructions,
)
