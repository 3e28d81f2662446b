# Score every validation and test fragment, then calibrate thresholds and evaluate.


# A job per image, or per batch of jobs.images_per_job images (rules <step>_b00001, ...).
for unit in units("score_fragments", ids("validation", "test")):

    rule:
        name:
            unit.name
        input:
            model="results/model/autoencoder.keras",
            fragments=unit.paths("results/fragments/{image}.h5"),
            crops=unit.paths("results/crops/{image}.h5"),
            predictor=texture_predictor_input,
            detector=detector_input,
            supervised=supervised_input,
        output:
            scores=unit.paths("results/scores/{image}.csv"),
            reconstructions=unit.paths("results/reconstructions/{image}.h5"),
        log:
            unit.log("logs/score_fragments"),
        conda:
            "../envs/train.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=retry_memory(4000),
            runtime=unit.runtime(10),
        params:
            code=code("score_fragments"),
            backend=config["train"]["backend"],
            score=group("score"),
            images=unit.ids(),
            cache=job_cache(unit),
        script:
            "../scripts/score_fragments.py"

    inherit_settings(workflow, unit)


rule evaluate:
    input:
        manifest="results/manifest.csv",
        images="results/images.csv",
        scores=expand("results/scores/{image}.csv", image=ids("validation", "test")),
        annotations=annotations_input,
        masks=masks_input,
        cross_fitted=cross_fitted_input,
        # where each finding's indication is measured
        crops=expand("results/crops/{image}.h5", image=ids("validation", "test")),
        # their digests go into every finding (the audit trail)
        autoencoder="results/model/autoencoder.weights.h5",
        detector=detector_input,
        supervised=supervised_input,
    output:
        fragments="results/evaluation/fragments.csv",
        metrics="results/metrics/evaluation.json",
        headline="results/metrics/headline.json",
        roc="results/metrics/roc.csv",
        findings="results/findings/findings.csv",
        findings_json="results/findings/findings.json",
    log:
        "logs/evaluate.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(4000),
        runtime=30,
    params:
        code=code("evaluate"),
        size=config["fragments"]["size"],
        evaluate=group("evaluate"),
    script:
        "../scripts/evaluate.py"


rule export_findings:
    input:
        findings="results/findings/findings.json",
        sources=[RECORDS[i].file for i in ids("validation", "test")],
    output:
        folder=directory("results/findings/dicom"),
    log:
        "logs/export_findings.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code("export_findings"),
        images=ids("validation", "test"),
    script:
        "../scripts/export_findings.py"
