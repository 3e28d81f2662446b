"""Residual-map scoring cost per crop: the texture predictor and the line filters.

One demo-sized crop (224 × 2048 px, the demo's weld crops), a stitched reconstruction
stand-in (the crop smoothed) and a fitted-size texture predictor (hole 8, radius 20, step
2: 392 weights). Baseline: the residual scores at the five smoothing widths alone, in the
same process, so the ratios show what the texture predictor and the line filters add.
Autoencoder inference is not included (``bench_train.py`` measures it). Usage::

    .venv/bin/python benchmarks/bench_score.py [--repeat 5]

Prints one Markdown table row per case (median of the repeats).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from timing import host_line, timed  # noqa: E402  (benchmarks/, the script's own folder)

from weld_anomaly.ingest import tiling  # noqa: E402
from weld_anomaly.score import residual, scorers, texture  # noqa: E402
from weld_anomaly.score.baseline import background_map  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(host_line(), flush=True)
    from scipy import ndimage

    rng = np.random.default_rng(0)
    shape = (224, 2048)
    pixels = rng.integers(90, 170, shape, dtype=np.uint8)
    recon = ndimage.uniform_filter(pixels / 255.0, 9)
    local = tiling.fragment_grid(*shape, 64, 32)
    settings = texture.PredictorSettings()
    kernel = np.zeros((2 * settings.radius + 1,) * 2)
    for dy, dx in texture.offsets(settings):
        kernel[settings.radius + dy, settings.radius + dx] = rng.normal(0, 0.01)
    predictor = texture.Predictor(kernel, 0.5, 1, settings)
    sigmas, lines = (1.0, 2.0, 3.0, 5.0, 8.0), (4.0, 8.0)

    def run(residual_settings):
        background = background_map(pixels, 41, 1.0)
        res, masked = residual.crop_residual(pixels, recon, background, residual_settings)
        scorers.residual_scores(
            res, masked, local, 64, residual_settings.sigmas, residual_settings.lines
        )

    cases = {
        "smoothing widths only (baseline)": residual.ResidualSettings(sigmas, (), 4.0, 24),
        "+ texture predictor": residual.ResidualSettings(sigmas, (), 4.0, 24, predictor),
        "+ line filters": residual.ResidualSettings(sigmas, lines, 4.0, 24),
        "+ both (the default)": residual.ResidualSettings(sigmas, lines, 4.0, 24, predictor),
    }
    base = None
    print("| case | seconds per crop | ratio |\n| --- | --- | --- |")
    for name, case in cases.items():
        seconds = timed(lambda case=case: run(case), args.repeat)
        base = base or seconds
        print(f"| {name} | {seconds:.2f} | {seconds / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
