# From radiographs to fragments: generate the demo, sort, convert, crop, fragment, gather.

DEMO_DIR = config["demo"]["out_dir"]


if config["data"]["source"] == "demo":

    rule generate_demo:
        output:
            images=[RECORDS[i].file for i in RECORDS],
            labels=f"{DEMO_DIR}/labels.csv",
            annotations=f"{DEMO_DIR}/annotations.yaml",
            crops=f"{DEMO_DIR}/crops.yaml",
            truth=f"{DEMO_DIR}/truth.yaml",
            masks=[
                f"{DEMO_DIR}/masks/{r.image_id}.png"
                for r in IMAGES
                if r.status == "faulty"
            ],
        log:
            "logs/generate_demo.log",
        conda:
            "../envs/workflow.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            code=code("generate_demo"),
            demo=group("demo"),
        script:
            "../scripts/generate_demo.py"


rule sort_images:
    input:
        labels=[DATA.labels] if config["data"]["source"] in ("demo", "table") else [],
    output:
        manifest="results/manifest.csv",
    log:
        "logs/sort_images.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sort_images"),
        images=inventory_table(),
    script:
        "../scripts/sort_images.py"


# A job per image, or per batch of jobs.images_per_job images (rules <step>_b00001, ...).
for unit in units("convert_image", RECORDS):

    rule:
        name:
            unit.name
        input:
            source=unit.each(source_file),
        output:
            image=unit.paths("results/images/{image}.h5"),
        log:
            unit.log("logs/convert_image"),
        # one Slurm job runs many images' jobs (profiles/slurm: group-components)
        group:
            None if unit.batched else "preprocess"
        conda:
            "../envs/workflow.yaml"
        resources:
            mem_mb=retry_memory(2000),
            runtime=unit.runtime(10),
            image_jobs=1,  # counts the images a grouped Slurm job runs at once
        params:
            code=code("convert_image"),
            convert=group("convert"),
            images=unit.ids(),
            cache=job_cache(unit),
        script:
            "../scripts/convert_image.py"

    inherit_settings(workflow, unit)


rule summarize_images:
    input:
        manifest="results/manifest.csv",
        images=expand("results/images/{image}.h5", image=RECORDS),
        # its optional pixel_size_mm column: each image's pixel size
        labels=[DATA.labels] if config["data"]["source"] in ("demo", "table") else [],
    output:
        table="results/images.csv",
    log:
        "logs/summarize_images.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code("summarize_images"),
        on_error=config["convert"]["on_error"],
        pixel_size_mm=config["data"].get("pixel_size_mm"),
        min_snr_n=config["convert"].get("min_snr_n"),
    script:
        "../scripts/summarize_images.py"


for unit in units("crop_and_fragment", RECORDS):

    rule:
        name:
            unit.name
        input:
            image=unit.paths("results/images/{image}.h5"),
            manifest=crop_manifest_input(),  # the same for every image: no per-job call
        output:
            crops=unit.paths("results/crops/{image}.h5"),
            preview=crop_previews(unit),
            fragments=unit.paths("results/fragments/{image}.h5"),
        log:
            unit.log("logs/crop_and_fragment"),
        # one Slurm job runs many images' jobs (profiles/slurm: group-components)
        group:
            None if unit.batched else "preprocess"
        conda:
            "../envs/workflow.yaml"
        resources:
            mem_mb=retry_memory(2000),
            runtime=unit.runtime(10),
            image_jobs=1,  # counts the images a grouped Slurm job runs at once
        params:
            code=code("crop_and_fragment"),
            crops=unit.values(crops_of),
            # the user's manifest, for messages (the demo's is the input `manifest`)
            manifest_path=DATA.crops if USER_CROPS else "",
            missing=config["crops"]["missing"],
            preview_width=config["crops"]["preview_width"],
            size=config["fragments"]["size"],
            stride=config["fragments"]["stride"],
            suggest_margin=config["crops"]["suggest_margin"] if SUGGESTED else None,
            images=unit.ids(),
            cache=job_cache(unit),
        script:
            "../scripts/crop_and_fragment.py"

    inherit_settings(workflow, unit)


rule gather_suggested_crops:
    input:
        crops=expand("results/crops/{image}.h5", image=RECORDS),
    output:
        manifest="results/suggested_crops.yaml",
    log:
        "logs/gather_suggested_crops.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("gather_suggested_crops"),
    script:
        "../scripts/gather_suggested_crops.py"


rule build_training_set:
    input:
        train=expand("results/fragments/{image}.h5", image=ids("train")),
        validation=expand(
            "results/fragments/{image}.h5", image=ids("validation", status="nonfaulty")
        ),
    output:
        train="results/train/train.h5",
        validation="results/train/validation.h5",
    log:
        "logs/build_training_set.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        mem_mb=retry_memory(4000),
        runtime=60,
    params:
        code=code("build_training_set"),
        train_ids=ids("train"),
        validation_ids=ids("validation", status="nonfaulty"),
        on_error=config["convert"]["on_error"],
    script:
        "../scripts/build_training_set.py"
