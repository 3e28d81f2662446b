"""Convert radiographs (DICOM, PNG or TIFF) to 8- or 16-bit HDF5 images: one, or a batch."""

import _package  # noqa: F401

from weld_anomaly.ingest.convert import ConvertSettings
from weld_anomaly.ingest.preprocess import convert_image
from weld_anomaly.workflow.batches import run_images

settings = ConvertSettings.from_config(snakemake.params.convert)


def convert(job):
    convert_image(
        source=job.input["source"],
        out_h5=job.output["image"],
        settings=settings,
        image_id=job.image,
        on_error=snakemake.params.convert["on_error"],
    )


run_images(snakemake, "convert_image", convert, inputs=["source"], outputs=["image"])
