"""Where the demo's `mse` comes from: its test crops scored with and without their flaws.

    .venv/bin/python benchmarks/demo_mse.py [RUN_DIR]

RUN_DIR: a working copy after `make demo` (default: this one). Renders every annotated test
crop of the demo twice, as the demo wrote it and with the flaws' contrast set to 0 (every
other random draw the same), scores both with the run's autoencoder and prints `mse`'s AUROC
and recall at 1 % FPR (standard protocol) on each, and how much a flaw raises the error of
the fragment holding it. docs/evaluation.md quotes the figures.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from weld_anomaly.ingest.tiling import cut_fragments
from weld_anomaly.score.metrics import recall_at_fpr, roc_auc
from weld_anomaly.score.statistics import fragment_statistics
from weld_anomaly.simulate import demo


def main(run: Path) -> None:
    import keras

    config = yaml.safe_load((run / "config/config.yaml").read_text())
    settings = demo.DemoSettings.from_config(config["demo"])
    size, stride = config["fragments"]["size"], config["fragments"]["stride"]
    manifest = pd.read_csv(run / "results/manifest.csv")
    test = set(manifest.loc[(manifest.split == "test") & (manifest.status == "faulty"), "image"])
    model = keras.models.load_model(run / "results/model/autoencoder.keras", compile=False)
    labels, errors = [], {"as written": [], "without flaws": []}
    for image in demo.plan(settings):
        if image.image_id not in test:
            continue
        for name, contrast in (("as written", settings.flaw_contrast), ("without flaws", 0.0)):
            film = demo.render(replace(settings, flaw_contrast=contrast), image)
            pixels = np.clip(np.rint(film.grey), 0, 255).astype(np.uint8)
            frags, corners = cut_fragments(pixels, size, stride)
            recon = model.predict(frags[..., None] / np.float32(255), batch_size=256, verbose=0)
            errors[name].append(fragment_statistics(frags, recon)["mse"])
        mask = film.defect_mask
        labels.append(np.array([mask[y : y + size, x : x + size].any() for y, x in corners]))
    y = np.concatenate(labels)
    for name, values in errors.items():
        values = np.concatenate(values)
        print(
            f"mse, test crops {name}: AUROC {roc_auc(y, values):.3f}, "
            f"recall at 1 % FPR {recall_at_fpr(y, values, 0.01):.3f}"
        )
    ratio = np.concatenate(errors["as written"])[y] / np.concatenate(errors["without flaws"])[y]
    print(f"a positive fragment's error with / without its flaw: median {np.median(ratio):.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
