"""`weld-anomaly inspect`: seconds per radiograph for 1 and for N radiographs in one call.

In a workflow that has run (``--workdir``; the demo: ``snakemake --cores all``, so that the
models and the calibrated threshold exist), with the ``weld-anomaly`` of the Python that runs
this script, one of its whole films (DICOM) is copied N times under new
names and inspected by the command a user runs, as a whole process (start-up, model
loading, conversion, scoring, findings, report), interleaved and repeated::

    .venv/bin/python benchmarks/bench_inspect.py [--workdir .] [--images 100] [--repeat 3]

Prints the median wall time of one call with 1 image and of one call with N, the seconds per
image of each, the start-up estimate (T1 - (TN - T1) / (N - 1)), each call's CPU time /
wall time (children's CPU: the load) and the calibration step before each (timing.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import calibration, host_line

ROOT = Path(__file__).resolve().parents[1]


def _call(workdir: Path, images: list[Path], out: Path) -> tuple[float, float]:
    """Wall seconds of one `weld-anomaly inspect` call, and its CPU time / wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "weld-anomaly"), "inspect", *map(str, images)]
        + ["--out", str(out)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu / wall


def _megapixels(films: list[Path], n: int) -> float:
    """The mean size of the first ``n`` inspected images (the films taken in turn), in MP."""
    import pydicom

    sizes = []
    for film in films:
        header = pydicom.dcmread(film, stop_before_pixels=True)
        sizes.append(header.Rows * header.Columns / 1e6)
    return sum(sizes[i % len(films)] for i in range(n)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(host_line(), flush=True)
    workdir = args.workdir.resolve()
    films = sorted((workdir / "resources/demo/images").glob("*.dcm"))
    if not films:
        raise SystemExit(f"no demo films in {workdir}/resources/demo/images: run the demo first")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        copies = []
        for i in range(args.images):
            copies.append(folder / f"incoming_{i:04d}.dcm")
            shutil.copyfile(films[i % len(films)], copies[-1])
        times: dict[int, list[float]] = {1: [], args.images: []}
        loads, calibrations = [], []
        for r in range(args.repeat):
            for n in times:
                calibrations.append(calibration())
                wall, load = _call(workdir, copies[:n], folder / f"out-{n}-{r}")
                times[n].append(wall)
                loads.append(load)
    t1, tn = (statistics.median(times[n]) for n in times)
    n = args.images
    print(f"film: {films[0].name} ({films[0].stat().st_size / 1e6:.1f} MB); {args.repeat} rounds")
    print(f"1 image: median {t1:.1f} s ({[round(t, 1) for t in times[1]]})")
    runs = [round(t, 1) for t in times[n]]
    mp = _megapixels(films, n)
    print(f"{n} images: median {tn:.1f} s ({runs}), {tn / n:.2f} s per image", end="")
    print(f" ({mp:.2f} MP on average: {tn / n / mp:.2f} s per MP)")
    print(f"start-up (estimate): {t1 - (tn - t1) / (n - 1):.1f} s")
    print(f"CPU/wall per call: {[round(x, 2) for x in loads]}")
    print(f"calibration (s): {[round(x, 2) for x in calibrations]}")


if __name__ == "__main__":
    main()
