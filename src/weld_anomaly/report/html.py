"""The HTML report: ``report.html`` and, beside it, the weld viewer's pages (``welds/``,
:mod:`.viewer`); all open offline from disk.

Every picture is inlined as a PNG data URI, every piece of text from the inputs (image ids,
crop names, file names) is HTML-escaped by Jinja's autoescaping (in the weld pages' script
data, ``<``, ``>`` and ``&`` are escaped too), and nothing is fetched from the network.
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
import markupsafe
import numpy as np
import pandas as pd

from weld_anomaly import __version__
from weld_anomaly.files import write_bytes, write_text
from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.convert import FALLBACK_WINDOW
from weld_anomaly.ingest.inventory import read_manifest
from weld_anomaly.ingest.manifests import load_annotations
from weld_anomaly.provenance import git_commit
from weld_anomaly.report import figures, viewer
from weld_anomaly.score import metrics, pod, scorers
from weld_anomaly.score.evaluation import scorer_columns

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


def _metrics_rows(result: dict) -> list[dict]:
    rows = []
    for scorer, tasks in result.get("scorers", {}).items():
        likely = tasks["likely"]
        val = result.get("validation", {}).get(scorer, {}).get("likely", {})
        rows.append(
            {
                "scorer": scorer,
                "kind": scorers.for_column(scorer).family,
                "description": scorers.for_column(scorer).description,
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


def _any_pixel_rows(result: dict) -> list[dict]:
    """The standard protocol's table: every scorer, best test AUROC first (baseline kept)."""
    protocol = result.get("any_pixel") or {}
    test = protocol.get("test") or {}
    annotated = protocol.get("test_annotated_images") or {}
    validation = protocol.get("validation_annotated_images") or {}
    intervals = (protocol.get("test_annotated_intervals") or {}).get("scorers") or {}
    rows = [
        {
            "scorer": scorer,
            "kind": scorers.for_column(scorer).family,
            "val_auroc": validation.get(scorer, {}).get("auroc"),
            "auroc": m["auroc"],
            "ap": m["average_precision"],
            "recall_1pct": m["recall_at_fpr_1pct"],
            "recall_01pct": m["recall_at_fpr_0.1pct"],
            "auroc_annotated": annotated.get(scorer, {}).get("auroc"),
            "recall_annotated": annotated.get(scorer, {}).get("recall_at_fpr_1pct"),
            "auroc_ci": intervals.get(scorer, {}).get("auroc"),
            "recall_ci": intervals.get(scorer, {}).get("recall_at_fpr_1pct"),
        }
        for scorer, m in test.items()
    ]
    return sorted(rows, key=lambda r: -(r["auroc"] or 0))


def _detection_rows(result: dict) -> list[dict]:
    found = (result.get("any_pixel") or {}).get("defect_detection") or {}
    flag = result["flag_statistic"]
    if flag not in found:
        return []
    return [
        {
            "group": group,
            "defects": v["defects"],
            "flagged": v["detected"],
            "baseline": found.get("baseline", {}).get(group, {}).get("detected"),
        }
        for group, v in found[flag].items()
    ]


def dvc_hashes(lock: str | Path = "dvc.lock") -> list[dict]:
    """Content hashes of the DVC-tracked outputs, when the run is under DVC."""
    import yaml

    lock = Path(lock)
    if not lock.is_file():
        return []
    data = yaml.safe_load(lock.read_text()) or {}
    rows = []
    for stage, info in (data.get("stages") or {}).items():
        for out in info.get("outs", []) or []:
            rows.append(
                {"stage": stage, "path": out.get("path", ""), "md5": str(out.get("md5", ""))[:12]}
            )
    return rows


def _remarks(row) -> list[str]:
    """What the conversion of a radiograph (a row of results/images.csv) remarked on."""
    out = [row.note] if row.note else []
    if row.window_method == FALLBACK_WINDOW:
        out.append("the header window did not fit the data; the percentile window was used")
    if str(getattr(row, "too_poor", "")) == "True":
        out.append("too poor to judge: its signal-to-noise ratio is below convert.min_snr_n")
    return out


