"""The sweep's report section (``snakemake sweep``): every trial's settings and validation
figures, validation AUROC against each setting, the chosen trial, its gain over the
defaults (trial 0) and its test figures (the test images scored once, for it alone)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from weld_anomaly.files import write_bytes, write_text

CHOSEN, DEFAULT, OTHER = "#c62828", "#1d5fa8", "#8a94a6"


def _axis_values(spec: dict, values: list) -> tuple[list[float], list[str] | None]:
    """Positions on a setting's axis (choices by their index) and the tick labels."""
    if "choices" in spec:
        labels = [json.dumps(c) for c in spec["choices"]]
        return [labels.index(json.dumps(v)) for v in values], labels
    return [float(v) for v in values], None


def sweep_figure(summary: dict) -> bytes:
    """Validation AUROC against each setting, one panel per setting (PNG)."""
    from weld_anomaly.report.figures import _figure_png, _pyplot

    plt = _pyplot()
    space, trials = summary["space"], [t for t in summary["trials"] if t["value"] is not None]
    n = len(space)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (path, spec) in zip(axes.flat, sorted(space.items()), strict=False):
        x, labels = _axis_values(spec, [t["settings"][path] for t in trials])
        colours = [
            CHOSEN if t["trial"] == summary["chosen"] else DEFAULT if t["trial"] == 0 else OTHER
            for t in trials
        ]
        ax.scatter(x, [t["value"] for t in trials], c=colours, s=36, zorder=3)
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        elif spec.get("log"):
            ax.set_xscale("log")
        ax.set_title(path, fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylabel("validation AUROC", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("red: chosen · blue: defaults (trial 0) · grey: other trials", fontsize=9)
    fig.tight_layout()
    return _figure_png(fig)


def sweep_section(summary: dict, test: dict | None, uri: str) -> dict:
    """Template variables of the Sweep section."""
    paths = sorted(summary["space"])
    chosen = next(t for t in summary["trials"] if t["trial"] == summary["chosen"])
    default = next((t for t in summary["trials"] if t["trial"] == 0), None)
    scorer = (test or {}).get("scorer")
    figures = ((test or {}).get("test") or {}).get("scorers") or {}
    return {
        "sweep_paths": paths,
        "sweep_trials": [
            {**t, "cells": [json.dumps(t["settings"].get(p)) for p in paths]}
            for t in summary["trials"]
        ],
        "sweep_chosen": chosen,
        "sweep_default": default,
        "sweep_gain": summary.get("gain_over_defaults"),
        "sweep_test": {
            "scorer": scorer,
            "figures": figures.get(scorer),
            "baseline": figures.get("baseline"),
            "images": ((test or {}).get("test") or {}).get("images"),
        },
        "sweep_seconds": float(np.nansum([t.get("seconds") or 0 for t in summary["trials"]])),
        "sweep_uri": uri,
        "sweep_objective": summary["objective"],
    }


def write_sweep_report(sweep_json, test_json, out_html, out_png) -> None:
    """The sweep's page (results/sweep/sweep.html) and its figure."""
    from weld_anomaly.report.html import _data_uri, _templates

    summary = json.loads(Path(sweep_json).read_text())
    test = json.loads(Path(test_json).read_text()) if test_json else None
    png = sweep_figure(summary)
    write_bytes(out_png, png)
    page = _templates().get_template("sweep.html.j2")
    write_text(out_html, page.render(**sweep_section(summary, test, _data_uri(png))))
