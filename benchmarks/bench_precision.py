"""bf16 against float32: training and scoring speed of the autoencoder, in one process.

Two copies of the default autoencoder, one built under each Keras dtype policy
(``float32`` and ``mixed_bfloat16``), train for one epoch on the same float32 fragments in
memory (``model.fit``, batch ``--batch``) and reconstruct them (``model.predict``, batch
1024, and the scoring job's own path: ``reconstruct``, 8-bit fragments, ``predict_on_batch``
of 256). Cases are interleaved over ``--repeat`` rounds after a warm-up of each; each prints
its median fragments/s, the process's CPU time / wall time and a fixed calibration step
timed just before (a slower one means the machine was busy). The CPU's native bf16 flags
(AMX, AVX-512 BF16) are printed: without them TensorFlow emulates bf16 and it is slower.
``precision: auto`` in the configuration chooses bf16 exactly where those flags exist.
Usage::

    .venv/bin/python benchmarks/bench_precision.py [--fragments 4096] [--batch 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import host_line, interleaved  # noqa: E402

POLICIES = ("float32", "mixed_bfloat16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    args = parser.parse_args()
    print(host_line(), flush=True)

    from weld_anomaly.model.backend import configure, cpu_bf16_flags, describe_devices

    configure(args.backend)
    import keras

    from weld_anomaly.model.autoencoder import build_autoencoder, compile_autoencoder
    from weld_anomaly.score.scoring import reconstruct

    devices = describe_devices()
    n, batch = args.fragments, args.batch
    rng = np.random.default_rng(0)
    grey = rng.integers(60, 200, (n, 64, 64)).astype(np.uint8)
    x = (grey[..., None] / 255.0).astype(np.float32)
    models = {}
    for policy in POLICIES:
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        models[policy] = compile_autoencoder(build_autoencoder(64), 1e-3)
        models[policy].fit(x[: 4 * batch], x[: 4 * batch], batch_size=batch, epochs=1, verbose=0)
        models[policy].predict(x[:1024], batch_size=1024, verbose=0)
    keras.mixed_precision.set_global_policy("float32")
    print(
        f"# backend {devices['backend']} {devices.get('backend_version', '')}, keras "
        f"{devices['keras']}, GPUs: {', '.join(devices['gpus']) or 'none'}; CPU bf16 flags: "
        f"{', '.join(cpu_bf16_flags()) or 'none'}; {n} fragments, batch {batch}, "
        f"median of {args.repeat}"
    )
    cases = {}
    for policy, model in models.items():
        cases[f"training, {policy}"] = lambda m=model: m.fit(
            x, x, batch_size=batch, epochs=1, verbose=0, shuffle=False
        )
        cases[f"scoring (predict), {policy}"] = lambda m=model: m.predict(
            x, batch_size=1024, verbose=0
        )
        cases[f"scoring job's path, {policy}"] = lambda m=model: reconstruct(m, grey, 256)
    rates, loads, calibrations = interleaved(cases, args.repeat, n)
    rate = {name: statistics.median(r) for name, r in rates.items()}
    print("| case | fragments/s (median) | runs |")
    print("| --- | ---: | --- |")
    for name, r in rates.items():
        print(f"| {name} | {rate[name]:,.0f} | {', '.join(f'{v:,.0f}' for v in r)} |")
    train = rate["training, mixed_bfloat16"] / rate["training, float32"]
    score = rate["scoring (predict), mixed_bfloat16"] / rate["scoring (predict), float32"]
    job = rate["scoring job's path, mixed_bfloat16"] / rate["scoring job's path, float32"]
    print(f"bf16 / float32: training {train:.2f}, scoring {score:.2f}, the job's path {job:.2f}")
    print(
        f"CPU time / wall time: median {statistics.median(loads):.2f} "
        f"({min(loads):.2f}-{max(loads):.2f}; {os.cpu_count()} CPUs); calibration step: "
        f"median {statistics.median(calibrations):.3f} s, quickest {min(calibrations):.3f} s, "
        f"slowest {max(calibrations):.3f} s"
    )


if __name__ == "__main__":
    main()
