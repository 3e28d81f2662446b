"""The robust normalisation's cost: the demo's 10 annotated weld crops (480 x 2560 px, two of
them riddled with porosity) normalised with and without it, interleaved rounds.

    .venv/bin/python benchmarks/bench_normalize.py [--repeat 3]

Prints megapixels per second of each case, their ratio, CPU time / wall time of each run and
the calibration step (benchmarks/timing.py); BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import yaml
from timing import host_line, interleaved

from weld_anomaly.ingest.normalize import normalize
from weld_anomaly.simulate import demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(host_line(), flush=True)
    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    settings = demo.DemoSettings.from_config(config["demo"])
    crops = [
        np.clip(np.rint(demo.render(settings, i).grey), 0, 255).astype(np.uint8)
        for i in demo.plan(settings)
        if i.annotated
    ]
    megapixels = sum(c.size for c in crops) / 1e6
    cases = {
        "release": lambda: [normalize(c, robust=False) for c in crops],
        "robust": lambda: [normalize(c, robust=True) for c in crops],
    }
    rates, loads, calibrations = interleaved(cases, args.repeat, megapixels)
    print(f"{len(crops)} crops, {megapixels:.1f} MP; {args.repeat} interleaved rounds")
    for name, values in rates.items():
        print(f"{name}: median {statistics.median(values):.2f} MP/s ({values})")
    ratio = statistics.median(rates["robust"]) / statistics.median(rates["release"])
    print(f"robust / release speed: {ratio:.2f}")
    print(f"CPU/wall per run: {[round(x, 2) for x in loads]}")
    print(f"calibration (s): {[round(x, 2) for x in calibrations]}")


if __name__ == "__main__":
    main()
