# Helpers only (no rules): configuration checks, the image list, input functions.

import os
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from weld_anomaly.workflow import plan as _plan
from weld_anomaly.workflow.batches import inherit_settings
from weld_anomaly.workflow.batches import units as _units
from weld_anomaly.workflow.codedeps import code_digest
from weld_anomaly.errors import UserError as _UserError
from weld_anomaly.ingest.manifests import check_known_images, load_crop_manifest

# Planning a large archive fast relies on a few changes to Snakemake's internals, kept in
# one module written for one Snakemake version (weld_anomaly.workflow.snakemake_speedups;
# docs/snakemake-speedups.md says why and what upstream change would retire them).
from weld_anomaly.workflow.snakemake_speedups import per_job, apply as _apply_speedups
from weld_anomaly.workflow import search_space as _space

_apply_speedups()


def _stop(exc):
    """Stop the workflow with the one-line message of a user error (no traceback)."""
    print(f"ERROR: {exc.line()}", file=sys.stderr, flush=True)
    sys.exit(1)


try:
    _plan.type_overrides(config, dict(workflow.config_settings.config))
    _plan.validate_config(
        config,
        Path(workflow.basedir) / "schemas" / "config.schema.yaml",
        # the files in the order Snakemake applied them, to name the one with a mistake
        files=[
            Path(workflow.basedir) / "config" / "config.yaml",
            *workflow.config_settings.configfiles,
        ],
        overrides=dict(workflow.config_settings.config),
    )
    IMAGES = _plan.build_inventory(config)
    DATA = _plan.data_paths(config)
    # A crop manifest the user wrote is read now: each image's crops become parameters of
    # its own crop_and_fragment job, so editing one image's crops re-runs only that image.
    # The demo's manifest is written by generate_demo and read by the jobs instead.
    # crops.source: suggested - every image's weld is found by crop_and_fragment itself.
    SUGGESTED = config["crops"]["source"] == "suggested"
    USER_CROPS = (
        not SUGGESTED and config["data"]["source"] != "demo" and DATA.crops is not None
    )
    CROPS = (
        load_crop_manifest(DATA.crops, config["fragments"]["size"])
        if USER_CROPS
        else {}
    )
    check_known_images(CROPS, {r.image_id for r in IMAGES}, DATA.crops, "crop manifest")
    _space.check_space(_space.space_of(config["sweep"]["space"]), config)
except _UserError as exc:
    _stop(exc)

RECORDS = {r.image_id: r for r in IMAGES}
REPORT_HTML = "results/report/report.html"


wildcard_constraints:
    image=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def units(step, image_ids):
    """The rules of a per-image step: one ``{image}`` rule, or one per batch of
    ``jobs.images_per_job`` images (weld_anomaly.workflow.batches)."""
    return _units(step, list(image_ids), config["jobs"]["images_per_job"])


def job_cache(unit):
    """Where a batch's job keeps each image's outputs (None for a job of one image)."""
    return config["jobs"]["cache"] if unit.batched else None


def crop_previews(unit):
    """The crop previews of a unit, each shown in Snakemake's report under its image."""
    shown = dict(
        caption="../report/crop_preview.rst",
        category="Data",
        subcategory="Crop previews",
    )
    if not unit.batched:
        return report("results/crops/{image}.png", labels={"image": "{image}"}, **shown)
    return [
        flagged(f"results/crops/{image}.png", labels={"image": image}, **shown)
        for image in unit.images
    ]


flagged = report  # (a line may not start with `report`: Snakemake's keyword)


def files_of(images, *patterns):
    """An input function listing ``patterns`` (with ``{image}``) for every image (the DVC
    stage targets: only a requested stage lists its files)."""
    return lambda wildcards: [p.format(image=i) for i in images for p in patterns]


