# One target per DVC stage (dvc.yaml runs `snakemake ... stage_<name>`). Every file a stage's
# rules write lies under that stage's DVC outs; tests/workflow/test_dvc.py checks it.
# Per-image lists are input functions: only a requested stage lists its files (a third of
# the parse time for 100,000 images otherwise).


rule stage_demo:
    input:
        demo_outputs(),


rule stage_images:
    input:
        "results/manifest.csv",
        "results/images.csv",
        files_of(RECORDS, "results/images/{image}.h5"),


rule stage_fragments:
    input:
        files_of(
            RECORDS,
            "results/crops/{image}.h5",
            "results/crops/{image}.png",
            "results/fragments/{image}.h5",
        ),


rule stage_train:
    input:
        rules.build_training_set.output,
        rules.train_autoencoder.output,
        rules.train_detector.output,
        rules.train_detector_supervised.output,


rule stage_score:
    input:
        files_of(
            ids("validation", "test"),
            "results/scores/{image}.csv",
            "results/reconstructions/{image}.h5",
        ),
        rules.evaluate.output,
        rules.export_findings.output,
        cross_fitted_input(),


rule stage_report:
    input:
        rules.render_report.output,
