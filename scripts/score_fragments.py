"""Score every fragment of one image with the autoencoder and the baseline."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from weld_anomaly.score.scoring import ResidualSettings, score_image  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402


def score(settings, predictor, **kwargs):
    return score_image(
        residual=ResidualSettings.from_config(settings, predictor),
        contrast_sigmas=tuple(settings["contrast_sigmas"]),
        **kwargs,
    )


settings = snakemake.params.score
run_step(
    snakemake.log[0],
    score,
    settings=settings,
    predictor=snakemake.input.get("predictor") or None,
    detector_path=snakemake.input.get("detector") or None,
    model_path=snakemake.input.model,
    fragments_h5=snakemake.input.fragments,
    crops_h5=snakemake.input.crops,
    out_csv=snakemake.output.scores,
    image_id=snakemake.wildcards.image,
    batch_size=settings["batch_size"],
    median_size=settings["baseline_median"],
    sigma=settings["baseline_sigma"],
    reconstructions_out=snakemake.output.reconstructions,
)
