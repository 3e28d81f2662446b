"""Inspect new radiographs with a trained model and its calibrated thresholds.

The operator's daily use, no retraining: each image is converted like the training data,
cut into its crops (from a crop manifest, or the whole image), fragmented, scored, and
flagged with the threshold the ``evaluate`` step calibrated on normal validation data.

Outputs in ``out_dir``: ``<image>.png`` (the crops with flagged fragments outlined),
``flagged.csv`` (image, crop, x, y, size, score, statistic, threshold: one row per flagged
fragment), ``images.csv`` (every image: flagged count, or why it was rejected) and
``report.html``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2
import numpy as np

from weld_anomaly.errors import ImageError, UserError
from weld_anomaly.files import write_bytes, write_text
from weld_anomaly.ingest import hdf5_io, inventory, tiling
from weld_anomaly.ingest.convert import ConvertSettings, convert
from weld_anomaly.ingest.manifests import CropSpec, check_crops_fit, load_crop_manifest
from weld_anomaly.ingest.preprocess import pixel_spacing_mm
from weld_anomaly.report import figures, viewer
from weld_anomaly.report.dicom_findings import write_presentation_state
from weld_anomaly.report.html import render_weld_page
from weld_anomaly.score import findings, scorers
from weld_anomaly.score.scoring import ResidualSettings, score_fragments

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """The flagging rule chosen and calibrated by ``evaluate``."""

    statistic: str
    threshold: float
    direction: str  # "high" or "low"
    combined: dict | None = None  # how a combined statistic is computed from the table
    yardstick: dict | None = None  # the normal validation scores (findings' confidence)

    @classmethod
    def from_metrics(cls, path: str | Path) -> Calibration:
        path = Path(path)
        if not path.is_file():
            raise UserError(
                "evaluation metrics not found",
                where=str(path),
                fix="run the workflow first (snakemake) to train and calibrate",
            )
        result = json.loads(path.read_text())
        statistic = result["flag_statistic"]
        return cls(
            statistic,
            float(result["thresholds"][statistic]),
            result.get("direction", {}).get(statistic, "high"),
            result.get("combined", {}).get(statistic),
            result.get("findings", {}).get("yardstick"),
        )

    def _scorer(self) -> scorers.Scorer:
        scorer = scorers.for_column(self.statistic)
        return scorer.restore(self.combined) if self.combined is not None else scorer

    @property
    def columns(self) -> list[str]:
        """The crop scorers' columns the calibrated statistic is computed from."""
        return self._scorer().parts if self.combined is not None else [self.statistic]

    def scores(self, table) -> np.ndarray:
        """The calibrated statistic of every fragment of a scores table."""
        scorer = self._scorer()
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise UserError(
                f"the calibrated statistic {self.statistic} needs {', '.join(missing)}, "
                "which the score settings do not compute",
                where="score",
                fix="restore the settings or run the workflow again to recalibrate",
            )
        if self.combined is not None:
            return scorer.score(scorers.ScoredFragments(table))
        return table[self.statistic].to_numpy()

    def flags(self, scores: np.ndarray) -> np.ndarray:
        oriented = -scores if self.direction == "low" else scores
        return oriented > self.threshold


@dataclass
class _Setup:
    """Everything inspecting one image needs: the model, the calibration, the settings."""

    model: object
    calibration: Calibration
    convert: ConvertSettings
    config: dict
    residual: ResidualSettings
    manifest: dict
    manifest_path: str
    detector: object | None = None
    supervised: object | None = None


def _supervised(detector_path) -> object | None:
    """The detector fine-tuned on annotations (``supervised/all.keras`` beside the detector),
    when the workflow trained one."""
    path = Path(detector_path).parent / "supervised" / "all.keras" if detector_path else None
    if path is None or not path.is_file():
        return None
    from weld_anomaly.score.scoring import load_model

    return load_model(path)


def _detector(config: dict, path, load: bool) -> object | None:
    """The trained flaw detector when the configuration scores with it (checked there;
    loaded when ``load``)."""
    if not config["score"].get("detector"):
        return None
    if path is None or not Path(path).is_file():
        raise UserError(
            "the flaw detector is on but its model was not found",
            where=str(path or "score.detector"),
            fix="run the workflow first (snakemake) to train it, pass --detector, "
            "or set score.detector to false",
        )
    from weld_anomaly.score.scoring import load_model

    return load_model(path) if load else None


