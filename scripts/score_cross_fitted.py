"""Score each annotated validation image with the supervised model that did not see it."""

import _package  # noqa: F401

from weld_anomaly.memory import keep_freed_memory
from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)
keep_freed_memory()  # many crop-sized maps made and freed: reuse the memory

from weld_anomaly.score.cross_fit import score_folds  # noqa: E402
from weld_anomaly.score.scorers import ScoreSettings  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

score = snakemake.params.score
images = snakemake.params.images
run_step(
    snakemake.log[0],
    score_folds,
    models=dict(zip(images, snakemake.input.models, strict=True)),
    crops_h5s=dict(zip(images, snakemake.input.crops, strict=True)),
    fragments_h5s=dict(zip(images, snakemake.input.fragments, strict=True)),
    out_csv=snakemake.output.scores,
    settings=ScoreSettings(
        median_size=score["baseline_median"],
        sigma=score["baseline_sigma"],
        robust=score["robust_normalisation"],
    ),
)
