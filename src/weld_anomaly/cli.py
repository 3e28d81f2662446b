"""weld-anomaly: inspect radiographs with a trained model, or draft and check crop manifests.

Every user error ends in one ``ERROR:`` line and exit status 1 (no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weld-anomaly", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _inspect_parser(sub)
    _crops_parser(sub)
    return parser


def _inspect_parser(sub) -> None:
    inspect = sub.add_parser(
        "inspect",
        help="flag anomalies in new radiographs with a trained model",
        description="Inspect new DICOM/PNG/TIFF radiographs with a trained model and the "
        "thresholds calibrated by the workflow; writes overlays, flagged.csv and report.html.",
    )
    inspect.add_argument(
        "images",
        nargs="+",
        type=Path,
        help="radiograph files, or folders (their radiographs, by the configuration's "
        "data.extensions, searched recursively); all inspected in one process, the models "
        "loaded once",
    )
    inspect.add_argument(
        "--model",
        type=Path,
        default=Path("results/model/autoencoder.keras"),
        help="the trained autoencoder (default: %(default)s, what the workflow wrote)",
    )
    inspect.add_argument(
        "--predictor",
        type=Path,
        default=Path("results/model/texture_predictor.json"),
        help="the fitted texture predictor (used when score.texture_predictor is on)",
    )
    inspect.add_argument(
        "--detector",
        type=Path,
        default=Path("results/model/detector.keras"),
        help="the trained flaw detector (used when score.detector is on)",
    )
    inspect.add_argument(
        "--metrics",
        type=Path,
        default=Path("results/metrics/evaluation.json"),
        help="the evaluation JSON holding the calibrated threshold",
    )
    inspect.add_argument(
        "--config",
        type=Path,
        default=Path("config/config.yaml"),
        help="the configuration the model was trained with",
    )
    inspect.add_argument(
        "--crops",
        type=Path,
        default=None,
        help="crop manifest (YAML); default: inspect each whole image",
    )
    inspect.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="inspect the readable images and exit 0 when some cannot be read (default: "
        "inspect them, then exit 1 naming those that could not be read)",
    )
    inspect.add_argument(
        "--out",
        type=Path,
        default=Path("results/inspect"),
        help="folder for overlays, flagged.csv and report.html (default: %(default)s)",
    )


def _crops_parser(sub) -> None:
    crops = sub.add_parser("crops", help="draft, preview and check crop manifests")
    crops_sub = crops.add_subparsers(
        dest="crops_command", required=True, metavar="{suggest,preview}"
    )
    suggest = crops_sub.add_parser(
        "suggest",
        help="find the weld in each radiograph and draft a crop manifest",
        description="Find the weld bead in each radiograph and write a draft crop manifest "
        "(YAML): a box around the weld (several boxes along a curved weld), the weld ring of "
        "a double-wall pipe film, or the whole image when it is a weld crop already or the "
        "finder is not sure (a WARNING line says why). Each image gets a preview PNG to "
        "review it on: the boxes, the finder's confidence or doubt, and, given annotations, "
        "the defects (green) and those the boxes leave out (red).",
    )
    suggest.add_argument("images", nargs="+", type=Path, help="radiograph files")
    suggest.add_argument("-o", "--output", type=Path, required=True, help="manifest to write")
    suggest.add_argument(
        "--previews", type=Path, default=None, help="folder for previews (default: next to -o)"
    )
    suggest.add_argument(
        "--margin",
        type=int,
        default=8,
        help="pixels added beyond the weld region (the bead and its toes, one FWHM either side)",
    )
    suggest.add_argument("--fragment-size", type=int, default=64, help="fragment side (pixels)")
    _defect_options(suggest)
    preview = crops_sub.add_parser(
        "preview",
        help="draw a crop manifest on its radiographs (and check it)",
        description="Check a crop manifest against the radiographs (every error in one line) "
        "and draw its crops on each image.",
    )
    preview.add_argument("manifest", type=Path, help="crop manifest (YAML)")
    preview.add_argument("images", nargs="+", type=Path, help="radiograph files")
    preview.add_argument("-o", "--out", type=Path, required=True, help="folder for the PNGs")
    preview.add_argument("--fragment-size", type=int, default=64, help="fragment side (pixels)")
    _defect_options(preview)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("weld-anomaly")
    except metadata.PackageNotFoundError:  # a checkout run without installing
        return "unknown (not installed)"


def _defect_options(parser) -> None:
    parser.add_argument(
        "--annotations",
        type=Path,
        default=None,
        help="defect annotations (YAML): warn, per image, of annotated defect pixels "
        "that fall outside every crop",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="with --annotations: stop when a crop leaves a defect pixel out",
    )


def _inspect(args) -> None:
    from weld_anomaly.errors import UserError
    from weld_anomaly.files import load_yaml
    from weld_anomaly.workflow.plan import validate_config

    if not args.config.is_file():
        raise UserError(
            "configuration not found",
            where=str(args.config),
            fix="run from the workflow's folder, or pass --config with the "
            "configuration the model was trained with",
        )
    config = load_yaml(args.config, "configuration")
    if SCHEMA.is_file():  # a checkout of the workflow (not a bare wheel install)
        validate_config(config, SCHEMA, str(args.config))
    from weld_anomaly.memory import keep_freed_memory
    from weld_anomaly.model.backend import configure
    from weld_anomaly.threads import available_cpus

    configure(config["train"]["backend"], available_cpus())  # OMP_NUM_THREADS wins if set
    keep_freed_memory()  # many image-sized maps made and freed: reuse the memory
    from weld_anomaly.ingest.inventory import list_images
    from weld_anomaly.workflow.inspection import inspect_images

    images, endings = [], ", ".join(config["data"]["extensions"])
    for path in args.images:
        if path.is_dir():
            found = list_images(path, config["data"]["extensions"])
            if not found:
                raise UserError(
                    "no radiographs in this folder",
                    where=str(path),
                    fix=f"check the path; files ending in {endings} are inspected",
                )
            images += found
        else:
            images.append(path)
    summary = inspect_images(
        images,
        args.model,
        args.metrics,
        config,
        args.out,
        args.crops,
        predictor_path=args.predictor,
        detector_path=args.detector,
    )
    flagged = sum(s["flagged"] for s in summary)
    unread = [s for s in summary if s.get("rejected")]
    print(
        f"{len(summary) - len(unread)} image(s) inspected, {flagged} flagged "
        f"fragment(s)" + (f", {len(unread)} not readable" if unread else "") + ". "
        f"Report: {(args.out / 'report.html').resolve()}"
    )
    if unread and not args.skip_unreadable:
        raise UserError(
            f"{len(unread)} of {len(summary)} image(s) could not be read (the first: "
            f"{unread[0]['rejected'].rstrip('.')})",
            fix="fix or leave them out, or pass --skip-unreadable; the others' results are written",
        )


def _crops(args) -> None:
    from weld_anomaly.ingest.crop_tools import preview_manifest, suggest_manifest

    if args.crops_command == "suggest":
        previews = args.previews or args.output.with_suffix("").with_name(
            args.output.stem + "_previews"
        )
        n = suggest_manifest(
            args.images,
            args.output,
            previews,
            args.margin,
            args.fragment_size,
            args.annotations,
            args.strict,
        )
        print(f"{n} image(s): draft manifest {args.output}, previews in {previews}/")
    else:
        n = preview_manifest(
            args.manifest,
            args.images,
            args.out,
            args.fragment_size,
            args.annotations,
            args.strict,
        )
        print(f"{n} image(s) drawn in {args.out}/; the manifest is valid for them")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from weld_anomaly.errors import UserError
    from weld_anomaly.workflow.runner import setup_logging

    setup_logging(None)
    try:
        _inspect(args) if args.command == "inspect" else _crops(args)
    except UserError as exc:
        print(f"ERROR: {exc.line()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