def canonical(value):
    """A config value with mapping keys sorted at every level.

    Snakemake compares parameters as written, key order included: without this, re-saving
    config/config.yaml with its keys in another order would re-run every job.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def group(name, without=()):
    """One group of the configuration (``convert``, ``train``, ...), as a parameter;
    ``without``: sub-keys the rule does not read (changing them does not rerun it)."""
    return canonical({k: v for k, v in config[name].items() if k not in without})


def ids(*splits, status=None):
    """Ids of the images in the given splits (and of one status, if given), sorted."""
    return [
        r.image_id
        for r in IMAGES
        if r.split in splits and (status is None or r.status == status)
    ]


_CODE = {}


def code(rule_name):
    """A digest of the package modules a rule's script imports, as a parameter of its jobs.

    Snakemake does not track imported code; with this parameter an edit to any module a
    job runs re-runs that job (DVC lists the same files as stage dependencies). Computed
    once per script (the rules of batches share it).
    """
    if rule_name not in _CODE:
        _CODE[rule_name] = code_digest(Path("scripts") / f"{rule_name}.py", "src")
    return _CODE[rule_name]


@per_job
def source_file(wildcards):
    return RECORDS[wildcards.image].file


def crop_manifest_input():
    """The demo's generated crop manifest (user manifests are passed as parameters)."""
    return [] if SUGGESTED or USER_CROPS or DATA.crops is None else [DATA.crops]


@per_job
def crops_of(wildcards):
    """The crops the user's manifest gives this image (None: read the generated manifest)."""
    if not USER_CROPS:
        return None
    return [asdict(c) for c in CROPS.get(wildcards.image, [])]


TEXTURE_PREDICTOR = "results/model/texture_predictor.json"


def quality_images():
    """The radiographs whose histograms and crop previews the report shows (the first
    ``report.quality_images`` of the manifest): the report lists no per-image file of the
    others, and Snakemake plans it without them."""
    return list(RECORDS)[: config["report"]["quality_images"]]


def texture_images():
    """The training images the texture predictor is fitted on: at most ``images``, evenly."""
    train = ids("train")
    limit = (config["score"]["texture_predictor"] or {}).get("images", 20)
    if len(train) <= limit:
        return train
    if limit <= 1:
        return train[:limit]
    return [train[round(i * (len(train) - 1) / (limit - 1))] for i in range(limit)]


@per_job
def texture_predictor_input(wildcards=None):
    """The fitted texture predictor, when score.texture_predictor is on (one path, not a list)."""
    return TEXTURE_PREDICTOR if config["score"]["texture_predictor"] else []


DETECTOR = "results/model/detector.keras"


@per_job
def detector_input(wildcards=None):
    """The trained flaw detector, when score.detector is on (one path, not a list)."""
    return DETECTOR if config["score"]["detector"] else []


SUPERVISED = "results/model/supervised"


def supervised_images():
    """The annotated images the supervised detector learns from: the faulty validation
    images, when the detector, annotations and detector.supervised are on (two at least:
    each is scored by a model trained on the others)."""
    on = config["score"]["detector"] and config["detector"]["supervised"]["enabled"]
    chosen = ids("validation", status="faulty") if on and DATA.annotations else []
    return chosen if len(chosen) >= 2 else []


def supervised_folds():
    """The supervised detector's models: all (every annotated image), and one per image."""
    return ["all", *supervised_images()] if supervised_images() else []


@per_job
def supervised_input(wildcards=None):
    """The supervised detector trained on every annotated image (one path, or none)."""
    return f"{SUPERVISED}/all.keras" if supervised_images() else []


@per_job
def cross_fitted_input(wildcards=None):
    """The annotated validation images' scores by the models that did not see them."""
    return "results/scores/cross_fitted.csv" if supervised_images() else []


@per_job
def supervised_masks(wildcards=None):
    """The defect masks of the annotated images the supervised detector learns from."""
    wanted = {f"{i}.png" for i in supervised_images()}
    return [m for m in masks_input() if Path(m).name in wanted]


@per_job
def annotations_input(wildcards=None):
    return [DATA.annotations] if DATA.annotations else []


@per_job
def masks_input(wildcards=None):
    """The defect masks of the validation and test images (the demo's are generated)."""
    if not DATA.masks:
        return []
    wanted = ids("validation", "test")
    if config["data"]["source"] == "demo":
        return [
            f"{DATA.masks}/{i}.png" for i in wanted if RECORDS[i].status == "faulty"
        ]
    return [
        f"{DATA.masks}/{i}.png"
        for i in wanted
        if Path(DATA.masks, f"{i}.png").is_file()
    ]


