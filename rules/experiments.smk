# The thesis's model experiments with numbers: `snakemake experiments` (not in the default
# run). One job per experiment; the last gathers the numbers and the report's section.


rule experiment_synthetic:
    output:
        json="results/experiments/{experiment}.json",
        figure="results/experiments/{experiment}.png",
    log:
        "logs/experiments/{experiment}.log",
    wildcard_constraints:
        experiment="|".join(SYNTHETIC_EXPERIMENTS),
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("experiment_synthetic"),
        settings=experiment_settings,
        seed=config["experiments"]["seed"],
        filters=config["model"]["filters"],
        backend=config["train"]["backend"],
    script:
        "../scripts/experiment_synthetic.py"


rule experiment_training_length:
    input:
        train="results/train/train.h5",
        validation="results/train/validation.h5",
        fragments=expand("results/fragments/{image}.h5", image=ids("validation")),
        annotations=annotations_input,
    output:
        json="results/experiments/training_length.json",
        figure="results/experiments/training_length.png",
        work=directory("results/experiments/training_length"),
    log:
        "logs/experiments/training_length.log",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=retry_memory(8000),
        runtime=120,
    params:
        code=code("experiment_training_length"),
        settings=canonical(config["experiments"]["training_length"]),
        train=group("train"),
        model=group("model"),
        min_overlap=config["evaluate"]["min_overlap"],
    script:
        "../scripts/experiment_training_length.py"


rule experiments:
    input:
        json=expand("results/experiments/{name}.json", name=EXPERIMENTS),
        figures=expand("results/experiments/{name}.png", name=EXPERIMENTS),
    output:
        summary="results/experiments/experiments.json",
        html="results/experiments/experiments.html",
    log:
        "logs/experiments/experiments.log",
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("experiments"),
    script:
        "../scripts/experiments.py"