def _setup(
    model_path, metrics_json, config, crop_manifest, predictor_path, detector_path
) -> _Setup:
    """The calibration, the settings, and the models its flagging rule reads (every model
    given is checked; those the rule does not read are not loaded: inspection computes only
    the columns the rule needs)."""
    calibration = Calibration.from_metrics(metrics_json)
    needed = calibration.columns
    model_path = Path(model_path)
    if not model_path.is_file():
        raise UserError(
            "model not found",
            where=str(model_path),
            fix="run the workflow first (snakemake) to train it",
        )
    model = None
    if any(scorers.for_column(c).reads_reconstruction for c in needed):
        import keras

        model = keras.saving.load_model(model_path, compile=False)
    return _Setup(
        model,
        calibration,
        ConvertSettings.from_config(config["convert"]),
        config,
        ResidualSettings.from_config(config["score"], predictor_path),
        load_crop_manifest(crop_manifest, config["fragments"]["size"]) if crop_manifest else {},
        str(crop_manifest or "whole image"),
        _detector(config, detector_path, load="detector" in needed),
        _supervised(detector_path)
        if config["score"].get("detector") and "detector_supervised" in needed
        else None,
    )


def _fragments(crops: list[hdf5_io.Crop], names: list[str], size: int, stride: int):
    """Every crop tiled into fragments, with corners in image coordinates."""
    parts, corners, index = [], [], []
    for i, crop in enumerate(crops):
        frags, local = tiling.cut_fragments(crop.pixels, size, stride)
        parts.append(frags)
        corners.append(local + np.array([crop.y, crop.x]))
        index.append(np.full(len(frags), i))
    return hdf5_io.Fragments(
        np.concatenate(parts), np.concatenate(corners), np.concatenate(index), names, {}
    )


def _overlay(crops, found, masks, size: int, max_width: int) -> bytes:
    """The crops with their findings outlined by confidence (as the workflow's report draws
    them), stacked into one PNG."""
    overlays = []
    for i, crop in enumerate(crops):
        own = [f for f in found if f.crop == crop.name]
        overlays.append(
            figures.marked_crop(
                crop.pixels,
                crop.y,
                crop.x,
                np.zeros((0, 2), dtype=int),
                size,
                (),
                max_width,
                masked=masks[i],
                outlines=[(str(f.finding), f.outline, f.confidence) for f in own],
            )
        )
    return overlays[0] if len(overlays) == 1 else figures.stack_pngs(overlays)


def _inspect_one(source: Path, image_id: str, setup: _Setup, out: Path) -> dict:
    """Convert, crop, score and flag one radiograph; write its overlay PNG.

    Returns its summary row, flagged rows and report page (or raises ImageError).
    """
    config, calibration = setup.config, setup.calibration
    size, stride = config["fragments"]["size"], config["fragments"]["stride"]
    converted = convert(source, setup.convert)
    pixels = converted.pixels
    specs = setup.manifest.get(image_id) or [
        CropSpec(0, 0, pixels.shape[1], pixels.shape[0], "image")
    ]
    check_crops_fit(specs, pixels.shape[0], pixels.shape[1], image_id, setup.manifest_path)
    crops = hdf5_io.cut_crops(pixels, specs)
    frags = _fragments(crops, [c.name for c in specs], size, stride)
    score = config["score"]
    table, recons, masks = score_fragments(
        setup.model,
        frags,
        crops,
        image_id,
        batch_size=score["batch_size"],
        median_size=score["baseline_median"],
        sigma=score["baseline_sigma"],
        residual=setup.residual,
        contrast_sigmas=tuple(score.get("contrast_sigmas") or ()),
        detector=setup.detector,
        robust=bool(score.get("robust_normalisation", True)),
        supervised=setup.supervised,
        columns=calibration.columns,
    )
    values = calibration.scores(table)
    flags = calibration.flags(values)
    flagged = [
        {
            "image": image_id,
            "crop": crop_name,
            "x": int(x),
            "y": int(y),
            "size": size,
            "score": float(value),
            "statistic": calibration.statistic,
            "threshold": calibration.threshold,
        }
        for (y, x), crop_name, value in zip(
            frags.corners[flags], table["crop"].to_numpy()[flags], values[flags], strict=True
        )
    ]
    spacing = pixel_spacing_mm(converted.attrs)
    if spacing == "" and config["data"].get("pixel_size_mm") is not None:
        spacing = float(config["data"]["pixel_size_mm"])  # the files do not say: the config's
    found = _findings(table, values, flags, calibration, size, spacing, crops)
    png = _overlay(crops, found, masks, size, config["report"]["max_width"])
    write_bytes(out / f"{image_id}.png", png)
    weld = viewer.weld_data(
        image_id, pixels, crops, {c.name: c for c in recons}, [asdict(f) for f in found], []
    )
    weld["spacing_mm"] = None if spacing == "" else float(spacing)
    n, hits = int(len(frags)), int(flags.sum())
    log.info("%s: %d of %d fragments flagged", image_id, hits, n)
    return {
        "summary": {
            "image": image_id,
            "file": str(source),
            "fragments": n,
            "flagged": hits,
            "rejected": "",
        },
        "flagged": flagged,
        "findings": found,
        "page": {
            "image": image_id,
            "flagged": hits,
            "fragments": n,
            "uri": "data:image/png;base64," + base64.b64encode(png).decode(),
        },
        "weld": weld,
    }