def inventory_table():
    """The image list as a parameter: a change in labels or splits re-runs sort_images."""
    return [[r.image_id, r.file, r.status, r.split] for r in IMAGES]


def print_report_path():
    # `make demo` prints it itself, after Snakemake's closing lines (the command's last line)
    path = Path(REPORT_HTML).resolve()
    if path.exists() and os.environ.get("WELD_ANOMALY_REPORT_LINE") != "0":
        print(f"\nReport: {path}\n", flush=True)


def retry_memory(base_mb):
    """A memory request (MB) that grows with each retry of a job."""

    def memory(wildcards, attempt):
        return base_mb * attempt

    return per_job(memory)


@per_job
def images_to_inspect(wildcards):
    """The radiographs under inspect.images_dir (listed when the inspect target is asked for)."""
    from weld_anomaly.ingest.inventory import list_images

    folder = config["inspect"]["images_dir"]
    return (
        [str(p) for p in list_images(folder, config["data"]["extensions"])]
        if folder
        else []
    )


def demo_outputs():
    """The files the demo generator writes (none when the data are the user's own)."""
    return rules.generate_demo.output if config["data"]["source"] == "demo" else []


SYNTHETIC_EXPERIMENTS = ["lines", "digits", "shapes", "dirty"]
EXPERIMENTS = [*SYNTHETIC_EXPERIMENTS, "training_length"]


@per_job
def experiment_settings(wildcards):
    """One synthetic experiment's settings, with the shared batch size and learning rate."""
    shared = config["experiments"]
    return canonical(
        {
            "batch_size": shared["batch_size"],
            "learning_rate": shared["learning_rate"],
            **shared[wildcards.experiment],
        }
    )


def sweep_rounds():
    """The sweep's trial numbers, round by round (sweep.trials, sweep.parallel per round)."""
    return _space.rounds(config["sweep"]["trials"], config["sweep"]["parallel"])


def sweep_results(trials):
    """The result files of the given sweep trials."""
    return [f"results/sweep/trials/{t}/result.json" for t in trials]


def sweep_results_before(wildcards):
    """The result files of every trial of the rounds before this one (sweep_ask)."""
    return sweep_results(range(sweep_rounds()[int(wildcards.round)][0]))


def sweep_round_file(wildcards):
    """The round file that holds a trial's settings (sweep_trial)."""
    trial = int(wildcards.trial)
    number = next(r for r, trials in enumerate(sweep_rounds()) if trial in trials)
    return f"results/sweep/rounds/{number}.json"


def print_sweep_path(log_path):
    """The sweep's page, on the console and in the target's log."""
    line = f"Sweep: {Path('results/sweep/sweep.html').resolve()}"
    Path(log_path).write_text(f"{line}\n")
    print(f"\n{line}\n", flush=True)


def sweep_space():
    """The sweep's settings: {path: range or choices} (weld_anomaly.workflow.sweep)."""
    return canonical(_space.space_of(config["sweep"]["space"]))


def sweep_groups():
    """The configuration groups a sweep's trial reads (its settings go on top of them)."""
    names = [*_space.GROUPS, "fragments", "evaluate"]
    return canonical({name: config[name] for name in names})


def sweep_trial_inputs(images, training=True):
    """A sweep job's inputs: the given images' fragments and crops, the image lists, the
    annotations and masks (validation images', and the given ones'); with ``training``
    also the training data of the autoencoder, the texture predictor and the detector.
    """
    wanted = {f"{i}.png" for i in [*ids("validation"), *images]}
    out = dict(
        fragments=expand("results/fragments/{image}.h5", image=images),
        crops=expand("results/crops/{image}.h5", image=images),
        manifest="results/manifest.csv",
        images="results/images.csv",
        annotations=annotations_input(),
        masks=[m for m in masks_input() if Path(m).name in wanted],
    )
    if training:
        out.update(
            train_h5="results/train/train.h5",
            validation_h5="results/train/validation.h5",
            train_crops=expand("results/crops/{image}.h5", image=ids("train")),
            texture_fragments=expand(
                "results/fragments/{image}.h5", image=texture_images()
            ),
            texture_crops=expand("results/crops/{image}.h5", image=texture_images()),
        )
    return out
