"""The workflow on a real Slurm, through snakemake-executor-plugin-slurm and profiles/slurm.

Marker ``slurm``: part of the default suite (``make test`` starts the local cluster).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo, quick_sweep, shrink_test_config, snakemake
from slurm_harness import sacct, site_profile, start_cluster

pytestmark = pytest.mark.slurm

PER_JOB = 5  # images per job (the shipped profile: 50)
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: \S*/logs/slurm/(\w+)/")


def submissions(proc) -> dict[str, list[str]]:
    """{Slurm log folder (rule_<name> or group_<name>_...): [job ids]} from Snakemake's output."""
    found: dict[str, list[str]] = {}
    for jobid, folder in SUBMITTED.findall(proc.stdout + proc.stderr):
        found.setdefault(folder, []).append(jobid)
    return found


@dataclass
class SlurmRun:
    repo: Path
    profile: str
    failed: subprocess.CompletedProcess  # the first run, with one corrupt radiograph
    bad: Path  # that radiograph
    done_before: dict[str, int]  # fragments files the failed run finished, and their times
    proc: subprocess.CompletedProcess  # the run after the fix, to the end


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> SlurmRun:
    """The tiny workflow through sbatch: a run that fails on a corrupt file, then the fix.

    One scenario for several tests (each Slurm run costs minutes of status polling): the
    first run goes up to the fragments with one truncated DICOM among two batches of 5
    images (the profile's jobs of many images, here 5 instead of 50); after the intact file
    is put back the whole workflow runs, and a sweep's first round of trials beside it.
    """
    tmp = tmp_path_factory.mktemp("slurm")
    repo = copy_repo(tmp / "repo")
    shrink_test_config(repo)  # Slurm's machinery is under test here, not the models
    config = yaml.safe_load((repo / "config/test.yaml").read_text())
    (repo / "config/test.yaml").write_text(yaml.safe_dump(quick_sweep(config, parallel=2)))
    profile = site_profile(repo, config=[f"jobs={{images_per_job: {PER_JOB}}}"])
    snakemake(repo, "stage_demo", "--cores", "1", "--configfile", "config/test.yaml")
    bad = sorted((repo / "resources/demo-test/images").glob("*.dcm"))[3]
    good_copy = tmp / bad.name
    shutil.copy2(bad, good_copy)
    bad.write_bytes(good_copy.read_bytes()[:5000])  # truncated: a corrupt radiograph
    failed = snakemake(
        repo, "--workflow-profile", profile, "stage_fragments", check=False, timeout=600
    )
    done = {p.name: p.stat().st_mtime_ns for p in (repo / "results/fragments").glob("*.h5")}
    shutil.copy2(good_copy, bad)  # the fix: the intact file back (its original time)
    # the whole workflow, and beside it a sweep's round of 2 trials (snakemake sweep)
    proc = snakemake(repo, "--workflow-profile", profile, "all", "results/sweep/sweep.json")
    return SlurmRun(repo, profile, failed, bad, done, proc)


def batch_of(repo: Path, path: Path) -> int:
    """The number of the batch (rules <step>_b00001...) that holds an image."""
    ids = sorted(p.stem for p in (repo / "results/images").glob("*.h5"))
    return ids.index(path.stem) // PER_JOB + 1