def _warnings(images: pd.DataFrame, result: dict, train: dict) -> list[str]:
    out = []
    for row in images.itertuples():
        if str(row.rejected) == "True":
            out.append(f"{row.image} was rejected ({row.error_class}): {row.error}")
        out += [f"{row.image}: {remark}" for remark in _remarks(row)]
    for image_id, lost in (result.get("lost_defects") or {}).items():
        out.append(
            f"{image_id}: {lost['pixels']} annotated defect pixel(s) of {lost['defects']} "
            "defect(s) lie outside every crop and were not inspected: widen its crops"
        )
    flag = result["flag_statistic"]
    achieved = result["achieved_fpr_on_test_normals"].get(flag)
    if achieved is not None and achieved > 2 * result["target_fpr"]:
        out.append(
            f"the calibrated threshold lets through {100 * achieved:.1f} % of the non-faulty "
            f"test fragments, more than twice the target {100 * result['target_fpr']:.1f} %: "
            "the validation images may not represent the test images"
        )
    if train.get("epochs_run", 0) > 1 and train.get("best_epoch") == train.get("epochs_run"):
        out.append("the validation loss was still falling at the last epoch: more epochs may help")
    return out


def _oriented(frame: pd.DataFrame, scorer: str, direction: dict) -> np.ndarray:
    """A scorer's values with high = anomalous (its validation-read direction applied)."""
    values = frame[scorer].to_numpy(dtype=np.float64)
    return -values if direction.get(scorer) == "low" else values


def _model_pictures(test: pd.DataFrame, result: dict, history_csv, figures_dir: Path) -> dict:
    """Loss curve, scatter of the statistics, ROC and precision-recall curves (PNG bytes).

    The curves show the flagging scorer, the best thesis statistic and the baseline.
    """
    names = scorer_columns(test)
    direction = result.get("direction", {})
    pictures = {
        "loss": figures.loss_curve(history_csv),
        "scatter": figures.scatter_statistics(test, names, result["thresholds"]),
    }
    roc, pr = {}, {}
    if result.get("scorers"):
        keep = test["label"].isin(("none", "likely")).to_numpy()
        y = (test["label"] == "likely").to_numpy()[keep]
        thesis = [s for s in names if scorers.for_column(s).family == "thesis statistic"]
        best_thesis = max(thesis, key=lambda s: result["scorers"][s]["likely"]["auroc"] or 0)
        for s in dict.fromkeys([result["flag_statistic"], best_thesis, "baseline"]):
            values = _oriented(test, s, direction)[keep]
            fpr, tpr, _ = metrics.roc_curve(y, values)
            roc[s] = (fpr, tpr, metrics.roc_auc(y, values))
            precision, recall, _ = metrics.precision_recall_curve(y, values)
            pr[s] = (
                np.r_[0.0, recall],
                np.r_[1.0, precision],
                metrics.average_precision(y, values),
            )
    pictures["roc"] = figures.roc_curves(roc)
    pictures["pr"] = figures.precision_recall_curves(pr)
    fits = (result.get("any_pixel") or {}).get("probability_of_detection") or {}
    if fits:
        pictures["pod"] = figures.pod_curves(fits)
    for name in ("loss", "scatter", "roc"):
        write_bytes(figures_dir / f"{name}.png", pictures[name])
    return pictures


