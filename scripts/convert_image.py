"""Convert one radiograph (DICOM, PNG or TIFF) to an 8- or 16-bit HDF5 image."""

import _package  # noqa: F401

from weld_anomaly.ingest.convert import ConvertSettings
from weld_anomaly.ingest.preprocess import convert_image
from weld_anomaly.workflow.runner import run_step

run_step(
    snakemake.log[0],
    convert_image,
    source=snakemake.input.source,
    out_h5=snakemake.output.image,
    settings=ConvertSettings.from_config(snakemake.params.convert),
    image_id=snakemake.wildcards.image,
    on_error=snakemake.params.convert["on_error"],
)
