"""Where a scoring job's time goes: the two networks against the post-processing.

One crop of weld-like texture (a bright bead, grain, a few dark pores) per size (default
1 and 10 megapixels), fragmented as the workflow does (64 px, stride 32), scored by
``score_fragments`` with the default configuration's scorers (config/config.yaml): the
autoencoder and the flaw detector (the default architectures, untrained: speed does not
depend on the weights), the residual filters with a texture predictor of the default size,
the line filters when the configuration has any (``--lines 4 8`` adds them: the opt-in
scorers' cost), the contrast and the textbook baseline. The networks' calls (``reconstruct`` and the
detector's tiles) are timed inside the same run; post-processing = total - networks.

Each size runs in a fresh process: a warm-up on a small crop first, then ``--repeat`` timed
runs, then one untimed run under ``tracemalloc`` for the peak of the arrays (NumPy's and
Python's allocations, not TensorFlow's); the growth of the process's peak RSS is printed
too, but the allocator's arenas make it noisy. Every case prints the load next to it: the process's
CPU time / wall time (TensorFlow uses both cores: ~2 when it had them) and a fixed NumPy
calibration step timed just before (its quiet time is printed at the top; a slower one
means the machine was busy). Usage::

    .venv/bin/python benchmarks/bench_scoring.py [--megapixels 1 10] [--repeat 3] [--lines 4 8]
        [--memory kept|returned] [--precision auto|float32|mixed_bfloat16]

The networks are built under the configuration's ``train.precision`` (``auto``: bf16 on CPUs
with bf16 units), as the workflow trains them and so as its scoring jobs run them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import calibration, host_line  # noqa: E402


def weld(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.arange(height)[:, None]
    bead = 60 * np.exp(-(((y - height / 2) / (height / 5)) ** 2))
    image = 90 + bead + rng.normal(0, 6, (height, width))
    for _ in range(max(1, height * width // 200_000)):
        cy, cx = rng.integers(8, height - 8), rng.integers(8, width - 8)
        image[cy - 3 : cy + 3, cx - 3 : cx + 3] -= 40
    return np.clip(image, 0, 255).astype(np.uint8)


def models(precision: str):
    """The two networks, built under ``precision`` (as trained: a model keeps the dtype
    policy it was trained under when the scoring job loads it)."""
    from weld_anomaly.model.autoencoder import build_autoencoder
    from weld_anomaly.model.backend import set_precision
    from weld_anomaly.model.detector import build_detector

    set_precision(precision)
    return build_autoencoder(64, (32, 64, 128)), build_detector((8, 16, 32))


def predictor():
    from weld_anomaly.score import texture

    settings = texture.PredictorSettings(hole=8, radius=20, step=2)
    rng = np.random.default_rng(1)
    kernel = np.zeros((2 * settings.radius + 1,) * 2)
    for dy, dx in texture.offsets(settings):
        kernel[settings.radius + dy, settings.radius + dx] = rng.normal(0, 0.01)
    return texture.Predictor(kernel, 2.0, 1, settings)


def default_config() -> dict:
    """The default configuration (config/config.yaml)."""
    import yaml

    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def default_score() -> dict:
    """The ``score`` group of the default configuration."""
    return default_config()["score"]


def one_size(
    megapixels: float,
    repeat: int,
    lines: list[float] | None = None,
    memory: str = "kept",
    precision: str = "auto",
) -> dict:
    """Run in a fresh process: time scoring one crop of ``megapixels``."""
    from weld_anomaly.memory import keep_freed_memory
    from weld_anomaly.model.backend import configure

    configure("tensorflow", 2)
    if memory == "kept":  # as the workflow's scoring jobs and ``inspect`` do
        keep_freed_memory()
    from weld_anomaly.ingest import hdf5_io, tiling
    from weld_anomaly.score import scorers, scoring
    from weld_anomaly.score.residual import ResidualSettings

    autoencoder, detector = models(precision)
    score = default_score()
    lines = score["residual_lines"] if lines is None else lines
    residual = ResidualSettings(
        tuple(score["residual_sigmas"]), tuple(lines), score["marker_mask_z"],
        score["marker_mask_dilate"], predictor(),
    )  # fmt: skip
    networks = {"seconds": 0.0}

    def timing(func):
        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                networks["seconds"] += time.perf_counter() - start

        return wrapped

    scoring.reconstruct = timing(scoring.reconstruct)
    scorers.detect = timing(scorers.detect)

    def run(height: int, width: int) -> tuple[float, float, float]:
        pixels = weld(height, width)
        crop = hdf5_io.Crop("weld", 0, 0, width, height, pixels)
        corners = tiling.fragment_grid(height, width, 64, 32)
        frags = hdf5_io.Fragments(
            np.stack([pixels[y : y + 64, x : x + 64] for y, x in corners]),
            corners,
            np.zeros(len(corners), np.int64),
            ["weld"],
            {},
        )
        networks["seconds"] = 0.0
        start, cpu = time.perf_counter(), time.process_time()
        scoring.score_fragments(
            autoencoder, frags, [crop], "bench", batch_size=score["batch_size"],
            median_size=score["baseline_median"], sigma=score["baseline_sigma"],
            residual=residual, contrast_sigmas=tuple(score["contrast_sigmas"]),
            detector=detector, robust=score["robust_normalisation"],
        )  # fmt: skip
        wall = time.perf_counter() - start
        return wall, networks["seconds"], (time.process_time() - cpu) / wall

    run(256, 1024)  # warm-up: imports, graph tracing, allocator
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    height = 512 if megapixels <= 2 else 2048
    width = int(round(megapixels * 1e6 / height / 64)) * 64
    rows = []
    for _ in range(repeat):
        quiet = calibration()
        wall, net, load = run(height, width)
        rows.append({"wall": wall, "networks": net, "cpu_per_wall": load, "calibration": quiet})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import tracemalloc  # one more, untimed run: the arrays' peak (NumPy reports to it)

    tracemalloc.start()
    run(height, width)
    arrays = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "megapixels": height * width / 1e6,
        "shape": [height, width],
        "runs": rows,
        "peak_growth_mb": (peak - before) / 1024,
        "array_peak_mb": arrays / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--lines", type=float, nargs="*", default=None,
        help="line filter lengths (default: the configuration's score.residual_lines)",
    )  # fmt: skip
    parser.add_argument(
        "--memory", choices=["kept", "returned"], default="kept",
        help="kept (default, as the workflow's scoring jobs): freed memory reused "
        "(weld_anomaly.memory); returned: the C library's default, given back to the kernel",
    )  # fmt: skip
    parser.add_argument(
        "--precision", default=None,
        help="the networks' dtype policy (default: the configuration's train.precision, "
        "as the workflow trains them; auto = mixed_bfloat16 on CPUs with bf16 units)",
    )  # fmt: skip
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.precision is None:
        args.precision = default_config()["train"]["precision"]
    if args.one is not None:  # a child process: its stdout is the JSON alone
        result = one_size(args.one, args.repeat, args.lines, args.memory, args.precision)
        print(json.dumps(result))
        return
    print(host_line(), flush=True)  # the quiet calibration figure among the host's
    lines = default_score()["residual_lines"] if args.lines is None else args.lines
    from weld_anomaly.model.backend import resolve_precision

    policy = resolve_precision(args.precision, gpus=[])
    print(
        f"line filters: {lines or 'none'}; freed memory {args.memory}; "
        f"networks in {policy} (precision {args.precision})",
        flush=True,
    )
    print(
        "| megapixels | scoring (median) | networks | post-processing | share | per MP "
        "| arrays' peak | per MP | RSS growth | CPU/wall | calibration |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mp in args.megapixels:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(mp), "--repeat", str(args.repeat),
             "--memory", args.memory, "--precision", args.precision,
             *([] if args.lines is None else ["--lines", *map(str, args.lines)])],
            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        r = json.loads(done.stdout.strip().splitlines()[-1])
        wall = statistics.median(x["wall"] for x in r["runs"])
        net = statistics.median(x["networks"] for x in r["runs"])
        post = statistics.median(x["wall"] - x["networks"] for x in r["runs"])
        load = ", ".join(f"{x['cpu_per_wall']:.2f}" for x in r["runs"])
        cal = ", ".join(f"{x['calibration']:.3f}" for x in r["runs"])
        mpx = r["megapixels"]
        print(
            f"| {mpx:.2f} | {wall:.2f} s | {net:.2f} s | {post:.2f} s | {post / wall:.0%} "
            f"| {post / mpx:.2f} s | {r['array_peak_mb']:.0f} MB | "
            f"{r['array_peak_mb'] / mpx:.0f} MB | {r['peak_growth_mb']:.0f} MB "
            f"| {load} | {cal} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
