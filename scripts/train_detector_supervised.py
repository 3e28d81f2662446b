"""Fine-tune the flaw detector on the annotated validation images: a model per fold."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.backend, snakemake.threads)

from dataclasses import replace  # noqa: E402

from weld_anomaly.model.detector import DetectorSettings  # noqa: E402
from weld_anomaly.model.supervised import (  # noqa: E402
    SupervisedSettings,
    annotated_images,
    train_supervised,
)
from weld_anomaly.workflow.runner import run_step  # noqa: E402

detector = snakemake.params.detector
if not snakemake.params.images:  # nothing to learn from: say why, train nothing
    import json

    from weld_anomaly.files import write_text

    reason = (
        "detector.supervised is off"
        if not detector["supervised"]["enabled"]
        else "fewer than two annotated faulty validation images (data.annotations)"
    )
    write_text(snakemake.output.info, json.dumps({"enabled": False, "reason": reason}) + "\n")
    raise SystemExit(0)
run_step(
    snakemake.log[0],
    train_supervised,
    detector_path=snakemake.input.detector,
    train_crops_h5s=list(snakemake.input.train),
    annotated=annotated_images(
        dict(zip(snakemake.params.images, snakemake.input.annotated, strict=True)),
        snakemake.input.annotations[0],
        list(snakemake.input.masks),
    ),
    models_out=dict(zip(snakemake.params.folds, snakemake.output.models, strict=True)),
    info_out=snakemake.output.info,
    settings=SupervisedSettings.from_config(detector["supervised"]),
    detector=replace(DetectorSettings.from_config(detector), robust=snakemake.params.robust),
    precision=snakemake.params.precision,
)
