# The HTML report, also registered in Snakemake's own report (snakemake --report).


rule render_report:
    input:
        manifest="results/manifest.csv",
        summary="results/images.csv",
        fragments="results/evaluation/fragments.csv",
        metrics="results/metrics/evaluation.json",
        findings="results/findings/findings.json",
        train_info="results/model/train.json",
        history="results/model/history.csv",
        crops=expand("results/crops/{image}.h5", image=ids("test")),
        reconstructions=expand("results/reconstructions/{image}.h5", image=ids("test")),
        # the weld viewer's films
        images=expand("results/images/{image}.h5", image=ids("test")),
        # the Data quality section's histograms and previews (report.quality_images)
        quality=expand("results/images/{image}.h5", image=quality_images()),
        previews=expand("results/crops/{image}.png", image=quality_images()),
        annotations=annotations_input,
        templates=[
            "src/weld_anomaly/report/templates/report.html.j2",
            "src/weld_anomaly/report/templates/_experiments.html.j2",
            "src/weld_anomaly/report/templates/_sweep.html.j2",
            "src/weld_anomaly/report/templates/_style.css",
            "src/weld_anomaly/report/templates/weld.html.j2",
            "src/weld_anomaly/report/templates/_weld.js",
        ],
        # report.experiments: true - the Experiments section (rules/experiments.smk)
        experiments=(
            ["results/experiments/experiments.json"]
            if config["report"]["experiments"]
            else []
        ),
        # report.sweep: true - the Hyperparameter sweep section (rules/sweep.smk)
        sweep=(
            [
                "results/sweep/sweep.json",
                "results/sweep/test.json",
                "results/sweep/sweep.png",
            ]
            if config["report"]["sweep"]
            else []
        ),
    output:
        html=report(
            REPORT_HTML,
            caption="../report/summary.rst",
            category="Summary",
            labels={"figure": "HTML report"},
        ),
        # the weld viewer: a page per test weld (report/viewer.py), linked from the worklist
        welds=directory("results/report/welds"),
        loss=report(
            "results/report/figures/loss.png",
            caption="../report/loss.rst",
            category="Training",
            labels={"figure": "loss curve"},
        ),
        scatter=report(
            "results/report/figures/scatter.png",
            caption="../report/scatter.rst",
            category="Scores",
            labels={"figure": "statistics scatter"},
        ),
        roc=report(
            "results/report/figures/roc.png",
            caption="../report/roc.rst",
            category="Scores",
            labels={"figure": "ROC curves"},
        ),
    log:
        "logs/render_report.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(4000),
        runtime=60,
    params:
        code=code("render_report"),
        size=config["fragments"]["size"],
        max_width=config["report"]["max_width"],
        config=canonical(config),
    script:
        "../scripts/render_report.py"