def _crop_inspection(record, crop, rows, mask, annotations, result, settings) -> dict:
    """One test crop with its findings (or, without any, its flagged fragments) and the
    annotated defects drawn; the weld viewer has it at full resolution."""
    size, max_width, found_by_image = settings
    flag = result["flag_statistic"]
    threshold = result["thresholds"][flag]
    mine = rows[rows["crop"] == crop.name]
    hit = mine[mine["flagged"]]
    scores = _oriented(hit, flag, result.get("direction", {}))
    top = max(float(scores.max()) if len(scores) else threshold, threshold + 1e-12)
    defects = [
        d
        for d in annotations.get(record.image_id, [])
        if d.x < crop.x + crop.width
        and d.x1 > crop.x
        and d.y < crop.y + crop.height
        and d.y1 > crop.y
    ]
    found = [f for f in found_by_image.get(record.image_id, []) if f["crop"] == crop.name]
    png = figures.marked_crop(
        crop.pixels,
        crop.y,
        crop.x,
        hit[["y", "x"]].to_numpy()[: 0 if found else None],  # findings replace fragments
        size,
        defects,
        max_width,
        strength=((scores - threshold) / (top - threshold))[: 0 if found else None],
        masked=mask,
        outlines=[(str(f["finding"]), f["outline"], f["confidence"]) for f in found],
    )
    return {
        "image": record.image_id,
        "crop": crop.name,
        "anchor": f"inspect-{record.image_id}-{crop.name}",
        "findings": found,
        "flagged": int(len(hit)),
        "fragments": int(len(mine)),
        "defects": len(defects),
        "hits": int(hit["label"].isin(("likely", "possible")).sum()),
        "uri": _data_uri(png),
    }


def _inspections(records, test, result, annotations, crops_h5, reconstructions_h5, settings):
    """Every crop of every test image, marked (see :func:`_crop_inspection`)."""
    crop_files = {Path(p).name.removesuffix(".h5"): p for p in crops_h5}
    recon_files = {Path(p).name.removesuffix(".h5"): p for p in reconstructions_h5}
    out = []
    for record in records:
        if record.split != "test" or record.image_id not in crop_files:
            continue
        crops, _ = hdf5_io.read_crops(crop_files[record.image_id])
        masks = {}
        if record.image_id in recon_files:
            masks = hdf5_io.read_masks(recon_files[record.image_id])
        rows = test[test["image"] == record.image_id]
        for crop in crops:
            out.append(
                _crop_inspection(
                    record,
                    crop,
                    rows,
                    masks.get(crop.name),
                    annotations,
                    result,
                    settings,
                )
            )
    return out


def _experiments_section(experiments_json) -> dict:
    if not experiments_json:
        return {"experiments": [], "experiments_seconds": None}
    return _experiment_entries(json.loads(Path(experiments_json).read_text()))


def _sweep_variables(sweep_files: Sequence[str | Path]) -> dict:
    """The Hyperparameter sweep section's variables (``sweep``: false without a sweep)."""
    if not sweep_files:
        return {"sweep": False}
    from weld_anomaly.report.sweep import sweep_section

    summary, test, png = (Path(p) for p in sweep_files)
    section = sweep_section(
        json.loads(summary.read_text()), json.loads(test.read_text()), _data_uri(png.read_bytes())
    )
    return {"sweep": True, **section}


def _findings_by_image(findings_json) -> dict[str, list[dict]]:
    if not findings_json or not Path(findings_json).exists():
        return {}
    out: dict[str, list[dict]] = {}
    for f in json.loads(Path(findings_json).read_text()).get("findings", []):
        out.setdefault(f["image"], []).append(f)
    return out


def _worklist(records, inspections: list[dict], found: dict[str, list[dict]], summary=None):
    """The test welds, most suspicious first (:func:`findings.worklist`), each linked to its
    page in the weld viewer and to its first crop in the Inspection section, and marked when
    the image-quality gate found it too poor to judge (``summary``: results/images.csv)."""
    from urllib.parse import quote

    from weld_anomaly.score.findings import Finding, worklist

    anchors: dict[str, str] = {}
    for c in inspections:
        anchors.setdefault(c["image"], c["anchor"])
    images = [r.image_id for r in records if r.split == "test" and r.image_id in anchors]
    objects = [Finding(**f) for image in images for f in found.get(image, [])]
    rows = worklist(images, objects)
    names = viewer.page_names([row["image"] for row in rows])
    for row in rows:
        row["anchor"] = anchors[row["image"]]
        row["page"] = names[row["image"]]
        row["href"] = "welds/" + quote(names[row["image"]])
    poor = set()
    if summary is not None and "too_poor" in summary:
        poor = set(summary.loc[summary["too_poor"].astype(str) == "True", "image"].astype(str))
    for row in rows:
        row["too_poor"] = row["image"] in poor
    hrefs = {row["image"]: row["href"] for row in rows}
    for c in inspections:
        c["href"] = hrefs.get(c["image"], "#" + c["anchor"])
    return rows


