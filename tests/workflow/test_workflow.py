"""The workflow as users run it: real Snakemake runs on the tiny demo (profiles/test)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from conftest import BIN, as_user_data, copy_repo, snakemake
from dicom_factory import short_modality_lut

import weld_anomaly
from weld_anomaly.ingest import tiling
from weld_anomaly.ingest.inventory import read_manifest
from weld_anomaly.score import scorers

PROFILE = ("--workflow-profile", "profiles/test")


def job_counts(proc) -> dict[str, str]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    return dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, flags=re.M))


def test_lint_and_format(repo):
    proc = snakemake(repo, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr
    for command in (
        ["snakefmt", "--check", "."],
        ["ruff", "check", "src", "scripts", "tests"],
        ["ruff", "format", "--check", "src", "scripts", "tests"],
    ):
        done = subprocess.run(
            [str(BIN / command[0]), *command[1:]], cwd=repo, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def test_dry_run_of_the_default_demo_plans_every_stage(tmp_path):
    repo = copy_repo(tmp_path / "repo")  # a clean copy: no results of earlier runs
    proc = snakemake(repo, "-n", "--quiet", "rules")
    counts = job_counts(proc)
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    demo = config["demo"]
    n = demo["films"] + demo["faulty_films"] + demo["faulty_crops"]
    for rule in ("convert_image", "crop_and_fragment"):
        assert int(counts[rule]) == n
    for rule in (
        "generate_demo",
        "sort_images",
        "build_training_set",
        "train_autoencoder",
        "train_detector",
        "evaluate",
        "render_report",
    ):
        assert int(counts[rule]) == 1
    assert 0 < int(counts["score_fragments"]) < n


def test_tiny_run_produces_sane_outputs(tiny_run):
    records = read_manifest(tiny_run / "results/manifest.csv")
    assert {r.split for r in records} == {"train", "validation", "test"}
    config = yaml.safe_load((tiny_run / "config/test.yaml").read_text())
    size, stride = config["fragments"]["size"], config["fragments"]["stride"]
    for record in records:
        with h5py.File(tiny_run / f"results/crops/{record.image_id}.h5") as f:
            shapes = [f["crops"][name].shape for name in f.attrs["crop_names"]]
        with h5py.File(tiny_run / f"results/fragments/{record.image_id}.h5") as f:
            n = f["fragments"].shape[0]
            assert f["fragments"].dtype == "uint8" and f["fragments"].shape[1:] == (size, size)
        assert n == sum(tiling.fragment_count(h, w, size, stride) for h, w in shapes)
        assert (tiny_run / f"results/crops/{record.image_id}.png").stat().st_size > 1000
    with h5py.File(tiny_run / "results/train/train.h5") as f:
        assert len(f["fragments"].id.get_create_plist().get_chunk()) == 3  # one chunked dataset
        assert list(f.keys()) == ["fragments", "image_index"]

    metrics = json.loads((tiny_run / "results/metrics/evaluation.json").read_text())
    filters = len(config["score"]["residual_sigmas"]) + len(config["score"]["residual_lines"])
    contrast = len(config["score"]["contrast_sigmas"])
    # 13 thesis statistics, a residual map per filter and their combination, the baseline,
    # the noise-unit contrast scores, the flaw detector and its fusions with the contrast and
    # with the baseline, the detector fine-tuned on the annotated validation images
    assert len(metrics["scorers"]) == 13 + filters + 1 + 1 + contrast + 1 + 1 + 1 + 1
    assert {"detector", "fused", "contrast_s1p5"} <= set(metrics["scorers"])
    assert set(metrics["any_pixel"]["test"]) == set(metrics["scorers"])
    assert "residual_multiscale" in metrics["scorers"]
    assert "residual_l4" in metrics["scorers"]
    assert set(metrics["combined"]["residual_multiscale"]) == {
        c for c in metrics["scorers"] if c.startswith(("residual_s", "residual_l"))
    }
    predictor = json.loads((tiny_run / "results/model/texture_predictor.json").read_text())
    assert predictor["settings"] == config["score"]["texture_predictor"]
    assert len(predictor["weights"]) > 0 and predictor["pixels"] > 0
    scores = (
        pd.read_csv(tiny_run / "results/scores/" / f"{records[0].image_id}.csv")
        if (tiny_run / f"results/scores/{records[0].image_id}.csv").exists()
        else None
    )
    table = pd.read_csv(tiny_run / "results/evaluation/fragments.csv")
    assert set(table["split"]) == {"validation", "test"}
    assert scores is None or len(scores) > 0

    history = pd.read_csv(tiny_run / "results/model/history.csv")
    assert len(history) == config["train"]["epochs"] and history["loss"].gt(0).all()


# Every scorer's test AUROC and recall at 1 % FPR on the tiny run (standard protocol, the
# annotated test images), as measured with config/test.yaml (float32, CPU) on 2026-12-06:
# FLOORS_MEASURED. Each must stay within AUROC_MARGIN / RECALL_MARGIN of it: a scorer whose
# sign, scale or training breaks falls far below (a flipped contrast: recall 0.32 -> 0.03;
# a negated fusion: AUROC 0.78 -> 0.27). A new scorer needs its line here.
FLOORS_MEASURED = {
    "frag_sum": (0.664, 0.000),
    "frag_min": (0.618, 0.023),
    "frag_max": (0.649, 0.008),
    "frag_std": (0.576, 0.008),
    "recon_sum": (0.664, 0.000),
    "recon_min": (0.644, 0.023),
    "recon_max": (0.640, 0.023),
    "recon_std": (0.596, 0.000),
    "diff_sum": (0.360, 0.000),
    "diff_min": (0.497, 0.061),
    "diff_max": (0.582, 0.000),
    "diff_std": (0.462, 0.083),
    "mse": (0.454, 0.091),
    "residual_s1": (0.694, 0.121),
    "residual_s2": (0.755, 0.242),
    "residual_s3": (0.799, 0.242),
    "residual_s5": (0.810, 0.333),
    "residual_s8": (0.797, 0.326),
    "residual_l4": (0.730, 0.242),
    "residual_l8": (0.733, 0.212),
    "baseline": (0.722, 0.265),
    "contrast_s1p5": (0.776, 0.318),
    "detector": (0.781, 0.121),
    "detector_supervised": (0.782, 0.273),
    "residual_multiscale": (0.755, 0.273),
    "fused": (0.781, 0.288),
    "fused_filter": (0.770, 0.295),
}
AUROC_MARGIN, RECALL_MARGIN = 0.05, 0.2


def _separation(scorer: str, auroc: float) -> float:
    """A scorer's AUROC; for the thesis's statistics, whose direction the validation images
    choose (and on the tiny run often barely can), how far from chance either way."""
    from weld_anomaly.score import scorers

    return max(auroc, 1 - auroc) if scorers.for_column(scorer).orientation == "either" else auroc


def test_tiny_run_learns_and_detects(tiny_run):
    """A guard on quality: training lowers the losses, every scorer holds its measured
    AUROC and recall, and the chosen scorer is at least as good as the textbook filter."""
    history = pd.read_csv(tiny_run / "results/model/history.csv")
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    detector = json.loads((tiny_run / "results/model/detector.json").read_text())
    assert detector["loss"][-1] < detector["loss"][0]
    metrics = json.loads((tiny_run / "results/metrics/evaluation.json").read_text())
    test = metrics["any_pixel"]["test_annotated_images"]
    assert set(test) == set(FLOORS_MEASURED), "every scorer needs a floor (and no more)"
    low = {
        s: (test[s]["auroc"], test[s]["recall_at_fpr_1pct"])
        for s, (auroc, recall) in FLOORS_MEASURED.items()
        if _separation(s, test[s]["auroc"]) < _separation(s, auroc) - AUROC_MARGIN
        or test[s]["recall_at_fpr_1pct"] < recall - RECALL_MARGIN
    }
    assert not low, f"scorers below their floors (AUROC, recall at 1 % FPR): {low}"
    chosen, base = test[metrics["flag_statistic"]], test["baseline"]
    assert chosen["auroc"] >= base["auroc"] - 0.01, (metrics["flag_statistic"], chosen, base)
    assert chosen["recall_at_fpr_1pct"] >= base["recall_at_fpr_1pct"] - 0.05
    html = (tiny_run / "results/report/report.html").read_text()
    assert '<table id="metrics-table">' in html and "baseline" in html
    assert html.count("data:image/png;base64,") >= 4


def test_the_lab_evidence_of_the_tiny_run(tiny_run):
    """Intervals by resampling test images, POD by defect size (in mm: the demo's films and
    crops give their pixel size), false calls per weld and metre, and an audit trail on
    every finding."""
    metrics = json.loads((tiny_run / "results/metrics/evaluation.json").read_text())
    protocol = metrics["any_pixel"]
    intervals = protocol["test_annotated_intervals"]
    for scorer, figures in protocol["test_annotated_images"].items():
        low, high = intervals["scorers"][scorer]["auroc"]
        assert low <= figures["auroc"] <= high, scorer
    assert intervals["lead_over_filter"]["scorer"] == metrics["flag_statistic"]
    assert intervals["lead_over_filter"]["sentence"]
    fit = protocol["probability_of_detection"][metrics["flag_statistic"]]
    assert fit["unit"] == "mm" and fit["targets"] > 0 and fit["sentence"]
    calls = metrics["findings"]["false_calls"]
    assert calls["weld_length_m"] > 0 and calls["per_metre"] is not None
    assert calls["false_calls"] <= metrics["findings"]["count"]
    found = pd.read_csv(tiny_run / "results/findings/findings.csv", keep_default_na=False)
    if len(found):
        assert set(found["software"]) == {f"weld-anomaly {weld_anomaly.__version__}"}
        assert (found["config_sha256"].str.len() == 64).all()
        learned = scorers.for_column(metrics["flag_statistic"]).learned
        assert (found["models"].str.contains("autoencoder:") == learned).all()
    html = (tiny_run / "results/report/report.html").read_text()
    assert 'id="pod-table"' in html and 'id="flag-lead"' in html and 'id="false-calls"' in html


def test_a_finding_has_one_centre_in_the_table_the_index_and_its_weld_page(tiny_run):
    findings = pd.read_csv(tiny_run / "results/findings/findings.csv")
    index = (tiny_run / "results/report/report.html").read_text()
    shown = 0
    for f in findings.itertuples():  # the test welds' findings (the report shows those)
        page = tiny_run / f"results/report/welds/{f.image}.html"
        if not page.exists():
            continue
        centre = f"<td>{f.centre_x:.0f}, {f.centre_y:.0f}</td>"
        assert centre in index and centre in page.read_text(), (f.image, centre)
        shown += 1
    assert shown, "the tiny run should have findings on its test welds"


def test_the_supervised_detector_never_scores_what_it_learnt_from(tiny_run):
    """detector.supervised on the tiny run: fine-tuned on the 2 annotated validation images;
    each of them scored by the model that did not see it; no test image ever trained on."""
    records = {r.image_id: r for r in read_manifest(tiny_run / "results/manifest.csv")}
    annotated = sorted(
        i for i, r in records.items() if r.split == "validation" and r.status == "faulty"
    )
    info = json.loads((tiny_run / "results/model/supervised/info.json").read_text())
    assert info["images"] == annotated and len(annotated) == 2
    assert set(info["folds"]) == {"all", *annotated}
    for fold, entry in info["folds"].items():
        assert fold not in entry["trained_on"]
        assert all(records[i].split == "validation" for i in entry["trained_on"])
    cross = pd.read_csv(tiny_run / "results/scores/cross_fitted.csv")
    assert sorted(cross["image"].unique()) == annotated
    table = pd.read_csv(tiny_run / "results/evaluation/fragments.csv")
    merged = table.merge(cross, on=["image", "fragment"], suffixes=("", "_fold"))
    assert len(merged) == len(cross)  # the evaluation took the cross-fitted scores
    np.testing.assert_allclose(
        merged["detector_supervised"], merged["detector_supervised_fold"], rtol=1e-6
    )
    # the others were scored by the model of all: their own scores, from the scoring job
    first_test = next(i for i, r in records.items() if r.split == "test")
    own = pd.read_csv(tiny_run / f"results/scores/{first_test}.csv")
    assert "detector_supervised" in own


def test_no_personal_data_leaves_the_dicom_files(tiny_run):
    for path in (tiny_run / "results").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"DEMO^WELDER" not in data and b"Demo Weld Inspection Lab" not in data, path


def test_second_run_has_nothing_to_do_and_a_changed_dicom_reruns_one_chain(tiny_run):
    proc = snakemake(tiny_run, *PROFILE, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # the supervised detector's settings rerun it, not the unsupervised one it starts from
    tuned = ("--config", "detector={supervised: {learning_rate: 0.003}}")
    counts = job_counts(snakemake(tiny_run, *PROFILE, "-n", "--quiet", "rules", *tuned))
    assert "train_detector_supervised" in counts and "train_detector" not in counts, counts
    test_image = next(
        r
        for r in read_manifest(tiny_run / "results/manifest.csv")
        if r.split == "test" and r.file.endswith(".dcm")
    )
    # A new version of one radiograph. (A bare `touch` of a file under 1 MB re-runs nothing:
    # Snakemake compares the checksums of small inputs; the default demo's files are larger.)
    ds = pydicom.dcmread(tiny_run / test_image.file)
    ds.InstanceNumber = 99
    ds.save_as(tiny_run / test_image.file)
    proc = snakemake(tiny_run, *PROFILE, "-n", "--quiet", "rules")
    counts = job_counts(proc)
    assert counts == {
        "convert_image": "1",
        "crop_and_fragment": "1",
        "score_fragments": "1",
        "summarize_images": "1",
        "evaluate": "1",
        "export_findings": "1",  # the DICOM presentation states follow the findings
        "render_report": "1",
        "all": "1",
        "total": "8",
    }
    snakemake(tiny_run, *PROFILE, "--quiet")  # bring it back up to date


def test_jobs_of_many_images_give_the_same_files_and_recompute_only_what_changed(
    tiny_run, tmp_path
):
    """jobs.images_per_job: 4 (rules per batch of images, weld_anomaly.workflow.batches)."""
    work = copy_repo(tmp_path / "repo")
    batch = ("--config", "jobs={images_per_job: 4}")
    proc = snakemake(work, *PROFILE, "stage_fragments", *batch, "--quiet", "rules")
    counts = job_counts(proc)
    n_images = len(list((tiny_run / "results/images").glob("*.h5")))
    assert counts["convert_image_b00001"] == "1" and "convert_image" not in counts
    assert sum(k.startswith("crop_and_fragment_b") for k in counts) == -(-n_images // 4)
    # byte for byte what jobs of one image wrote (the tiny run)
    for folder in ("images", "crops", "fragments"):
        for path in sorted((tiny_run / "results" / folder).iterdir()):
            assert (work / "results" / folder / path.name).read_bytes() == path.read_bytes()
    # One radiograph changes: its batch's job runs again, the other images of the batch are
    # restored from the cache (the same files: hard links), and no other batch runs.
    ids = sorted(p.stem for p in (work / "results/images").glob("*.h5"))
    records = read_manifest(tiny_run / "results/manifest.csv")
    record = next(r for r in records if r.file.endswith(".dcm"))
    number = ids.index(record.image_id) // 4 + 1
    neighbours = [i for i in ids[(number - 1) * 4 : number * 4] if i != record.image_id]
    inodes = {i: (work / f"results/fragments/{i}.h5").stat().st_ino for i in neighbours}
    ds = pydicom.dcmread(work / record.file)
    ds.PixelData = ds.pixel_array[::-1].tobytes()  # a new exposure: other pixels
    ds.save_as(work / record.file)
    proc = snakemake(work, *PROFILE, "stage_fragments", *batch, "--quiet", "rules")
    counts = job_counts(proc)
    assert counts[f"convert_image_b{number:05d}"] == "1"
    assert counts[f"crop_and_fragment_b{number:05d}"] == "1"
    assert sum(k.endswith("_b" + f"{number:05d}") for k in counts) == 2, counts
    n = len(neighbours) + 1
    for step in ("convert_image", "crop_and_fragment"):
        log = (work / f"logs/{step}/b{number:05d}.log").read_text()
        assert f"{n} images: 1 computed, {n - 1} restored from the cache" in log, log
    assert {i: (work / f"results/fragments/{i}.h5").stat().st_ino for i in neighbours} == inodes
    # and nothing left to do
    proc = snakemake(work, *PROFILE, "stage_fragments", *batch, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_snakemake_report_builds(tiny_run, tmp_path):
    snakemake(tiny_run, *PROFILE, "--report", str(tmp_path / "report.html"))
    assert (tmp_path / "report.html").stat().st_size > 100_000


def test_config_error_is_one_line_and_stops_before_any_job(tiny_run):
    proc = snakemake(tiny_run, *PROFILE, "-n", "--config", "train={'epochs': 'ten'}", check=False)
    assert proc.returncode == 1
    line = "ERROR: --config (command line): key train.epochs: 'ten' is not of type 'integer'"
    assert line in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    # a typo in the user's own config file is blamed on that file, with the key it meant
    (tiny_run / "mine.yaml").write_text("train:\n  epoch: 3\n")
    proc = snakemake(tiny_run, *PROFILE, "-n", "--configfile", "mine.yaml", check=False)
    assert proc.returncode == 1
    assert "ERROR: mine.yaml: unknown key train.epoch (did you mean epochs?)" in proc.stderr


@pytest.fixture
def user_data(tiny_run, tmp_path):
    """A user's own data set (labels table, crop manifest) built from the tiny demo's DICOMs."""
    work = copy_repo(tmp_path / "repo")
    data = tmp_path / "data"
    shutil.copytree(tiny_run / "resources/demo-test", data)
    config = yaml.safe_load((work / "config/test.yaml").read_text())
    (work / "config/test.yaml").write_text(yaml.safe_dump(as_user_data(config, data)))
    return work, data


def test_wrong_crop_fails_with_one_line_and_keeps_finished_work(user_data):
    work, data = user_data
    crops = yaml.safe_load((data / "crops.yaml").read_text())
    image = sorted(crops["images"])[0]
    height, width = yaml.safe_load((work / "config/test.yaml").read_text())["demo"]["film_size"]
    crops["images"][image][0]["x"] = 700  # 700 px past the right edge of a full-width crop
    (data / "crops.yaml").write_text(yaml.safe_dump(crops))
    proc = snakemake(
        work,
        *PROFILE,
        "--keep-going",
        "results/manifest.csv",
        *[f"results/crops/{i}.h5" for i in sorted(crops["images"])],
        check=False,
    )
    assert proc.returncode != 0
    message = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert message == [
        f"ERROR: {data / 'crops.yaml'}, image {image}, crop weld: crop reaches outside the "
        f"{width}x{height} image: 700 px past the right edge (x + width = {width + 700} > "
        f"{width}). Move or shrink the crop in the crop manifest."
    ]
    assert not (work / f"results/crops/{image}.h5").exists()
    others = [i for i in sorted(crops["images"]) if i != image]
    assert all((work / f"results/crops/{i}.h5").exists() for i in others)


def test_missing_image_stops_the_plan_with_one_line(user_data):
    work, data = user_data
    lines = (data / "labels.csv").read_text().splitlines()
    image, file = lines[2].split(",")[:2]  # line 3 of the table
    missing = data / file
    missing.unlink()
    proc = snakemake(work, *PROFILE, "-n", check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert f"labels.csv, line 3: image '{image}' not found at {missing}" in errors[0]
    assert "MissingInputException" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout


def test_editing_one_images_crops_reruns_only_that_image(user_data):
    work, data = user_data
    crops = yaml.safe_load((data / "crops.yaml").read_text())
    ids = sorted(crops["images"])
    targets = [f"results/crops/{i}.h5" for i in ids]
    snakemake(work, *PROFILE, *targets)
    crops["images"][ids[1]][0]["height"] -= 2
    (data / "crops.yaml").write_text(yaml.safe_dump(crops))
    proc = snakemake(work, *PROFILE, *targets, "-n", "--quiet", "rules")
    counts = job_counts(proc)
    assert counts.get("crop_and_fragment") == "1" and counts.get("total") == "1"


def test_corrupt_radiograph_stops_or_is_skipped_and_listed(user_data):
    work, data = user_data
    bad = "weld_002"
    source = data / "images" / f"{bad}.dcm"
    source.write_bytes(source.read_bytes()[:5000])  # cut short in the pixel data
    proc = snakemake(work, *PROFILE, f"results/images/{bad}.h5", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"{bad}.dcm: pixel data holds" in errors[0]
    assert not (work / f"results/images/{bad}.h5").exists()

    # and one that makes the converter fail in a way nobody foresaw (a Modality LUT shorter
    # than its descriptor says): skip must not stop for it either
    odd = "weld_003"
    short_modality_lut(data / "images" / f"{odd}.dcm")
    config = yaml.safe_load((work / "config/test.yaml").read_text())
    config["convert"]["on_error"] = "skip"
    (work / "config/test.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, *PROFILE, "results/images.csv", f"results/fragments/{bad}.h5")
    table = pd.read_csv(work / "results/images.csv").set_index("image")
    assert bool(table.loc[bad, "rejected"]) and table.loc[bad, "error_class"] == "Truncated"
    assert bool(table.loc[odd, "rejected"]) and table.loc[odd, "error_class"] == "Unexpected"
    assert f"{odd}.dcm: the converter failed unexpectedly" in table.loc[odd, "error"]
    assert f"logs/convert_image/{odd}.log" in table.loc[odd, "error"]
    assert "Traceback" in (work / f"logs/convert_image/{odd}.log").read_text()
    assert table["rejected"].sum() == 2
    with h5py.File(work / f"results/fragments/{bad}.h5") as f:
        assert f["fragments"].shape[0] == 0 and f.attrs["rejected"]


def test_inspect_new_radiographs_with_the_trained_model(tiny_run, tmp_path):
    """The operator's mode: new files, the trained model, no retraining (rule and CLI)."""
    from dicom_factory import weld_pattern
    from PIL import Image

    new = tmp_path / "new"
    new.mkdir()
    # a radiograph the workflow evaluated, under a new name and with the same crop: the
    # inspection must flag exactly what the evaluation flagged
    evaluated = pd.read_csv(tiny_run / "results/evaluation/fragments.csv")
    source_id = evaluated.groupby("image")["flagged"].sum().idxmax()  # the most flags
    demo = tiny_run / "resources/demo-test"
    (new / "incoming_1.dcm").write_bytes((demo / "images" / f"{source_id}.dcm").read_bytes())
    crops = yaml.safe_load((demo / "crops.yaml").read_text())
    manifest = tmp_path / "crops.yaml"
    manifest.write_text(yaml.safe_dump({"images": {"incoming_1": crops["images"][source_id]}}))
    Image.fromarray((weld_pattern(128, 256) * 255).astype("uint8")).save(new / "scan_2.png")
    (new / "broken_3.dcm").write_bytes(b"not a radiograph")
    config = tiny_run / "config/test.yaml"
    original = config.read_text()
    data = yaml.safe_load(original)
    data["inspect"]["images_dir"] = str(new)
    data["inspect"]["crops"] = str(manifest)
    config.write_text(yaml.safe_dump(data))
    try:
        proc = snakemake(tiny_run, *PROFILE, "inspect_images")
        assert "train_autoencoder" not in proc.stdout + proc.stderr  # no retraining
    finally:
        config.write_text(original)
    out = tiny_run / "results/inspect"
    summary = pd.read_csv(out / "images.csv", keep_default_na=False)
    assert list(summary["image"]) == ["broken_3", "incoming_1", "scan_2"]
    assert (
        summary.set_index("image").loc["broken_3", "rejected"].startswith(str(new / "broken_3.dcm"))
    )
    assert (summary["fragments"] > 0).sum() == 2
    flagged = pd.read_csv(out / "flagged.csv")
    assert list(flagged.columns) == [
        "image",
        "crop",
        "x",
        "y",
        "size",
        "score",
        "statistic",
        "threshold",
    ]
    metrics = json.loads((tiny_run / "results/metrics/evaluation.json").read_text())
    assert set(flagged["statistic"]) <= {metrics["flag_statistic"]}
    mine = evaluated[(evaluated["image"] == source_id) & evaluated["flagged"]]
    again = flagged[flagged["image"] == "incoming_1"]
    assert len(again) == len(mine)  # (the tiny model may flag none)
    assert sorted(zip(again["x"], again["y"], strict=True)) == sorted(
        zip(mine["x"], mine["y"], strict=True)
    )
    assert (out / "incoming_1.png").exists() and (out / "scan_2.png").exists()
    assert "incoming_1" in (out / "report.html").read_text()
    # each inspected radiograph in the weld viewer, linked from the report
    assert sorted(p.name for p in (out / "welds").glob("*.html")) == [
        "incoming_1.html",
        "scan_2.html",
    ]
    assert 'href="welds/incoming_1.html"' in (out / "report.html").read_text()
    # the workflow's worklist, with findings outlined by confidence, not fragment grids
    assert 'id="worklist-table"' in (out / "report.html").read_text()
    assert "Magenta" not in (out / "report.html").read_text()
    assert (out / "welds/openseadragon.min.js").is_file()
    # the same findings as the run found in that radiograph, judged by the same yardstick
    run_findings = pd.read_csv(tiny_run / "results/findings/findings.csv")
    new_findings = pd.read_csv(out / "findings.csv")
    columns = ["crop", "x", "y", "width_px", "height_px", "confidence", "length_mm"]
    expected = run_findings[run_findings["image"] == source_id][columns].reset_index(drop=True)
    got = new_findings[new_findings["image"] == "incoming_1"][columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    # ... and, for DICOM files, as presentation states for the lab's viewer (run and inspect)
    assert (out / "dicom" / "incoming_1.dcm").exists() == bool(len(got))
    assert not (out / "dicom" / "scan_2.dcm").exists()  # a PNG has no UIDs to refer to
    exported = {p.stem for p in (tiny_run / "results/findings/dicom").glob("*.dcm")}
    with_findings = set(run_findings["image"])
    assert exported == {i for i in with_findings if (demo / "images" / f"{i}.dcm").exists()}

    cli = subprocess.run(
        [
            str(BIN / "weld-anomaly"),
            "inspect",
            str(new / "scan_2.png"),
            "--config",
            "config/test.yaml",
            "--out",
            str(tmp_path / "cli"),
        ],
        cwd=tiny_run,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip().endswith(f"Report: {tmp_path / 'cli' / 'report.html'}")
    # an input that cannot be read: the others inspected, then one line and exit 1, unless
    # told to skip; a folder stands for its radiographs (here two good ones and broken_3)
    bad = [str(new), str(tmp_path / "gone.png")]
    for skip in ([], ["--skip-unreadable"]):
        out_dir = tmp_path / f"bad{len(skip)}"
        done = subprocess.run(
            [str(BIN / "weld-anomaly"), "inspect", *bad, "--config", "config/test.yaml"]
            + ["--out", str(out_dir), *skip],
            cwd=tiny_run,
            capture_output=True,
            text=True,
        )
        assert "2 image(s) inspected" in done.stdout and "2 not readable" in done.stdout
        assert (out_dir / "report.html").is_file() and "Traceback" not in done.stderr
        listed = (out_dir / "images.csv").read_text()
        assert "gone.png: image file not found" in listed and "labels table" not in listed
        if skip:
            assert done.returncode == 0, done.stderr
        else:
            last = done.stderr.strip().splitlines()[-1]
            assert done.returncode == 1 and last.startswith("ERROR: 2 of 4 image(s)"), last
            assert "broken_3.dcm" in last, last
    # run outside the workflow's folder: the message says how to name the configuration
    outside = subprocess.run(
        [str(BIN / "weld-anomaly"), "inspect", str(new / "scan_2.png")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert outside.returncode == 1 and "--config" in outside.stderr.strip().splitlines()[-1]
    missing = subprocess.run(
        [
            str(BIN / "weld-anomaly"),
            "inspect",
            str(new / "scan_2.png"),
            "--model",
            "nope.keras",
            "--config",
            "config/test.yaml",
        ],
        cwd=tiny_run,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("ERROR: nope.keras: model not found")
    no_predictor = subprocess.run(
        [
            str(BIN / "weld-anomaly"),
            "inspect",
            str(new / "scan_2.png"),
            "--predictor",
            "nope.json",
            "--config",
            "config/test.yaml",
        ],
        cwd=tiny_run,
        capture_output=True,
        text=True,
    )
    assert no_predictor.returncode == 1
    assert (
        no_predictor.stderr.strip()
        .splitlines()[-1]
        .startswith("ERROR: nope.json: texture predictor not found")
    )


def test_suggested_crops_through_the_workflow(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "config/suggested.yaml").write_text("crops: {source: suggested}\n")
    snakemake(
        repo,
        "results/suggested_crops.yaml",
        "--cores",
        "2",
        "--configfile",
        "config/test.yaml",
        "config/suggested.yaml",
    )
    from weld_anomaly.ingest.manifests import Box, load_crop_manifest
    from weld_anomaly.ingest.suggest import iou

    suggested = load_crop_manifest(repo / "results/suggested_crops.yaml", 64)
    truth = yaml.safe_load((repo / "resources/demo-test/truth.yaml").read_text())["images"]
    assert set(suggested) == set(truth)
    # how well the boxes fit realistic films is tests/unit/test_suggest.py's; here: a weld
    # crop is never cut, and the boxes of the films lie on their welds and cover them
    for image_id, t in truth.items():
        boxes, weld = suggested[image_id], Box(*t["weld_box"])
        if t["kind"] == "crop":
            assert [(b.x, b.y, b.width, b.height) for b in boxes] == [tuple(t["weld_box"])]
            continue
        drawn = np.zeros(
            (max(b.y1 for b in [weld, *boxes]), max(b.x1 for b in [weld, *boxes])), bool
        )
        for b in boxes:
            drawn[b.y : b.y1, b.x : b.x1] = True
        inside = drawn[weld.y : weld.y1, weld.x : weld.x1].sum()
        assert inside >= 0.7 * drawn.sum() and inside >= 0.75 * weld.width * weld.height, (
            image_id,
            iou(boxes[0], weld),
        )
    # the fragments were cut from the suggested crops
    for image_id in truth:
        with h5py.File(repo / f"results/fragments/{image_id}.h5") as f:
            assert list(f.attrs["crop_names"]) == [c.name for c in suggested[image_id]]


def test_experiments_target(tiny_run, tmp_path):
    """`snakemake experiments` (tiny settings): the five thesis experiments, each with a
    number and a figure, experiments.json and the report's section; reruns nothing; the main
    report shows the section when report.experiments is true."""
    work = tmp_path / "repo"
    shutil.copytree(tiny_run, work, symlinks=True)
    snakemake(work, *PROFILE, "experiments")
    out = work / "results/experiments"
    summary = json.loads((out / "experiments.json").read_text())
    results = {e["experiment"]: e for e in summary["experiments"]}
    assert list(results) == ["lines", "digits", "shapes", "dirty", "training_length"]
    for e in results.values():  # the summary holds each experiment's own numbers
        own = json.loads((out / f"{e['experiment']}.json").read_text())
        assert e["auroc"] == own["auroc"] and e["primary"] in e["auroc"], e
        assert e["thesis"] and e["finding"] and isinstance(e["agrees"], bool)
        assert (work / e["figure"]).read_bytes()[:4] == b"\x89PNG"
    assert {(c["size"], c["depth"]) for c in results["shapes"]["grid"]} == {
        (28, 2),
        (32, 1),
        (32, 2),
    }
    length = results["training_length"]
    assert [r["epoch"] for r in length["epochs"]] == [1, 2]
    assert length["fragments"]["scored_defect"] > 0 and length["fragments"]["train"] == 64
    assert sorted(p.name for p in (out / "training_length/checkpoints").iterdir()) == [
        "epoch-001.weights.h5",
        "epoch-002.weights.h5",
    ]
    page = (out / "experiments.html").read_text()
    assert page.count('class="experiment"') == 5 and page.count("data:image/png;base64,") == 5
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(
        snakemake(work, *PROFILE, "experiments", "-n")
    )

    config = work / "config/test.yaml"
    data = yaml.safe_load(config.read_text())
    data["report"]["experiments"] = True
    config.write_text(yaml.safe_dump(data))
    proc = snakemake(work, *PROFILE)
    assert "experiment_synthetic" not in proc.stdout + proc.stderr  # reused, not rerun
    report = (work / "results/report/report.html").read_text()
    assert 'id="experiments"' in report and 'href="#experiments"' in report
    assert report.count('class="experiment"') == 5