def _findings(table, values, flags, calibration, size, spacing, crops) -> list:
    """The image's findings (flagged fragments merged, :mod:`weld_anomaly.score.findings`),
    judged against the normal validation scores of the run that calibrated the threshold;
    each measured on its indication in ``crops``."""
    oriented = -values if calibration.direction == "low" else values
    if calibration.yardstick is None:  # an evaluation.json from before findings existed
        normal = findings.NormalScores(np.array([]), 1.0)
    else:
        normal = findings.NormalScores.from_summary(calibration.yardstick)
    return findings.find(
        table, oriented, flags, calibration.threshold, normal, size, calibration.statistic,
        None if spacing == "" else {str(table["image"].iloc[0]): float(spacing)},
        lambda image: {c.name: (c.pixels, (c.x, c.y)) for c in crops},
    )  # fmt: skip


def _write_outputs(out: Path, flagged_rows, summary, pages, calibration, found=()) -> None:
    findings.write(
        list(found), out / "findings.csv", out / "findings.json",
        meta={"scorer": calibration.statistic, "threshold": calibration.threshold},
    )  # fmt: skip
    _write_csv(
        out / "flagged.csv",
        flagged_rows,
        ["image", "crop", "x", "y", "size", "score", "statistic", "threshold"],
    )
    _write_csv(out / "images.csv", summary, ["image", "file", "fragments", "flagged", "rejected"])
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weld_anomaly.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    rows = findings.worklist([p["image"] for p in pages], list(found))
    hrefs = {p["image"]: p["href"] for p in pages}
    for row in rows:
        row["href"] = hrefs[row["image"]]
    html = env.get_template("inspect.html.j2").render(
        pages=pages, summary=summary, calibration=calibration, rows=flagged_rows, worklist=rows
    )
    write_text(out / "report.html", html)


def inspect_images(
    images: list[str | Path],
    model_path: str | Path,
    metrics_json: str | Path,
    config: dict,
    out_dir: str | Path,
    crop_manifest: str | Path | None = None,
    predictor_path: str | Path | None = None,
    detector_path: str | Path | None = None,
) -> list[dict]:
    """Inspect ``images``; write overlays, flagged.csv, findings.csv/.json, images.csv,
    report.html, and for DICOM inputs with findings ``dicom/<image>.dcm`` (presentation states).

    ``predictor_path``: the fitted texture predictor, needed when the configuration's
    ``score.texture_predictor`` is on; ``detector_path``: the trained flaw detector, needed
    when ``score.detector`` is on.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup = _setup(model_path, metrics_json, config, crop_manifest, predictor_path, detector_path)
    flagged_rows, summary, pages, found = [], [], [], []
    seen: set[str] = set()
    images = list(images)
    welds = {"taken": set(), "previous": None, "viewer": viewer.install_script(out / "welds")}
    for source in map(Path, images):
        image_id = inventory.id_from_file(source.name, str(source))
        if image_id in seen:
            raise UserError(
                f"two images have the id {image_id!r}", where=str(source), fix="rename one of them"
            )
        seen.add(image_id)
        try:
            done = _inspect_one(source, image_id, setup, out)
        except ImageError as exc:
            log.warning("%s", exc.line())
            summary.append(
                {
                    "image": image_id,
                    "file": str(source),
                    "fragments": 0,
                    "flagged": 0,
                    "rejected": exc.line(),
                }
            )
            continue
        summary.append(done["summary"])
        flagged_rows += done["flagged"]
        found += done["findings"]
        pages.append(done["page"])
        pages[-1]["href"] = _write_weld_page(out, done["weld"], len(pages), len(images), welds)
        # DICOM inputs: the findings as a presentation state the lab's viewer opens
        mine = [asdict(f) for f in done["findings"]]
        write_presentation_state(source, mine, image_id, out / "dicom" / f"{image_id}.dcm")
    _write_outputs(out, flagged_rows, summary, pages, setup.calibration, found)
    return summary


def _write_weld_page(out: Path, weld: dict, n: int, total: int, state: dict) -> str:
    """The image's page in the weld viewer (``welds/``), linked to the one before it;
    returns its address from ``report.html``."""
    from urllib.parse import quote

    name = viewer.page_name(weld["image"], state["taken"])
    weld["run"] = "inspect-" + out.resolve().name
    script = {**weld, "findings": [{**f, "closeup": None} for f in weld["findings"]]}
    page = {
        **weld,
        "file": name,
        "position": f"image {n} of {total}",
        "back": "../report.html",
        "previous": state["previous"],
        "next": None,
        "data_json": viewer.script_json(script),
    }
    write_text(out / "welds" / name, render_weld_page(page, state["viewer"] is not None))
    state["previous"] = {"image": weld["image"], "href": quote(name)}
    return "welds/" + quote(name)


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(path, buffer.getvalue())
