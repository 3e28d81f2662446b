"""How long Snakemake takes to plan the workflow for large archives (`snakemake -n`).

For each size, a scratch copy of the workflow gets a labels table of N images (empty
placeholder files: a dry run reads no pixels), a crop manifest with one crop per image and
`data.source: table`; then ``snakemake -n --quiet rules`` is timed (parse, config and
inventory checks, DAG of ~4 jobs per image, job stats). Usage::

    .venv/bin/python benchmarks/bench_dag.py [--sizes 1000 10000 100000] [--repeat 3] [--slurm]
        [--rules-from REV]

``--slurm`` plans with ``--workflow-profile profiles/slurm`` (what a cluster user runs:
the preprocessing jobs merged into group jobs of 50 images). Each size is also planned as a
*trivial workflow* with the same number of jobs (pairs of shell rules, ``a -> b``, plain
file names, no input functions, resources or scripts): the floor Snakemake itself sets.
``--rules-from REV`` adds the workflow with ``rules/`` and ``Snakefile`` as of git
revision REV (a before/after comparison in one session; with ``--images-per-job``, in
batches too). ``--images-per-job K`` adds this
checkout with ``jobs.images_per_job: K`` (rules per batch of K images), and beside it a
trivial workflow with the same batches (a rule per batch, per-image files, shell rules).

Snakemake imports every executor plugin when it starts; the Slurm plugin runs
``scontrol show config``, which waits ~9 s where Slurm's tools are installed but no
controller answers (this VM with its local Slurm stopped). Start the local Slurm
(``bash tests/slurm/slurm-local.sh start``) or run where no Slurm is installed.

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
sys.path.insert(0, str(Path(__file__).resolve().parent))
LOAD: list[float] = []  # CPU time / wall time of each dry run (see the table's note)
CALIBRATION: list[float] = []  # the calibration step timed before each dry run


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


def old_rules(workdir: Path, rev: str) -> None:
    """Replace the scratch copy's Snakefile and rules/ by those of git revision ``rev``."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "Snakefile", "rules"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for rel in listed:
        text = subprocess.run(
            ["git", "show", f"{rev}:{rel}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        (workdir / rel).write_bytes(text)


def make_trivial(workdir: Path, jobs: int) -> None:
    """A workflow of ``jobs`` jobs: pairs ``a -> b`` and one gathering rule."""
    workdir.mkdir(parents=True)
    pairs = (jobs - 1) // 2
    (workdir / "Snakefile").write_text(
        f"N = {pairs}\n"
        "rule all:\n    input: expand('t/{j}.b', j=range(N))\n"
        "rule a:\n    output: 't/{j}.a'\n    shell: 'touch {output}'\n"
        "rule b:\n    input: 't/{j}.a'\n    output: 't/{j}.b'\n    shell: 'touch {output}'\n"
    )


def make_trivial_batches(workdir: Path, n: int, k: int) -> None:
    """A workflow of ``n`` images in batches of ``k``: per batch, a rule ``a`` writing the
    batch's ``.a`` files and a rule ``b`` turning them into ``.b`` files; one gathering rule."""
    workdir.mkdir(parents=True)
    (workdir / "Snakefile").write_text(
        f"ids = [f'{{i:06d}}' for i in range({n})]\n"
        f"batches = [ids[s : s + {k}] for s in range(0, len(ids), {k})]\n"
        "rule all:\n    input: expand('t/{j}.b', j=ids)\n"
        "for n, batch in enumerate(batches):\n"
        "    rule:\n        name: f'a_{n}'\n"
        "        output: [f't/{j}.a' for j in batch]\n        shell: 'touch {output}'\n"
        "    rule:\n        name: f'b_{n}'\n        input: [f't/{j}.a' for j in batch]\n"
        "        output: [f't/{j}.b' for j in batch]\n        shell: 'touch {output}'\n"
    )


def dry_run(
    workdir: Path, slurm: bool = False, trivial: bool = False, per_job: int = 1
) -> tuple[float, int]:
    config = [] if trivial else ["--configfile", "config/archive.yaml"]
    if per_job > 1 and not trivial:
        config += ["--config", f"jobs={{images_per_job: {per_job}}}"]
    profile = ["--workflow-profile", "profiles/slurm"] if slurm and not trivial else []
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "-n",
        *profile,
        *config,
        "--quiet",
        "rules",
    ]
    from timing import calibration

    CALIBRATION.append(calibration())
    start = time.perf_counter()
    cpu = os.times()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=os.environ)
    elapsed = time.perf_counter() - start
    after = os.times()
    busy = (after.children_user - cpu.children_user) + (after.children_system - cpu.children_system)
    LOAD.append(busy / elapsed)
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
    parser.add_argument("--rules-from", help="also plan with rules/ of this git revision")
    parser.add_argument("--images-per-job", type=int, help="also plan batches of this size")
    parser.add_argument(
        "--batched-only", action="store_true", help="plan only the batches (and their trivial)"
    )
    args = parser.parse_args()
    from timing import host_line

    print(host_line(), flush=True)
    if args.batched_only and not args.images_per_job:
        parser.error("--batched-only needs --images-per-job")
    k = args.images_per_job
    variants = ["this checkout", *([f"rules of {args.rules_from}"] if args.rules_from else [])]
    batched = f"{k} images per job" if k else None
    # with --rules-from, the batches are also planned with the rules of that revision
    old_batched = f"rules of {args.rules_from}, {k} per job" if k and args.rules_from else None
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {}
        for n in args.sizes:
            for v, variant in enumerate(variants):
                dirs[n, variant] = Path(tmp) / f"n{n}-{v}"
                make_archive(dirs[n, variant], n)
                if v:
                    old_rules(dirs[n, variant], args.rules_from)
            if batched:
                dirs[n, batched] = dirs[n, variants[0]]
                if old_batched:
                    dirs[n, old_batched] = dirs[n, variants[1]]
                dirs[n, "trivial batches"] = Path(tmp) / f"n{n}-trivial-batches"
                make_trivial_batches(dirs[n, "trivial batches"], n, k)
        times: dict = {}
        jobs: dict = {}

        def plan(n, variant, **options):
            elapsed, jobs[n, variant] = dry_run(dirs[n, variant], **options)
            times.setdefault((n, variant), []).append(elapsed)
            print(f"# {n} images, {variant}: {elapsed:.1f} s", file=sys.stderr, flush=True)

        for _ in range(args.repeat):
            for n in args.sizes:
                for variant in [] if args.batched_only else variants:
                    plan(n, variant, slurm=args.slurm)
                if (n, "trivial") not in dirs and not args.batched_only:
                    dirs[n, "trivial"] = Path(tmp) / f"n{n}-trivial"
                    make_trivial(dirs[n, "trivial"], jobs[n, variants[0]])
                if not args.batched_only:
                    plan(n, "trivial", trivial=True)
                if batched:
                    plan(n, batched, slurm=args.slurm, per_job=k)
                    if old_batched:
                        plan(n, old_batched, slurm=args.slurm, per_job=k)
                    plan(n, "trivial batches", trivial=True)
    variants = [*([] if args.batched_only else [*variants, "trivial"])]
    variants += [batched, *([old_batched] if old_batched else []), "trivial batches"] * bool(k)
    print(
        f"CPU time / wall time of the dry runs: median {statistics.median(LOAD):.2f}, "
        f"lowest {min(LOAD):.2f} (Snakemake's scheduler waits: ~0.3 on an idle machine "
        f"for 1,000 images); calibration step before each: median "
        f"{statistics.median(CALIBRATION):.3f} s, slowest {max(CALIBRATION):.3f} s, "
        f"quickest {min(CALIBRATION):.3f} s (slower than the quickest: the CPU was shared)"
    )
    print("(vs trivial: against the trivial workflow with the same jobs and batches)")
    print("| images | workflow | jobs | dry run (median) | runs | per job | vs trivial |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        for variant in variants:
            in_batches = variant in (batched, old_batched, "trivial batches")
            floor = statistics.median(times[n, "trivial batches" if in_batches else "trivial"])
            median = statistics.median(times[n, variant])
            runs = ", ".join(f"{t:.1f}" for t in times[n, variant])
            print(
                f"| {n:,} | {variant} | {jobs[n, variant]:,} | {median:.1f} s | {runs} "
                f"| {1000 * median / jobs[n, variant]:.2f} ms | {median / floor:.2f}× |"
            )


if __name__ == "__main__":
    main()