def _weld_pages(rows, found, annotations, files: dict, spacing: dict, run: str):
    """The weld viewer's pages, one weld at a time (a generator: one film in memory)."""
    from urllib.parse import quote

    link = [{"image": r["image"], "href": quote(r["page"])} for r in rows]
    for i, row in enumerate(rows):
        image = row["image"]
        crops, _ = hdf5_io.read_crops(files["crops"][image])
        pixels = None
        if image in files["images"]:
            pixels, _ = hdf5_io.read_image(files["images"][image])
        if pixels is None:
            pixels = viewer.film_from_crops(crops)
        recons = {}
        if image in files["reconstructions"]:
            recons = {c.name: c for c in hdf5_io.read_crops(files["reconstructions"][image])[0]}
        data = viewer.weld_data(
            image, pixels, crops, recons, found.get(image, []), annotations.get(image, [])
        )
        data["run"] = run
        script = {**data, "findings": [{**f, "closeup": None} for f in data["findings"]]}
        yield {
            **data,
            "file": row["page"],
            "position": f"rank {row['rank']} of {len(rows)}",
            "back": "../report.html#worklist",
            "spacing_mm": spacing.get(image),
            "previous": link[i - 1] if i else None,
            "next": link[i + 1] if i + 1 < len(rows) else None,
            "data_json": viewer.script_json(script),
        }


def _write_weld_pages(welds_dir, rows, found, annotations, paths: dict, images, run) -> bool:
    """Write the weld viewer (:mod:`weld_anomaly.report.viewer`); True when OpenSeadragon
    was found (else the pages show the image without pan and zoom)."""
    files = {
        kind: {Path(p).name.removesuffix(".h5"): p for p in found_paths}
        for kind, found_paths in paths.items()
    }
    spacing = {}
    if "pixel_spacing_mm" in images:
        for image, value in zip(images["image"], images["pixel_spacing_mm"], strict=True):
            if value not in ("", None) and not pd.isna(value):
                spacing[image] = float(value)
    pages = _weld_pages(rows, found, annotations, files, spacing, run)
    script = viewer.write_pages(welds_dir, pages, render_weld_page)
    return script is not None


def _quality_rows(images: pd.DataFrame, quality_h5, records, previews) -> list[dict]:
    """A row per radiograph shown (``quality_h5``: the converted files whose histograms are
    shown, the first ``report.quality_images``) or rejected or remarked on: how it was read
    and converted, its histograms and preview. The other radiographs are counted, not listed
    (results/images.csv lists them all)."""
    image_attrs = {a["image_id"]: a for a in map(hdf5_io.read_image_attrs, quality_h5)}
    preview_files = {Path(p).stem: p for p in previews}
    files = {r.image_id: r.file for r in records}
    quality = []
    for row in images.itertuples():
        attrs = image_attrs.get(row.image, {})
        shown = row.image in image_attrs or row.image in preview_files
        if not (shown or str(row.rejected) == "True" or _remarks(row)):
            continue
        quality.append(
            {
                "image": row.image,
                "file": files.get(row.image, ""),
                "status": row.status,
                "split": row.split,
                "rejected": str(row.rejected) == "True",
                "error": row.error,
                "size": f"{row.width}×{row.height}" if row.width != "" else "",
                "source": " ".join(
                    str(v) for v in (row.source_format, row.transfer_syntax_name) if v
                ),
                "bits": row.bits_stored,
                "photometric": row.photometric_interpretation,
                "window": (
                    f"{row.window_method} [{plain(row.window_lo)}, {plain(row.window_hi)}]"
                    if row.window_method
                    else ""
                ),
                "snr": _snr_text(row),
                "too_poor": str(getattr(row, "too_poor", "")) == "True",
                "histogram": _data_uri(figures.histograms(attrs))
                if "histogram_modality_counts" in attrs
                else "",
                "preview": _data_uri(figures.thumbnail(preview_files[row.image], 800))
                if row.image in preview_files
                else "",
            }
        )
    return quality


