"""Train the autoencoder; the Keras backend is chosen here, before Keras is imported."""

import _package  # noqa: F401

from weld_anomaly.model.backend import configure

configure(snakemake.params.train["backend"], snakemake.threads)

from weld_anomaly.model.training import train  # noqa: E402
from weld_anomaly.workflow.runner import run_step  # noqa: E402

settings = snakemake.params.train
run_step(
    snakemake.log[0],
    train,
    train_h5=snakemake.input.train,
    validation_h5=snakemake.input.validation,
    model_out=snakemake.output.model,
    weights_out=snakemake.output.weights,
    last_weights_out=snakemake.output.last,
    history_out=snakemake.output.history,
    info_out=snakemake.output.info,
    epochs=settings["epochs"],
    batch_size=settings["batch_size"],
    learning_rate=settings["learning_rate"],
    seed=settings["seed"],
    precision=settings["precision"],
    architecture=snakemake.params.model["architecture"],
    filters=tuple(snakemake.params.model["filters"]),
    early_stopping_patience=settings["early_stopping_patience"],
    memory_limit_mb=settings["memory_limit_mb"],
    workers=settings["workers"],
    resume_dir=settings["resume_dir"],
    corruption=settings["corruption"],
    blemish_max_radius=settings["blemish_max_radius"],
    fragments_per_epoch=settings["fragments_per_epoch"],
)
