"""Score every fragment of an image with the autoencoder and the baselines: one image, or a
batch (the models are loaded once, and only when an image is not in the cache)."""

import _package  # noqa: F401

from weld_anomaly.memory import keep_freed_memory
from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)
keep_freed_memory()  # many crop-sized maps made and freed: reuse the memory

from weld_anomaly.score.scoring import ResidualSettings, load_model, score_image  # noqa: E402
from weld_anomaly.workflow.batches import run_images  # noqa: E402

settings = snakemake.params.score
models = {}


def score(job):
    if not models:
        models["model"] = load_model(snakemake.input.model)
        detector = snakemake.input.get("detector")
        models["detector"] = load_model(detector) if detector else None
        supervised = snakemake.input.get("supervised")
        models["supervised"] = load_model(supervised) if supervised else None
        predictor = snakemake.input.get("predictor") or None
        models["residual"] = ResidualSettings.from_config(settings, predictor)
    score_image(
        model_path=snakemake.input.model,
        model=models["model"],
        detector=models["detector"],
        fragments_h5=job.input["fragments"],
        crops_h5=job.input["crops"],
        out_csv=job.output["scores"],
        reconstructions_out=job.output["reconstructions"],
        image_id=job.image,
        residual=models["residual"],
        contrast_sigmas=tuple(settings["contrast_sigmas"]),
        batch_size=settings["batch_size"],
        median_size=settings["baseline_median"],
        sigma=settings["baseline_sigma"],
        robust=settings["robust_normalisation"],
        supervised=models["supervised"],
    )


run_images(
    snakemake,
    "score_fragments",
    score,
    inputs=["fragments", "crops"],
    outputs=["scores", "reconstructions"],
)