def _snr_text(row) -> str:
    """The image's signal-to-noise ratio: normalised when the pixel size is known."""
    snr, snr_n = getattr(row, "snr", ""), getattr(row, "snr_n", "")
    if snr_n not in ("", None) and not pd.isna(snr_n):
        return f"{float(snr_n):.0f} (normalised)"
    return "" if snr in ("", None) or pd.isna(snr) else f"{float(snr):.0f}"


def _image_counts(records, rejected: int) -> dict:
    return {
        "images": len(records),
        "faulty": sum(r.status == "faulty" for r in records),
        "nonfaulty": sum(r.status == "nonfaulty" for r in records),
        "splits": {s: sum(r.split == s for r in records) for s in ("train", "validation", "test")},
        "rejected": rejected,
    }


def _images_table(images_csv) -> pd.DataFrame:
    from weld_anomaly.ingest.preprocess import SUMMARY_COLUMNS

    return pd.read_csv(images_csv, keep_default_na=False).reindex(
        columns=list(SUMMARY_COLUMNS), fill_value=""
    )


def _pod_rows(result: dict) -> list[dict]:
    """Probability of detection per scorer: targets, hits, a50, a90, a90/95, warnings."""
    fits = (result.get("any_pixel") or {}).get("probability_of_detection") or {}
    return [
        {"scorer": s, **fit, "sizes": {k: pod.size_text(fit, k) for k in ("a50", "a90", "a90_95")}}
        for s, fit in fits.items()
    ]


def _tables(result: dict, train_info: dict, config: dict, fragments: int) -> dict:
    """The report's metric tables and provenance (template variables)."""
    return {
        "result": result,
        "rows": _metrics_rows(result),
        "defect_rows": _defect_rows(result),
        "any_pixel_rows": _any_pixel_rows(result),
        "intervals": (result.get("any_pixel") or {}).get("test_annotated_intervals") or {},
        "lead": ((result.get("any_pixel") or {}).get("test_annotated_intervals") or {}).get(
            "lead_over_filter"
        ),
        "pod_rows": _pod_rows(result),
        "false_calls": (result.get("findings") or {}).get("false_calls"),
        "detection_rows": _detection_rows(result),
        "train": train_info,
        "versions": software_versions(),
        "commit": git_commit(),
        "dvc": dvc_hashes(),
        "config_text": json.dumps(config, indent=2, sort_keys=True),
        "fragments_total": fragments,
    }


