"""The package's command line: ``weld-anomaly inspect ...``.

Every user error ends in one ``ERROR:`` line and exit status 1 (no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weld-anomaly", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser(
        "inspect",
        help="flag anomalies in new radiographs with a trained model",
        description="Inspect new DICOM/PNG/TIFF radiographs with a trained model and the "
        "thresholds calibrated by the workflow; writes overlays, flagged.csv and report.html.",
    )
    inspect.add_argument("images", nargs="+", type=Path, help="radiograph files")
    inspect.add_argument("--model", type=Path, default=Path("results/model/autoencoder.keras"))
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
    inspect.add_argument("--out", type=Path, default=Path("results/inspect"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from weld_anomaly.errors import UserError
    from weld_anomaly.runner import setup_logging

    setup_logging(None)
    try:
        if args.command == "inspect":
            from weld_anomaly.files import load_yaml
            from weld_anomaly.plan import validate_config

            config = load_yaml(args.config, "configuration")
            if SCHEMA.is_file():  # a checkout of the workflow (not a bare wheel install)
                validate_config(config, SCHEMA, str(args.config))
            from weld_anomaly.backend import configure

            configure(config["train"]["backend"])
            from weld_anomaly.inspection import inspect_images

            summary = inspect_images(
                args.images, args.model, args.metrics, config, args.out, args.crops
            )
            flagged = sum(s["flagged"] for s in summary)
            print(
                f"{len(summary)} image(s), {flagged} flagged fragment(s). "
                f"Report: {(args.out / 'report.html').resolve()}"
            )
    except UserError as exc:
        print(f"ERROR: {exc.line()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
