# The hyperparameter sweep: `snakemake sweep` (not in the default run; sweep in the config).
# Rounds of trials: sweep_ask proposes a round's settings from the trials before it, a
# sweep_trial job per trial (a GPU each on a cluster) trains, scores and measures on the
# annotated validation images; sweep_choose picks the best; only then does sweep_test score
# the test images, once, with the chosen trial (weld_anomaly.workflow.sweep).


rule sweep_ask:
    input:
        # every trial of the rounds before
        sweep_results_before,
    output:
        "results/sweep/rounds/{round}.json",
    log:
        "logs/sweep/ask_{round}.log",
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sweep_ask"),
        numbers=lambda w: sweep_rounds()[int(w.round)],
        seed=config["sweep"]["seed"],
        startup=config["sweep"]["parallel"],
        space=sweep_space(),
        config=lambda w: sweep_groups(),
        annotated=bool(annotations_input() and ids("validation", status="faulty")),
    script:
        "../scripts/sweep_ask.py"


rule sweep_trial:
    input:
        **sweep_trial_inputs(ids("validation")),
        round=sweep_round_file,
    output:
        result="results/sweep/trials/{trial}/result.json",
        work=directory("results/sweep/trials/{trial}/work"),
    log:
        "logs/sweep/trial_{trial}.log",
    wildcard_constraints:
        trial=r"\d+",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=retry_memory(8000),
        runtime=360,
    params:
        code=code("sweep_trial"),
        config=lambda w: sweep_groups(),
        images=ids("validation"),
    script:
        "../scripts/sweep_trial.py"


rule sweep_choose:
    input:
        results=sweep_results(range(config["sweep"]["trials"])),
        work=expand(
            "results/sweep/trials/{trial}/work", trial=range(config["sweep"]["trials"])
        ),
    output:
        summary="results/sweep/sweep.json",
        config="results/sweep/chosen.yaml",
        dvc_args="results/sweep/dvc_exp_args.txt",
        study="results/sweep/study.journal",
    log:
        "logs/sweep/choose.log",
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("sweep_choose"),
        space=sweep_space(),
        config=lambda w: sweep_groups(),
        bootstrap=[
            config["evaluate"]["bootstrap"]["resamples"],
            config["evaluate"]["bootstrap"]["seed"],
        ],
    script:
        "../scripts/sweep_choose.py"


# The test images, once, with the chosen trial's models (after the choice is made).
rule sweep_test:
    input:
        **sweep_trial_inputs(ids("test"), training=False),
        summary="results/sweep/sweep.json",
        work=expand(
            "results/sweep/trials/{trial}/work", trial=range(config["sweep"]["trials"])
        ),
    output:
        test="results/sweep/test.json",
        scores=directory("results/sweep/test_scores"),
    log:
        "logs/sweep/test.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=retry_memory(4000),
        runtime=30,
    params:
        code=code("sweep_test"),
        config=lambda w: sweep_groups(),
        images=ids("test"),
    script:
        "../scripts/sweep_test.py"


rule sweep_report:
    input:
        summary="results/sweep/sweep.json",
        test="results/sweep/test.json",
    output:
        html="results/sweep/sweep.html",
        figure="results/sweep/sweep.png",
    log:
        "logs/sweep/report.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("sweep_report"),
    script:
        "../scripts/sweep_report.py"


rule sweep:
    input:
        "results/sweep/sweep.html",
    log:
        "logs/sweep/sweep.log",
    run:
        print_sweep_path(log[0])
