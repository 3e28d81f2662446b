"""The detection tables of docs/evaluation.md from finished demo runs' evaluation.json files.

    .venv/bin/python benchmarks/demo_table.py RELEASE.json DEFAULT.json

RELEASE.json: a demo run with ``score.robust_normalisation: false`` (the normalisation
measured on real films): the calibration table, each scorer beside its real-film figure.
DEFAULT.json: a run of the default configuration: every scorer the chooser weighed, on
the annotated validation and test crops (standard protocol), the chosen one marked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from weld_anomaly.simulate import calibration

SHOWN = (
    "baseline",
    "residual_s5",
    "residual_multiscale",
    "detector",
    "detector_supervised",
    "fused",
    "fused_filter",
    "contrast_s1p5",
    "recon_sum",
    "mse",
)


def default_table(result: dict) -> str:
    test = result["any_pixel"]["test_annotated_images"]
    val = result["any_pixel"]["validation_annotated_images"]
    chosen = result["flag_statistic"]
    lines = [
        "| scorer | validation: AUROC / recall@1 % | test: AUROC / recall@1 % |",
        "|---|---|---|",
    ]
    for s in SHOWN:
        if s not in test:
            continue
        name = f"`{s}` (chosen)" if s == chosen else f"`{s}`"
        v, t = val[s], test[s]
        lines.append(
            f"| {name} | {v['auroc']:.3f} / {v['recall_at_fpr_1pct']:.3f} | "
            f"{t['auroc']:.3f} / {t['recall_at_fpr_1pct']:.3f} |"
        )
    return "\n".join(lines)


def main(release: str, default: str) -> None:
    rows = calibration.compare(json.loads(Path(release).read_text()))
    print(calibration.markdown(rows))
    print()
    result = json.loads(Path(default).read_text())
    print(default_table(result))
    print()
    print(result["flag_statistic_chosen_by"])


if __name__ == "__main__":
    main(*sys.argv[1:3])
