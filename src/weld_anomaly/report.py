"""The HTML report: one self-contained file that opens offline.

Every picture is inlined as a PNG data URI, every piece of text from the inputs (image ids,
crop names, file names) is HTML-escaped by Jinja's autoescaping, and nothing is fetched from
the network.
"""

from __future__ import annotations

import base64
import json
import logging
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from weld_anomaly import __version__, figures, hdf5_io, metrics
from weld_anomaly.evaluation import scorer_columns
from weld_anomaly.files import write_bytes, write_text
from weld_anomaly.inventory import read_manifest
from weld_anomaly.manifests import load_annotations

log = logging.getLogger(__name__)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def software_versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    out = {"python": platform.python_version(), "weld-anomaly": __version__}
    for name in (
        "keras",
        "tensorflow-cpu",
        "tensorflow",
        "jax",
        "torch",
        "pydicom",
        "h5py",
        "numpy",
        "snakemake",
        "scikit-image",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _kind(scorer: str) -> str:
    if scorer == "baseline":
        return "baseline (no training)"
    if scorer.startswith("residual"):
        return "autoencoder, residual map"
    return "autoencoder, thesis statistic"


def _metrics_rows(result: dict) -> list[dict]:
    rows = []
    for scorer, tasks in result.get("scorers", {}).items():
        likely = tasks["likely"]
        val = result.get("validation", {}).get(scorer, {}).get("likely", {})
        rows.append(
            {
                "scorer": scorer,
                "kind": _kind(scorer),
                "val_auroc": val.get("auroc"),
                "auroc": likely["auroc"],
                "auroc_any": tasks["likely+possible"]["auroc"],
                "ap": likely["average_precision"],
                "recall_1pct": likely["recall_at_fpr_1pct"],
                "recall_01pct": likely["recall_at_fpr_0.1pct"],
                "direction": result["direction"].get(scorer, ""),
                "threshold": result["thresholds"].get(scorer),
                "achieved_fpr": result["achieved_fpr_on_test_normals"].get(scorer),
            }
        )
    return rows


def _defect_rows(result: dict) -> list[dict]:
    recall = result.get("defect_recall", {})
    flag = result["flag_statistic"]
    if flag not in recall:
        return []
    return [
        {
            "group": group,
            "defects": v["defects"],
            "flagged": v["recall"],
            "baseline": recall["baseline"].get(group, {}).get("recall"),
        }
        for group, v in recall[flag].items()
    ]


def render_report(
    manifest_csv: str | Path,
    images_csv: str | Path,
    fragments_csv: str | Path,
    metrics_json: str | Path,
    train_info_json: str | Path,
    history_csv: str | Path,
    crops_h5: Sequence[str | Path],
    annotations_path: str | Path | None,
    config: dict,
    out_html: str | Path,
    figures_dir: str | Path,
    *,
    size: int,
    max_width: int = 1600,
) -> None:
    """Render the run's report to ``out_html`` (and its figures as PNGs in ``figures_dir``)."""
    records = read_manifest(manifest_csv)
    images = pd.read_csv(images_csv, keep_default_na=False)
    rejects = images[images["rejected"].astype(str) == "True"][["image", "error_class", "error"]]
    table = pd.read_csv(fragments_csv)
    result = json.loads(Path(metrics_json).read_text())
    train_info = json.loads(Path(train_info_json).read_text())
    annotations = load_annotations(annotations_path) if annotations_path else {}
    scorers = scorer_columns(table)
    test = table[table["split"] == "test"].reset_index(drop=True)

    figures_dir = Path(figures_dir)
    pictures = {
        "loss": figures.loss_curve(history_csv),
        "scatter": figures.scatter_statistics(test, scorers, result["thresholds"]),
    }
    if result.get("scorers"):
        keep = test["label"].isin(("none", "likely")).to_numpy()
        y = (test["label"] == "likely").to_numpy()[keep]
        best_ae = max(
            (s for s in scorers if s != "baseline"),
            key=lambda s: abs((result["scorers"][s]["likely"]["auroc"] or 0.5) - 0.5),
        )
        curves = {}
        for s in dict.fromkeys([result["flag_statistic"], best_ae, "baseline"]):
            sign = 1.0 if (result["scorers"][s]["likely"]["auroc"] or 0.5) >= 0.5 else -1.0
            fpr, tpr, _ = metrics.roc_curve(y, sign * test[s].to_numpy()[keep])
            curves[s if sign > 0 else f"-{s}"] = (
                fpr,
                tpr,
                metrics.roc_auc(y, sign * test[s].to_numpy()[keep]),
            )
        pictures["roc"] = figures.roc_curves(curves)
    else:
        pictures["roc"] = figures.roc_curves({})
    for name, png in pictures.items():
        write_bytes(figures_dir / f"{name}.png", png)

    crop_files = {Path(p).name.removesuffix(".h5"): p for p in crops_h5}
    inspections = []
    for record in records:
        if record.split != "test" or record.image_id not in crop_files:
            continue
        crops, _ = hdf5_io.read_crops(crop_files[record.image_id])
        rows = test[test["image"] == record.image_id]
        for crop in crops:
            mine = rows[rows["crop"] == crop.name]
            flagged = mine.loc[mine["flagged"], ["y", "x"]].to_numpy()
            defects = [
                d
                for d in annotations.get(record.image_id, [])
                if d.x < crop.x + crop.width
                and d.x1 > crop.x
                and d.y < crop.y + crop.height
                and d.y1 > crop.y
            ]
            png = figures.marked_crop(
                crop.pixels, crop.y, crop.x, flagged, size, defects, max_width
            )
            inspections.append(
                {
                    "image": record.image_id,
                    "crop": crop.name,
                    "status": record.status,
                    "flagged": int(len(flagged)),
                    "fragments": int(len(mine)),
                    "defects": len(defects),
                    "hits": int(
                        mine.loc[mine["flagged"], "label"].isin(("likely", "possible")).sum()
                    ),
                    "uri": _data_uri(png),
                }
            )

    counts = {
        "images": len(records),
        "faulty": sum(r.status == "faulty" for r in records),
        "nonfaulty": sum(r.status == "nonfaulty" for r in records),
        "splits": {s: sum(r.split == s for r in records) for s in ("train", "validation", "test")},
        "rejected": len(rejects),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weld_anomaly", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda v, fmt="{:.3f}": (
        "–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)
    )
    html = env.get_template("report.html.j2").render(
        counts=counts,
        result=result,
        rows=_metrics_rows(result),
        defect_rows=_defect_rows(result),
        train=train_info,
        pictures={k: _data_uri(v) for k, v in pictures.items()},
        inspections=inspections,
        versions=software_versions(),
        config_text=json.dumps(config, indent=2, sort_keys=True),
        fragments_total=int(len(table)),
        rejects=rejects.to_dict("records"),
    )
    write_text(out_html, html)
    log.info("report: %s (%.1f MB)", out_html, len(html) / 1e6)
