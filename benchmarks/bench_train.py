"""Training and scoring throughput: the model's compute limit against the input pipelines.

In one process, with one batch size, medians of ``--repeat`` runs (fragments/s):

(0) a bare Keras step loop: ``model.train_on_batch`` over float32 batches in memory (no
    ``fit``, no callbacks, no data adapter): the reference the pipeline is held to;
(a) ``model.fit`` on float32 tensors already in memory: what the model itself can do;
(b) the project's pipeline (``FragmentBatches.epochs``, as the workflow's training feeds
    ``model.fit``) over the chunked HDF5 training set, both loaded into memory (the default
    when it fits) and streamed from disk;
(c) the thesis's layout: one HDF5 dataset per fragment, read by key into each batch.

Also the read-only speed of (b) and (c) (no model), and scoring: the pipeline's
``reconstruct`` (per-image batches) against ``model.predict`` on in-memory data. Usage::

    KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/bench_train.py --fragments 4096
    KERAS_BACKEND=torch python benchmarks/bench_train.py --fragments 500000 --batch 1024 \\
        --precision mixed_bfloat16           # on a GPU (see benchmarks/gpu.sh)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import host_line, interleaved  # noqa: E402


def make_sets(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """A synthetic training set in both layouts (chunked, and one dataset per fragment)."""
    rng = np.random.default_rng(seed)
    chunked = folder / "train.h5"
    thesis = folder / "thesis.h5"
    with h5py.File(chunked, "w") as f:
        ds = f.create_dataset("fragments", shape=(n, 64, 64), dtype=np.uint8, chunks=(256, 64, 64))
        for start in range(0, n, 16384):
            m = min(16384, n - start)
            base = rng.integers(40, 200, (m, 1, 1), dtype=np.uint8)
            ds[start : start + m] = base + rng.integers(0, 40, (m, 64, 64), dtype=np.uint8)
    if n <= 50_000:  # the thesis layout is slow to write; skip it for huge sets
        with h5py.File(chunked, "r") as src, h5py.File(thesis, "w") as f:
            data = src["fragments"][()]
            for i in range(n):
                f.create_dataset(f"img_{i // 1000:05d}/frag_{i % 1000:04d}", data=data[i])
    return chunked, thesis


class ThesisBatches:
    """Batches read fragment by fragment from the per-fragment layout (the thesis's way)."""

    def __init__(self, path: Path, n: int, batch: int, seed: int):
        import keras

        from weld_anomaly.ingest.tiling import scale

        class _Batches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.f = h5py.File(path, "r")
                self.order = np.random.default_rng(seed).permutation(n)

            def __len__(self):
                return -(-n // batch)

            def __getitem__(self, i):
                idx = self.order[i * batch : (i + 1) * batch]
                x = scale(
                    np.stack([self.f[f"img_{j // 1000:05d}/frag_{j % 1000:04d}"][()] for j in idx])
                )
                return x, x

        self.dataset = _Batches()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fragments", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-thesis", action="store_true")
    parser.add_argument(
        "--training-only",
        action="store_true",
        help="measure (a) and (b) only (the GPU script's short run)",
    )
    args = parser.parse_args()
    print(host_line(), flush=True)
    from weld_anomaly.model.backend import configure

    configure(os.environ.get("KERAS_BACKEND", "tensorflow"))  # as the workflow's jobs do
    import keras

    from weld_anomaly.model.autoencoder import build_autoencoder, compile_autoencoder
    from weld_anomaly.model.backend import describe_devices, set_precision
    from weld_anomaly.model.batches import FragmentBatches, open_fragments, scale
    from weld_anomaly.score.scoring import reconstruct

    set_precision(args.precision)
    keras.utils.set_random_seed(0)
    devices = describe_devices()
    n, batch = args.fragments, args.batch
    print(
        f"# backend {devices['backend']} {devices.get('backend_version', '')}, keras "
        f"{devices['keras']}, GPUs: {', '.join(devices['gpus']) or 'none'}; precision "
        f"{args.precision}; {n} fragments, batch {batch}, median of {args.repeat}"
    )

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        chunked, thesis = make_sets(Path(tmp), n)
        model = compile_autoencoder(build_autoencoder(64), 1e-3)
        memory, chunk = open_fragments(chunked, memory_limit_mb=1e9)
        tensors = scale(memory)
        warm = min(n, batch * 4)
        model.fit(tensors[:warm], tensors[:warm], batch_size=batch, epochs=1, verbose=0)

        in_mem = FragmentBatches(
            memory, batch, shuffle=True, seed=1, chunk=chunk, workers=args.workers
        )
        streamed, _ = open_fragments(chunked, memory_limit_mb=0)
        stream = FragmentBatches(
            streamed, batch, shuffle=True, seed=1, chunk=chunk, workers=args.workers
        )

        def read_all(batches):
            for i in range(len(batches)):
                batches[i]

        def pipeline(batches):  # one epoch as the workflow's training feeds them
            epoch = batches.epochs(0, 1, batches.workers)
            model.fit(epoch, steps_per_epoch=len(batches), epochs=1, verbose=0)

        def step_loop():
            for start in range(0, n, batch):
                model.train_on_batch(tensors[start : start + batch], tensors[start : start + batch])

        cases = {
            "(0) bare Keras step loop (train_on_batch), in memory": step_loop,
            "(a) model.fit, float32 tensors in memory": lambda: model.fit(
                tensors, tensors, batch_size=batch, epochs=1, verbose=0, shuffle=False
            ),
            "(b) pipeline, training set in memory": lambda: pipeline(in_mem),
            "(b) pipeline, streamed from HDF5": lambda: pipeline(stream),
            "read only: pipeline streamed from HDF5": lambda: read_all(stream),
            "scoring: model.predict, in memory (batch 1024)": lambda: model.predict(
                tensors, batch_size=1024, verbose=0
            ),
            "scoring: pipeline reconstruct (batch 1024)": lambda: reconstruct(model, memory, 1024),
        }
        if args.training_only:
            cases = {k: v for k, v in cases.items() if k.startswith(("(0)", "(a)", "(b)"))}
        if thesis.exists() and not args.skip_thesis and not args.training_only:
            thesis_batches = ThesisBatches(thesis, n, batch, seed=1).dataset
            cases["(c) thesis layout, one dataset per fragment"] = lambda: model.fit(
                thesis_batches, epochs=1, verbose=0
            )
            cases["read only: thesis layout"] = lambda: read_all(thesis_batches)
        pipeline(FragmentBatches(memory[:warm], batch, chunk=chunk))  # warm-up: tracing
        reconstruct(model, memory[:warm], 1024)
        model.predict(tensors[:warm], batch_size=1024, verbose=0)
        # interleaved repeats, so that a machine whose speed drifts favours no case
        samples, loads, calibrations = interleaved(cases, args.repeat, n)
        rows = [(name, statistics.median(rates)) for name, rates in samples.items()]
        rate = dict(rows)
        bare = rate["(0) bare Keras step loop (train_on_batch), in memory"]
        a = rate["(a) model.fit, float32 tensors in memory"]
        b_mem = rate["(b) pipeline, training set in memory"]
        b_disk = rate["(b) pipeline, streamed from HDF5"]
        c = rate.get("(c) thesis layout, one dataset per fragment")
        p = rate.get("scoring: model.predict, in memory (batch 1024)")
        s = rate.get("scoring: pipeline reconstruct (batch 1024)")

        print("| measurement | fragments/s |")
        print("| --- | --- |")
        for name, rate in rows:
            print(f"| {name} | {rate:,.0f} |")
        print()
        print(
            f"CPU time / wall time of the cases: median {statistics.median(loads):.2f}, "
            f"range {min(loads):.2f}-{max(loads):.2f} (the process's own threads; "
            f"{os.cpu_count()} CPUs); calibration step before each: median "
            f"{statistics.median(calibrations):.3f} s, slowest {max(calibrations):.3f} s, "
            f"quickest {min(calibrations):.3f} s"
        )
        print(
            f"(b) in memory / bare loop = {b_mem / bare:.2f}; (b) streamed / bare loop = "
            f"{b_disk / bare:.2f}; (a) / bare loop = {a / bare:.2f}; "
            f"(b) in memory / (a) = {b_mem / a:.2f}; (b) streamed / (a) = {b_disk / a:.2f}"
            + (f"; (b) streamed / (c) = {b_disk / c:.2f}" if c else "")
            + (f"; scoring pipeline / predict = {s / p:.2f}" if p else "")
        )
        # the pipeline against the bare loop within each round (run a minute apart at most,
        # so a drifting machine moves both alike): the robustness a median hides
        bare_runs = samples["(0) bare Keras step loop (train_on_batch), in memory"]
        for name in ("(b) pipeline, training set in memory", "(b) pipeline, streamed from HDF5"):
            ratios = [r / b for r, b in zip(samples[name], bare_runs, strict=True)]
            print(
                f"{name} / bare loop, per round: {', '.join(f'{r:.2f}' for r in ratios)} "
                f"(lowest {min(ratios):.2f})"
            )


if __name__ == "__main__":
    main()