def test_tiny_workflow_runs_end_to_end_through_sbatch(slurm_run):
    repo, proc = slurm_run.repo, slurm_run.proc
    assert (repo / "results/report/report.html").stat().st_size > 0
    jobs = submissions(proc)
    # the per-image steps ran as jobs of 5 images; after the failed first run only the
    # batch that had failed was left to convert and fragment
    number = batch_of(repo, slurm_run.bad)
    preprocessing = sorted(f for f in jobs if f.startswith(("rule_convert", "rule_crop")))
    assert preprocessing == [
        f"rule_convert_image_b{number:05d}",
        f"rule_crop_and_fragment_b{number:05d}",
    ]
    assert "rule_generate_demo" not in jobs and not any(f.startswith("group_") for f in jobs)
    # scoring: a GPU job per batch of validation/test images
    n_scored = len(list((repo / "results/scores").glob("*.csv")))
    scoring = [f for f in jobs if f.startswith("rule_score_fragments_b")]
    assert len(scoring) == -(-n_scored // PER_JOB) and n_scored > 1
    assert "rule_train_autoencoder" in jobs
    # Slurm's accounting saw the jobs finish, the GPU jobs with a GPU allocated
    ids = {i for v in jobs.values() for i in v}
    records = {r["JobID"]: r for r in sacct("JobID", "State", "AllocTRES")}
    assert all(records[i]["State"] == "COMPLETED" for i in ids)
    assert all("gres/gpu=1" in records[jobs[f][0]]["AllocTRES"] for f in scoring)
    (train_id,) = jobs["rule_train_autoencoder"]
    assert "gres/gpu=1" in records[train_id]["AllocTRES"]


def test_training_gets_a_gpu_and_falls_back_to_cpu_with_a_warning(slurm_run):
    repo = slurm_run.repo
    log = (repo / "logs/train_autoencoder.log").read_text()
    assert re.search(r"a GPU was allocated to this job \(CUDA_VISIBLE_DEVICES=\d\)", log), log
    assert "running on the CPU" in log
    scoring = "".join(p.read_text() for p in (repo / "logs/score_fragments").glob("*.log"))
    assert "CUDA_VISIBLE_DEVICES=" in scoring


def test_failed_job_fails_the_run_and_the_rerun_keeps_finished_work(slurm_run):
    repo, bad, failed = slurm_run.repo, slurm_run.bad, slurm_run.failed
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    number = batch_of(repo, bad)
    assert f"Error in rule convert_image_b{number:05d}" in output, output[-3000:]
    # the failed job's log, shown in the console, names the broken file and what to do
    assert re.search(rf"ERROR: \S*{bad.name}: .*Copy the file again", output), output[-3000:]
    n_images = len(list(bad.parent.glob("*.dcm")))
    assert 0 < len(slurm_run.done_before) < n_images  # the other group job finished
    # the rerun after the fix kept that work and completed the rest
    for name, mtime in slurm_run.done_before.items():
        assert (repo / "results/fragments" / name).stat().st_mtime_ns == mtime, name
    assert (repo / "results/fragments" / f"{bad.stem}.h5").exists()
    assert slurm_run.proc.returncode == 0
    # the images of the failed batch converted before the broken one came from the cache
    ids = sorted(p.stem for p in (repo / "results/images").glob("*.h5"))
    batch = ids[(number - 1) * PER_JOB : number * PER_JOB]
    before = batch.index(bad.stem)
    log = (repo / f"logs/convert_image/b{number:05d}.log").read_text()
    line = f"{len(batch)} images: {len(batch) - before} computed, {before} restored from the cache"
    assert line in log, log


def test_gpu_request_on_a_cluster_without_gpus_fails_fast(slurm_run):
    repo, profile = slurm_run.repo, slurm_run.profile
    start_cluster(gpus=0)  # the fixture restores the two fake GPUs afterwards
    try:  # a hang would end in the subprocess timeout
        proc = snakemake(
            repo,
            "--workflow-profile",
            profile,
            "results/model/autoencoder.keras",
            "--forcerun",
            "train_autoencoder",
            check=False,
            timeout=300,
        )
    finally:
        start_cluster(gpus=2)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Invalid generic resource (gres) specification" in output, output[-3000:]


def test_sweep_trials_run_as_separate_gpu_jobs(slurm_run):
    """`snakemake sweep` on the cluster: a round of 2 trials, a Slurm job with a GPU each."""
    repo = slurm_run.repo
    jobs = submissions(slurm_run.proc)
    assert len(jobs.get("rule_sweep_trial", [])) == 2, jobs
    assert "rule_sweep_ask" not in jobs and "rule_sweep_choose" not in jobs  # local rules
    records = {r["JobID"]: r for r in sacct("JobID", "State", "AllocTRES")}
    for jobid in jobs["rule_sweep_trial"]:
        assert records[jobid]["State"] == "COMPLETED"
        assert "gres/gpu=1" in records[jobid]["AllocTRES"]
    assert '"chosen"' in (repo / "results/sweep/sweep.json").read_text()
    for trial in (0, 1):
        log = (repo / f"logs/sweep/trial_{trial}.log").read_text()
        assert "CUDA_VISIBLE_DEVICES=" in log and "validation AUROC" in log