def _read_run(manifest_csv, images_csv, fragments_csv, metrics_json, train_info_json):
    """The run's manifest, image summary, fragment table, evaluation and training record."""
    return (
        read_manifest(manifest_csv),
        _images_table(images_csv),
        pd.read_csv(fragments_csv),
        json.loads(Path(metrics_json).read_text()),
        json.loads(Path(train_info_json).read_text()),
    )


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
    images_h5: Sequence[str | Path] = (),
    quality_h5: Sequence[str | Path] = (),
    previews: Sequence[str | Path] = (),
    reconstructions_h5: Sequence[str | Path] = (),
    experiments_json: str | Path | None = None,
    findings_json: str | Path | None = None,
    welds_dir: str | Path | None = None,
    sweep_files: Sequence[str | Path] = (),
) -> None:
    """Render the run's report to ``out_html`` (and its figures as PNGs in ``figures_dir``),
    and the weld viewer's pages into ``welds_dir`` (default: ``welds/`` beside it).

    ``images_h5``: the test welds' films (the viewer); ``quality_h5``, ``previews``: the
    radiographs whose histograms and crops the Data quality section shows.
    ``findings_json``: the run's findings (:mod:`weld_anomaly.score.findings`): the ranked
    worklist, the outlines. ``experiments_json`` (:mod:`weld_anomaly.workflow.experiments`),
    ``sweep_files`` (summary, test figures, figure: :mod:`.sweep`): their sections."""
    records, images, table, result, train_info = _read_run(
        manifest_csv, images_csv, fragments_csv, metrics_json, train_info_json
    )
    rejects = images[images["rejected"].astype(str) == "True"][["image", "error_class", "error"]]
    annotations = load_annotations(annotations_path) if annotations_path else {}
    test = table[table["split"] == "test"].reset_index(drop=True)
    found = _findings_by_image(findings_json)

    pictures = _model_pictures(test, result, history_csv, Path(figures_dir))
    settings = (size, max_width, found)
    inspections = _inspections(
        records, test, result, annotations, crops_h5, reconstructions_h5, settings
    )
    worklist = _worklist(records, inspections, found, images)
    has_viewer = _write_weld_pages(
        welds_dir or Path(out_html).parent / "welds",
        worklist,
        found,
        annotations,
        {"images": images_h5, "crops": crops_h5, "reconstructions": reconstructions_h5},
        images,
        _run_id(findings_json, metrics_json),
    )
    quality = _quality_rows(images, quality_h5, records, previews)
    warnings = _warnings(images, result, train_info) + (
        [] if has_viewer else [viewer.MISSING_VIEWER]
    )
    html = (
        _templates()
        .get_template("report.html.j2")
        .render(
            **_experiments_section(experiments_json),
            **_sweep_variables(sweep_files),
            **_tables(result, train_info, config, len(table)),
            counts=_image_counts(records, len(rejects)),
            pictures={k: _data_uri(v) for k, v in pictures.items()},
            inspections=inspections,
            quality=quality,
            quality_unlisted=len(images) - len(quality),
            warnings=warnings,
            rejects=rejects.to_dict("records"),
            worklist=worklist,
            size=size,
            flag_description=scorers.for_column(result["flag_statistic"]).description,
        )
    )
    write_text(out_html, html)
    log.info("report: %s (%.1f MB)", out_html, len(html) / 1e6)


def render_weld_page(page: dict, has_viewer: bool) -> str:
    """A weld's page in the viewer (``templates/weld.html.j2``; :mod:`.viewer` makes its
    data)."""
    return (
        _templates()
        .get_template("weld.html.j2")
        .render(page=page, viewer=has_viewer, missing_viewer=viewer.MISSING_VIEWER)
    )


def plain(value) -> str:
    """A number as people write it: no scientific notation (65,535, -1,000.5, 0.0123)."""
    value = float(value)
    if value == 0 or abs(value) >= 100:
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.2e}"


def _run_id(*paths) -> str:
    """A short digest of the run's results, naming its review in the browser's storage."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        if path and Path(path).is_file():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weld_anomaly.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["path"] = _path
    return env


def _path(value) -> markupsafe.Markup:
    """A file path (escaped) that a narrow table cell breaks after its slashes, not inside a
    name."""
    return markupsafe.Markup("/<wbr>").join(markupsafe.escape(str(value)).split("/"))


def _experiment_entries(summary: dict) -> dict:
    """Template variables of the Experiments section: each result with its figure inlined."""
    entries = [
        {**e, "uri": _data_uri(Path(e["figure"]).read_bytes())} for e in summary["experiments"]
    ]
    return {"experiments": entries, "experiments_seconds": summary.get("seconds")}


def render_experiments_page(summary: dict) -> str:
    """The Experiments section as a self-contained page of its own."""
    return _templates().get_template("experiments.html.j2").render(**_experiment_entries(summary))


def _num(value, fmt: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return fmt.format(value)


def _pct(value, fmt: str = "{:.2f} %") -> str:
    """A fraction as a percentage; "–" when there is none (e.g. no non-faulty test image)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return fmt.format(100 * value)
