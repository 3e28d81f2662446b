"""Cut the crops of an image (from the crop manifest), draw a preview, fragment them: one
image, or a batch."""

import _package  # noqa: F401

from weld_anomaly.ingest.preprocess import crop_and_fragment
from weld_anomaly.workflow.batches import run_images

params = snakemake.params


def cut(job):
    crop_and_fragment(
        image_h5=job.input["image"],
        crops=job.params["crops"],
        manifest_path=(list(snakemake.input.manifest) or [params.manifest_path])[0],
        crops_h5=job.output["crops"],
        preview_png=job.output["preview"],
        fragments_h5=job.output["fragments"],
        image_id=job.image,
        size=params.size,
        stride=params.stride,
        missing=params.missing,
        preview_width=params.preview_width,
        suggest_margin=params.suggest_margin,
    )


run_images(
    snakemake,
    "crop_and_fragment",
    cut,
    inputs=["image"],
    outputs=["crops", "preview", "fragments"],
    params=["crops"],
)
