"""What the workflow will do, decided when it starts: config checks and the image list.

Snakemake's ``rules/common.smk`` calls these functions at parse time. They never import
Snakemake, so they are tested like the rest of the package.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from weld_anomaly.errors import ConfigError
from weld_anomaly.ingest import inventory
from weld_anomaly.ingest.inventory import ImageRecord
from weld_anomaly.ingest.manifests import load_annotations
from weld_anomaly.simulate import demo


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _holds(tree, parts: Sequence[str]) -> bool:
    for part in parts:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def config_source(
    parts: Sequence[str], files: Sequence[str | Path], overrides: dict | None = None
) -> str:
    """Where the configuration key ``parts`` was set: the file a user should open.

    ``files`` in the order Snakemake applies them (``config/config.yaml``, then each
    ``--configfile``): the last one that holds the key wins, as it does for the value; a
    ``--config`` setting beats them all.
    """
    if overrides and _holds(overrides, parts):
        return "--config (command line)"
    for path in reversed(files):
        try:
            tree = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError):
            continue
        if _holds(tree, parts):
            return _shown(path)
    return _shown(files[0]) if files else "config/config.yaml"


def _shown(path: str | Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _nearest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def type_overrides(config: dict, overrides: dict | None) -> None:
    """Give ``--config`` values inside a group their YAML types, in ``config``.

    Snakemake parses ``--config group='{key: 4}'`` (and a profile's ``config:``) with YAML's
    base loader, so every value inside the group arrives as a string ('4', 'null'), also
    inside lists of mappings (sweep.space); a config file gives the same value its type.
    Strings YAML reads as numbers, booleans, null or lists become those; anything else
    stays as it was.
    """

    def typed(value: str):
        try:
            out = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return out if out is None or isinstance(out, (bool, int, float, list)) else value

    def walk(over, target) -> None:
        """Type the strings of ``over`` (a mapping or a list) where ``target`` holds them."""
        keys = (
            [k for k in over if k in target]
            if isinstance(over, dict)
            else range(min(len(over), len(target)))
        )
        for key in keys:
            value = over[key]
            if isinstance(value, (dict, list)) and isinstance(target[key], type(value)):
                walk(value, target[key])
            elif isinstance(value, str) and target[key] is value:
                target[key] = typed(value)

    for group, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(config.get(group), dict):
            walk(value, config[group])


def validate_config(
    config: dict,
    schema_path: str | Path,
    config_path: str = "config/config.yaml",
    files: Sequence[str | Path] = (),
    overrides: dict | None = None,
) -> None:
    """Check ``config`` against the JSON schema; raise one :class:`ConfigError` naming the key.

    The error names the file that holds the mistake (see :func:`config_source`; ``files``
    and ``overrides`` as Snakemake applied them, else ``config_path``), and for a misspelt
    key the nearest known one.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path))
    )
    if not errors:
        return
    error = errors[0]
    key = _key_path(error)
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = sorted(set(error.instance) - set(known))
        where = f"{key}." if key != "(top level)" else ""
        what = f"unknown key {', '.join(where + e + _nearest(e, known) for e in extra)}"
        fix = "remove it or fix its spelling (see the comments in config/config.yaml)"
        parts = [*parts, extra[0]]
    elif error.validator == "required":
        missing = [m for m in error.validator_value if m not in error.instance]
        where = f"{key}." if key != "(top level)" else ""
        what = f"missing key {', '.join(where + m for m in missing)}"
        fix = "add it (every key must be written out; see config/config.yaml in the repository)"
    else:
        description = error.schema.get("description", "").rstrip(".")
        what = f"key {key}: {error.message}"
        fix = f"set {key} as the comments in config/config.yaml explain"
        if description:
            fix += f" ({description})"
    source = config_source(parts, files, overrides) if files or overrides else config_path
    raise ConfigError(what, where=source, fix=fix)


@dataclass(frozen=True)
class DataPaths:
    """The data files a run reads (for the demo: the files its generator writes)."""

    images_dir: str | None
    labels: str | None
    annotations: str | None
    crops: str | None
    masks: str | None = None  # folder of <image>.png defect masks


def data_paths(config: dict) -> DataPaths:
    """Where the labels, annotations and crop manifest are, for this configuration."""
    data = config["data"]
    if data["source"] == "demo":
        out = config["demo"]["out_dir"]
        return DataPaths(
            f"{out}/images",
            f"{out}/labels.csv",
            f"{out}/annotations.yaml",
            f"{out}/crops.yaml",
            f"{out}/masks",
        )
    return DataPaths(
        data["images_dir"],
        data["labels"],
        data["annotations"],
        data["crops"],
        data.get("annotation_masks"),
    )


def _require(value, key: str, source: str) -> str:
    if not value:
        raise ConfigError(
            f"data.{key} is not set but data.source is {source}",
            where="config/config.yaml",
            fix=f"set data.{key}",
        )
    return value


# Snakemake expands "<name>" in any input path as a path variable; such a path cannot be an
# input, so it is refused up front with a clear message instead of Snakemake's exception.
PATHVAR = re.compile(r"<[a-z][a-z0-9_]*>")


def check_paths(records: list[ImageRecord], *paths: str | None) -> None:
    """Refuse file paths that Snakemake would misread as path variables."""
    for path in [*(r.file for r in records), *(p for p in paths if p)]:
        found = PATHVAR.search(str(path))
        if found:
            raise ConfigError(
                f"the path contains '{found.group(0)}', which Snakemake reads as a path variable",
                where=str(path),
                fix="rename the file or folder (no '<' directly followed by a lower-case name "
                "and '>')",
            )


def build_inventory(config: dict) -> list[ImageRecord]:
    """Every image of the run with its status and split, sorted by id."""
    data = config["data"]
    source = data["source"]
    if source == "demo":
        settings = demo.DemoSettings.from_config(config["demo"])
        out = Path(config["demo"]["out_dir"]) / "images"
        records = [
            ImageRecord(i.image_id, str(out / i.file_name), i.status) for i in demo.plan(settings)
        ]
    elif source == "table":
        records = inventory.from_table(
            _require(data["labels"], "labels", source),
            data["images_dir"] or Path(data["labels"]).parent,
        )
    elif source == "folders":
        records = inventory.from_folders(
            _require(data["images_dir"], "images_dir", source), data["extensions"]
        )
    else:
        annotated = load_annotations(_require(data["annotations"], "annotations", source))
        records = inventory.from_annotations(
            _require(data["images_dir"], "images_dir", source), data["extensions"], annotated
        )
    paths = data_paths(config)
    check_paths(records, paths.labels, paths.annotations, paths.crops)
    split = data["split"]
    if split["validation"] + split["test"] >= 1:
        raise ConfigError(
            "data.split.validation + data.split.test must be below 1 (some images must train)",
            where="config/config.yaml",
            fix="lower the fractions",
        )
    return inventory.assign_splits(
        sorted(records, key=lambda r: r.image_id),
        split["validation"],
        split["test"],
        split["seed"],
        split["faulty_validation"],
    )
