"""What a scoring job pays before its first image, and what jobs of many images save.

In a workflow that has run (the demo: ``snakemake --cores all``, so that the model and the
fragments exist), the scoring of the first K validation/test images is forced again
through Snakemake, interleaved and repeated:

* *a job per image* (``jobs.images_per_job: 1``): K jobs, each a new Python process that
  imports Keras and its backend, loads the models and scores one image;
* *one job of K images* (``jobs.images_per_job: K``, its cache emptied first): one process.

Both are timed as whole ``snakemake`` runs (what a user waits for), minus a dry run of the
same command (planning). With ``T1`` and ``TK`` the two times, a job's start-up is
``s = (T1 - TK) / (K - 1)`` (each of the K jobs scores its image in the same time ``w``:
``T1 = K (s + w)``, ``TK = s + K w``). Usage::

    .venv/bin/python benchmarks/bench_startup.py [--workdir .] [--images 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def run(workdir: Path, targets: list[str], k: int, rule: str, dry: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one ``snakemake`` run forcing ``rule`` for ``targets``."""
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        *targets,
        "--cores",
        "1",
        "--forcerun",
        rule,
        "--rerun-incomplete",  # after an interrupted run of this script
        "--rerun-triggers",
        "mtime",  # only the forced scoring: no re-run of upstream steps for code changes
        "--config",
        f"jobs={{images_per_job: {k}}}",
        "--quiet",
        *(["-n"] if dry else []),
    ]
    start, cpu = time.perf_counter(), os.times()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    busy = (after.children_user - cpu.children_user) + (after.children_system - cpu.children_system)
    return wall, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT)
    parser.add_argument("--images", type=int, default=8, help="K")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from timing import calibration, host_line

    from weld_anomaly.ingest.inventory import read_manifest

    print(host_line(), flush=True)
    workdir, k = args.workdir.resolve(), args.images
    scored = sorted(
        r.image_id
        for r in read_manifest(workdir / "results/manifest.csv")
        if r.split in ("validation", "test")
    )[:k]
    if len(scored) < 2:
        raise SystemExit("need at least two validation/test images: run the workflow first")
    k = len(scored)
    targets = [f"results/scores/{i}.csv" for i in scored]
    cases = {
        "a job per image": (1, "score_fragments"),
        f"one job of {k}": (k, "score_fragments_b00001"),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    loads, calibrations = [], []
    for _ in range(args.repeat):
        for name, (per_job, rule) in cases.items():
            shutil.rmtree(workdir / ".cache/jobs/score_fragments", ignore_errors=True)
            calibrations.append(calibration())
            plan, _ = run(workdir, targets, per_job, rule, dry=True)
            wall, busy = run(workdir, targets, per_job, rule, dry=False)
            results[name].append(wall - plan)
            loads.append(busy / wall)
            print(
                f"# {name}: {wall - plan:.1f} s (+ {plan:.1f} s planning), CPU/wall "
                f"{busy / wall:.2f}, calibration {calibrations[-1]:.3f} s",
                file=sys.stderr,
                flush=True,
            )
    t1 = statistics.median(results["a job per image"])
    tk = statistics.median(results[f"one job of {k}"])
    startup = (t1 - tk) / (k - 1)
    print(
        f"CPU/wall of the runs: median {statistics.median(loads):.2f} (one core asked: ~1.0 "
        f"when nothing else ran); calibration step: median {statistics.median(calibrations):.3f}"
        f" s, slowest {max(calibrations):.3f} s, quickest {min(calibrations):.3f} s"
    )
    print("| scoring of K images | runs (s) | median | per image |")
    print("| --- | --- | ---: | ---: |")
    for name, times in results.items():
        median = statistics.median(times)
        runs = ", ".join(f"{t:.1f}" for t in times)
        print(f"| {name} | {runs} | {median:.1f} s | {median / k:.2f} s |")
    print(
        f"\nstart-up per job: {startup:.2f} s; 10,000 images' worth: {10000 * startup / 3600:.1f}"
        f" h as a job per image, {10000 / 50 * startup / 60:.1f} min in jobs of 50"
    )


if __name__ == "__main__":
    main()
