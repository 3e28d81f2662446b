"""How well findings are sized: each finding's indication against the annotated defect it
lies on, on a finished run with defect masks.

    .venv/bin/python benchmarks/demo_indications.py [RUN_DIR]

RUN_DIR: a working copy after `make demo` (default: this one). For every finding of an
annotated test image whose indication box overlaps a defect of the image's mask, the ratio
of the indication's area to that defect's area (the defect it overlaps most) and of the
fragment box's area to it; prints the medians and quartiles. docs/evaluation.md quotes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage


def main(run: Path) -> None:
    import yaml

    config = yaml.safe_load((run / "config/config.yaml").read_text())
    masks = Path(config["data"]["annotation_masks"] or run / config["demo"]["out_dir"] / "masks")
    manifest = pd.read_csv(run / "results/manifest.csv")
    test = set(manifest.loc[(manifest.split == "test") & (manifest.status == "faulty"), "image"])
    found = pd.read_csv(run / "results/findings/findings.csv")
    found = found[found["image"].isin(test) & found["indication_x"].notna()]
    indication, fragments = [], []
    for image, rows in found.groupby("image"):
        path = masks / f"{image}.png"
        if not path.is_file():
            continue
        labels, _ = ndimage.label(np.asarray(Image.open(path)) > 0)
        areas = np.bincount(labels.ravel())
        for f in rows.itertuples():
            x, y = int(f.indication_x), int(f.indication_y)
            box = labels[y : y + int(f.indication_height_px), x : x + int(f.indication_width_px)]
            hit = np.bincount(box.ravel(), minlength=len(areas))
            hit[0] = 0
            if not hit.any():
                continue
            defect = areas[int(np.argmax(hit))]
            indication.append(f.area_px / defect)
            fragments.append(f.width_px * f.height_px / defect)
    for name, ratios in (("indication", indication), ("fragment box", fragments)):
        q = np.percentile(ratios, [25, 50, 75]) if ratios else [np.nan] * 3
        print(
            f"{name} area / defect area, {len(ratios)} findings on a defect: median "
            f"{q[1]:.2f} (quartiles {q[0]:.2f} to {q[2]:.2f})"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
