"""How long Snakemake takes to plan the workflow for large archives (`snakemake -n`).

For each size, a scratch copy of the workflow gets a labels table of N images (empty
placeholder files: a dry run reads no pixels), a crop manifest with one crop per image and
`data.source: table`; then ``snakemake -n --quiet rules`` is timed (parse, config and
inventory checks, DAG of ~4 jobs per image, job stats). Usage::

    .venv/bin/python benchmarks/bench_dag.py [--sizes 1000 10000 100000] [--repeat 3] [--slurm]

``--slurm`` plans with ``--workflow-profile profiles/slurm`` (what a cluster user runs:
the preprocessing jobs merged into group jobs of 50 images).

Sizes are interleaved across repeats (this VM's speed drifts); prints a Markdown table
with the median per size and the time per image relative to the smallest size.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def make_archive(workdir: Path, n: int) -> None:
    from conftest import copy_repo

    copy_repo(workdir)
    images = workdir / "archive/images"
    images.mkdir(parents=True)
    rows = ["image,status"]
    crops = ["version: 1", "images:"]
    for i in range(n):
        name = f"W{i:06d}"
        (images / f"{name}.dcm").touch()
        rows.append(f"{name}.dcm,{'faulty' if i % 10 == 0 else 'nonfaulty'}")
        crops.append(f"  {name}:\n    - {{name: weld, x: 0, y: 100, width: 2048, height: 256}}")
    (workdir / "archive/labels.csv").write_text("\n".join(rows) + "\n")
    (workdir / "archive/crops.yaml").write_text("\n".join(crops) + "\n")
    (workdir / "config/archive.yaml").write_text(
        "data:\n  source: table\n  images_dir: archive/images\n"
        "  labels: archive/labels.csv\n  crops: archive/crops.yaml\n"
    )


def dry_run(workdir: Path, slurm: bool = False) -> tuple[float, int]:
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "-n",
        *(["--workflow-profile", "profiles/slurm"] if slurm else []),
        "--configfile",
        "config/archive.yaml",
        "--quiet",
        "rules",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=os.environ)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise SystemExit(f"dry run failed in {workdir}:\n{output}")
    total = re.search(r"^total\s+(\d+)$", done.stdout + done.stderr, re.M)
    return elapsed, int(total[1]) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slurm", action="store_true", help="plan with profiles/slurm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {}
        for n in args.sizes:
            dirs[n] = Path(tmp) / f"n{n}"
            make_archive(dirs[n], n)
        times: dict[int, list[float]] = {n: [] for n in args.sizes}
        jobs = {}
        for _ in range(args.repeat):
            for n in args.sizes:
                elapsed, jobs[n] = dry_run(dirs[n], args.slurm)
                times[n].append(elapsed)
                print(f"# {n} images: {elapsed:.1f} s", file=sys.stderr, flush=True)
    base = args.sizes[0]
    per_image_base = statistics.median(times[base]) / base
    print("| images | jobs | dry run (median) | runs | per image | per image vs smallest |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        median = statistics.median(times[n])
        print(
            f"| {n:,} | {jobs[n]:,} | {median:.1f} s | {', '.join(f'{t:.1f}' for t in times[n])} "
            f"| {1000 * median / n:.2f} ms | {median / n / per_image_base:.2f}× |"
        )


if __name__ == "__main__":
    main()
