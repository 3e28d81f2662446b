# From radiographs to fragments: generate the demo, sort, convert, crop, fragment, gather.

DEMO_DIR = config["demo"]["out_dir"]


if config["data"]["source"] == "demo":

    rule generate_demo:
        input:
            code=code("generate_demo"),
        output:
            images=[RECORDS[i].file for i in RECORDS],
            labels=f"{DEMO_DIR}/labels.csv",
            annotations=f"{DEMO_DIR}/annotations.yaml",
            crops=f"{DEMO_DIR}/crops.yaml",
            truth=f"{DEMO_DIR}/truth.yaml",
        log:
            "logs/generate_demo.log",
        conda:
            "../envs/workflow.yaml"
        params:
            demo=group("demo"),
        script:
            "../scripts/generate_demo.py"


rule sort_images:
    input:
        labels=[DATA.labels] if config["data"]["source"] in ("demo", "table") else [],
        code=code("sort_images"),
    output:
        manifest="results/manifest.csv",
    log:
        "logs/sort_images.log",
    conda:
        "../envs/workflow.yaml"
    params:
        images=inventory_table(),
    script:
        "../scripts/sort_images.py"


rule convert_image:
    input:
        source=source_file,
        code=code("convert_image"),
    output:
        image="results/images/{image}.h5",
    log:
        "logs/convert_image/{image}.log",
    # one Slurm job runs many images' jobs (profiles/slurm: group-components)
    group:
        "preprocess"
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(2000),
        runtime=10,
    params:
        convert=group("convert"),
    script:
        "../scripts/convert_image.py"


rule summarize_images:
    input:
        manifest="results/manifest.csv",
        images=expand("results/images/{image}.h5", image=RECORDS),
        code=code("summarize_images"),
    output:
        table="results/images.csv",
    log:
        "logs/summarize_images.log",
    conda:
        "../envs/workflow.yaml"
    params:
        on_error=config["convert"]["on_error"],
    script:
        "../scripts/summarize_images.py"


rule extract_crops:
    input:
        image="results/images/{image}.h5",
        manifest=crop_manifest_input,
        code=code("extract_crops"),
    output:
        crops="results/crops/{image}.h5",
        preview=report(
            "results/crops/{image}.png",
            caption="../report/crop_preview.rst",
            category="Data",
            subcategory="Crop previews",
            labels={"image": "{image}"},
        ),
    log:
        "logs/extract_crops/{image}.log",
    # one Slurm job runs many images' jobs (profiles/slurm: group-components)
    group:
        "preprocess"
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(2000),
        runtime=10,
    params:
        crops=crops_of,
        manifest_path=DATA.crops or "",
        missing=config["crops"]["missing"],
        preview_width=config["crops"]["preview_width"],
        fragment_size=config["fragments"]["size"],
    script:
        "../scripts/extract_crops.py"


rule fragment_crops:
    input:
        crops="results/crops/{image}.h5",
        code=code("fragment_crops"),
    output:
        fragments="results/fragments/{image}.h5",
    log:
        "logs/fragment_crops/{image}.log",
    # one Slurm job runs many images' jobs (profiles/slurm: group-components)
    group:
        "preprocess"
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(2000),
        runtime=10,
    params:
        size=config["fragments"]["size"],
        stride=config["fragments"]["stride"],
    script:
        "../scripts/fragment_crops.py"


rule build_training_set:
    input:
        train=expand("results/fragments/{image}.h5", image=ids("train")),
        validation=expand(
            "results/fragments/{image}.h5", image=ids("validation", status="nonfaulty")
        ),
        code=code("build_training_set"),
    output:
        train="results/train/train.h5",
        validation="results/train/validation.h5",
    log:
        "logs/build_training_set.log",
    conda:
        "../envs/workflow.yaml"
    params:
        train_ids=ids("train"),
        validation_ids=ids("validation", status="nonfaulty"),
        on_error=config["convert"]["on_error"],
    script:
        "../scripts/build_training_set.py"
