# Weld radiograph anomaly detection: DICOM radiographs -> HDF5 -> crops -> 64x64 fragments
# -> convolutional autoencoder -> fragment scores -> evaluation -> HTML report.
# Run: snakemake --cores all            (the built-in demo; see README.md)


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/model.smk"
include: "rules/score.smk"
include: "rules/report.smk"
include: "rules/inspect.smk"
include: "rules/stages.smk"
include: "rules/experiments.smk"
include: "rules/sweep.smk"


localrules:
    all,
    inspect_images,
    stage_demo,
    stage_images,
    stage_fragments,
    stage_train,
    stage_score,
    stage_report,
    sweep,
    sweep_ask,
    sweep_choose,
    sweep_report,


rule all:
    default_target: True
    input:
        REPORT_HTML,
        # the findings of DICOM radiographs as DICOM presentation states, for lab viewers
        "results/findings/dicom",
        # crops.source: suggested - the crops found, as a draft manifest to review
        ["results/suggested_crops.yaml"] if SUGGESTED else [],


onsuccess:
    print_report_path()
