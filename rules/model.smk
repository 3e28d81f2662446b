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
