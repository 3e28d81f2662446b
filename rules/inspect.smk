# Inspect new radiographs with the trained model and calibrated thresholds (no retraining):
# `snakemake inspect_images` with inspect.images_dir set in the configuration.


rule inspect_images:
    input:
        model="results/model/autoencoder.keras",
        metrics="results/metrics/evaluation.json",
        predictor=texture_predictor_input,
        detector=detector_input,
        images=images_to_inspect,
    output:
        directory("results/inspect"),
    log:
        "logs/inspect.log",
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=retry_memory(8000),
        runtime=120,
    params:
        code=code("inspect_images"),
        config=canonical(config),
        crops=config["inspect"]["crops"],
    script:
        "../scripts/inspect_images.py"
