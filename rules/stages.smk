# One target per DVC stage (dvc.yaml runs `snakemake ... stage_<name>`). Every file a stage's
# rules write lies under that stage's DVC outs; tests/workflow/test_dvc.py checks it.


rule stage_demo:
    input:
        demo_outputs(),


rule stage_images:
    input:
        "results/manifest.csv",
        "results/images.csv",
        expand("results/images/{image}.h5", image=RECORDS),


rule stage_fragments:
    input:
        expand("results/crops/{image}.{ext}", image=RECORDS, ext=("h5", "png")),
        expand("results/fragments/{image}.h5", image=RECORDS),


rule stage_train:
    input:
        rules.build_training_set.output,
        rules.train_autoencoder.output,
        rules.train_detector.output,


rule stage_score:
    input:
        expand("results/scores/{image}.csv", image=ids("validation", "test")),
        expand("results/reconstructions/{image}.h5", image=ids("validation", "test")),
        rules.evaluate.output,
        rules.export_findings.output,


rule stage_report:
    input:
        rules.render_report.output,
