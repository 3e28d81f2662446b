# Train the convolutional autoencoder on non-faulty fragments (on a GPU when there is one).


rule train_autoencoder:
    input:
        train="results/train/train.h5",
        validation="results/train/validation.h5",
    output:
        model="results/model/autoencoder.keras",
        weights="results/model/autoencoder.weights.h5",
        last="results/model/last.weights.h5",
        history="results/model/history.csv",
        info="results/model/train.json",
    log:
        "logs/train_autoencoder.log",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=retry_memory(8000),
        runtime=240,
    params:
        code=code("train_autoencoder"),
        train=group("train"),
        model=group("model"),
    script:
        "../scripts/train_autoencoder.py"


rule fit_texture_predictor:
    input:
        model="results/model/autoencoder.keras",
        fragments=expand("results/fragments/{image}.h5", image=texture_images()),
        crops=expand("results/crops/{image}.h5", image=texture_images()),
    output:
        TEXTURE_PREDICTOR,
    log:
        "logs/fit_texture_predictor.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=retry_memory(4000),
        runtime=30,
    params:
        code=code("fit_texture_predictor"),
        backend=config["train"]["backend"],
        score=group("score"),
    script:
        "../scripts/fit_texture_predictor.py"


rule train_detector:
    input:
        crops=expand("results/crops/{image}.h5", image=ids("train")),
    output:
        model=DETECTOR,
        info="results/model/detector.json",
    log:
        "logs/train_detector.log",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=retry_memory(8000),
        runtime=120,
    params:
        code=code("train_detector"),
        # the supervised detector's settings are its own rule's
        detector=group("detector", without=("supervised",)),
        robust=config["score"]["robust_normalisation"],
        backend=config["train"]["backend"],
        precision=config["train"]["precision"],
    script:
        "../scripts/train_detector.py"


# Learn from the lab's annotations (detector.supervised): the detector fine-tuned on the
# annotated validation images, a model per left-out image besides the one trained on all
# (none, and an info file saying why, when there are no such images).
rule train_detector_supervised:
    input:
        detector=DETECTOR if supervised_images() else [],
        train=(
            expand("results/crops/{image}.h5", image=ids("train"))
            if supervised_images()
            else []
        ),
        annotated=expand("results/crops/{image}.h5", image=supervised_images()),
        annotations=annotations_input if supervised_images() else [],
        masks=supervised_masks,
    output:
        info="results/model/supervised/info.json",
        models=expand("results/model/supervised/{fold}.keras", fold=supervised_folds()),
    log:
        "logs/train_detector_supervised.log",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=retry_memory(8000),
        runtime=120,
    params:
        code=code("train_detector_supervised"),
        detector=group("detector"),
        robust=config["score"]["robust_normalisation"],
        backend=config["train"]["backend"],
        precision=config["train"]["precision"],
        images=supervised_images(),
        folds=supervised_folds(),
    script:
        "../scripts/train_detector_supervised.py"


if supervised_images():

    rule score_cross_fitted:
        input:
            models=expand(
                "results/model/supervised/{image}.keras", image=supervised_images()
            ),
            crops=expand("results/crops/{image}.h5", image=supervised_images()),
            fragments=expand("results/fragments/{image}.h5", image=supervised_images()),
        output:
            scores="results/scores/cross_fitted.csv",
        log:
            "logs/score_cross_fitted.log",
        conda:
            "../envs/train.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=retry_memory(4000),
            runtime=30,
        params:
            code=code("score_cross_fitted"),
            backend=config["train"]["backend"],
            score=group("score"),
            images=supervised_images(),
        script:
            "../scripts/score_cross_fitted.py"
