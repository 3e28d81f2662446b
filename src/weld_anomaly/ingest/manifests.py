"""The YAML files users write: the crop manifest and the defect annotations.

Crop manifest (pixel coordinates of the full image; ``x, y`` is the top-left corner)::

    version: 1
    images:
      weld_001:
        - {name: weld, x: 0, y: 150, width: 2048, height: 220}

Annotations (one box per defect; severity ``likely`` or ``possible``)::

    version: 1
    images:
      weld_007:
        - {x: 250, y: 232, width: 18, height: 15, severity: likely, type: pore}

Every mistake is reported with the file, the image, the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from weld_anomaly.errors import ManifestError
from weld_anomaly.files import load_yaml

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SEVERITIES = ("likely", "possible")


@dataclass(frozen=True)
class Box:
    """A rectangle in pixel coordinates of the full image."""

    x: int
    y: int
    width: int
    height: int

    @property
    def x1(self) -> int:
        return self.x + self.width

    @property
    def y1(self) -> int:
        return self.y + self.height


@dataclass(frozen=True)
class CropSpec(Box):
    name: str = ""


@dataclass(frozen=True)
class Annotation(Box):
    severity: str = "likely"
    kind: str = ""


def _top(data, path: Path, what: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict) or "images" not in data:
        raise ManifestError(
            f"{what} must be a mapping with an 'images' key",
            where=str(path),
            fix="see config/README.md for the format",
        )
    unknown = set(data) - {"version", "images"}
    if unknown:
        raise ManifestError(
            f"unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}",
            where=str(path),
            fix="keep only 'version' and 'images'",
        )
    images = data["images"] or {}
    if not isinstance(images, dict):
        raise ManifestError(
            "'images' must map image ids to lists",
            where=str(path),
            fix="see config/README.md for the format",
        )
    return images


def _int_field(entry: dict, key: str, where: str, minimum: int) -> int:
    if key not in entry:
        raise ManifestError(f"missing field '{key}'", where=where, fix=f"add '{key}'")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(
            f"field '{key}' must be a whole number of pixels, got {value!r}",
            where=where,
            fix=f"write '{key}' as an integer",
        )
    if value < minimum:
        what = "zero or negative" if minimum > 0 else "negative"
        raise ManifestError(
            f"field '{key}' is {what} ({value})", where=where, fix=f"use '{key}' >= {minimum}"
        )
    return value


def _entries(images: dict, path: Path, image_id, what: str) -> list[dict]:
    entries = images[image_id]
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ManifestError(
            f"the entry of image {image_id!r} must be a list of mappings",
            where=str(path),
            fix=f"see config/README.md for the {what} format",
        )
    return entries


def load_crop_manifest(path: str | Path, fragment_size: int) -> dict[str, list[CropSpec]]:
    """Read and check a crop manifest (sizes are checked against images later)."""
    path = Path(path)
    images = _top(load_yaml(path, "crop manifest"), path, "crop manifest")
    out: dict[str, list[CropSpec]] = {}
    for image_id in images:
        entries = _entries(images, path, image_id, "crop manifest")
        crops: list[CropSpec] = []
        for i, entry in enumerate(entries, start=1):
            name = entry.get("name", f"crop{i}")
            where = f"{path}, image {image_id}, crop {name if 'name' in entry else f'#{i}'}"
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise ManifestError(
                    f"crop name {name!r} must use letters, digits, '_', '.', '-'",
                    where=where,
                    fix="rename the crop",
                )
            unknown = set(entry) - {"name", "x", "y", "width", "height"}
            if unknown:
                raise ManifestError(
                    f"unknown field(s) {', '.join(sorted(map(str, unknown)))}",
                    where=where,
                    fix="use name, x, y, width, height",
                )
            x = _int_field(entry, "x", where, 0)
            y = _int_field(entry, "y", where, 0)
            width = _int_field(entry, "width", where, 1)
            height = _int_field(entry, "height", where, 1)
            if width < fragment_size or height < fragment_size:
                raise ManifestError(
                    f"crop is {width}x{height} px, smaller than one "
                    f"{fragment_size}x{fragment_size} fragment",
                    where=where,
                    fix=f"make width and height at least {fragment_size}",
                )
            if any(c.name == name for c in crops):
                raise ManifestError(
                    "duplicate crop name",
                    where=where,
                    fix="give each crop of an image its own name",
                )
            crops.append(CropSpec(x, y, width, height, name))
        out[str(image_id)] = crops
    return out


def check_crops_fit(
    crops: list[CropSpec], height: int, width: int, image_id: str, manifest: str
) -> None:
    """Raise when a crop reaches outside its ``height`` × ``width`` image, saying by how much."""
    for crop in crops:
        over = []
        if crop.x1 > width:
            over.append(
                f"{crop.x1 - width} px past the right edge (x + width = {crop.x1} > {width})"
            )
        if crop.y1 > height:
            over.append(
                f"{crop.y1 - height} px past the bottom edge (y + height = {crop.y1} > {height})"
            )
        if over:
            raise ManifestError(
                f"crop reaches outside the {width}x{height} image: {'; '.join(over)}",
                where=f"{manifest}, image {image_id}, crop {crop.name}",
                fix="move or shrink the crop in the crop manifest",
            )


def check_known_images(entries: dict, known: set[str], path: str, what: str) -> None:
    """Raise when a manifest names an image that the inventory does not have."""
    unknown = sorted(set(entries) - known)
    if unknown:
        raise ManifestError(
            f"{len(unknown)} unknown image id(s): {listed_ids(unknown)}",
            where=path,
            fix=f"fix the ids in the {what} or add the images to the labels",
        )


def listed_ids(ids: list[str], limit: int = 5) -> str:
    """``a, b, c, d, e and 3 more``: every id counted, the first few named."""
    more = len(ids) - limit
    return ", ".join(ids[:limit]) + (f" and {more} more" if more > 0 else "")


def defects_outside(
    crops: list, defects: list[Annotation], shape: tuple[int, int], mask=None
) -> tuple[int, int]:
    """Annotated defect pixels that lie outside every crop, and how many defects lose some.

    ``mask``: the image's defect mask (pixels), else the annotation boxes count.
    """
    import numpy as np

    covered = np.zeros(shape, dtype=bool)
    for c in crops:
        covered[c.y : c.y + c.height, c.x : c.x + c.width] = True
    if mask is not None:
        from scipy import ndimage

        lost = mask & ~covered
        labels, n = ndimage.label(mask)
        hit = np.unique(labels[lost]) if lost.any() else []
        return int(lost.sum()), int(len([v for v in hit if v]))
    outside = pixels_outside(covered, defects)
    return sum(outside), sum(n > 0 for n in outside)


def pixels_outside(covered, defects: list[Annotation]) -> list[int]:
    """Each defect box's pixels outside ``covered`` (a boolean image of what crops hold)."""
    return [int((~covered[d.y : d.y1, d.x : d.x1]).sum()) for d in defects]


# what a defect entry may hold (contrast and cnr: measured values, kept for reference)
# reviewed_by / reviewed_at: who confirmed or added a defect in the viewer's review, and when
ANNOTATION_FIELDS = {
    "x", "y", "width", "height", "severity", "type", "contrast", "cnr", "reviewed_by", "reviewed_at"
}  # fmt: skip


def load_annotations(path: str | Path) -> dict[str, list[Annotation]]:
    """Read and check a defect annotations file."""
    path = Path(path)
    images = _top(load_yaml(path, "annotations file"), path, "annotations file")
    out: dict[str, list[Annotation]] = {}
    for image_id in images:
        boxes = []
        for i, entry in enumerate(_entries(images, path, image_id, "annotations"), start=1):
            where = f"{path}, image {image_id}, defect #{i}"
            unknown = set(entry) - ANNOTATION_FIELDS
            if unknown:
                raise ManifestError(
                    f"unknown field(s) {', '.join(sorted(map(str, unknown)))}",
                    where=where,
                    fix="use x, y, width, height, severity, type",
                )
            severity = entry.get("severity", "likely")
            if severity not in SEVERITIES:
                raise ManifestError(
                    f"severity must be 'likely' or 'possible', got {severity!r}",
                    where=where,
                    fix="fix the severity",
                )
            boxes.append(
                Annotation(
                    _int_field(entry, "x", where, 0),
                    _int_field(entry, "y", where, 0),
                    _int_field(entry, "width", where, 1),
                    _int_field(entry, "height", where, 1),
                    severity,
                    str(entry.get("type", "")),
                )
            )
        out[str(image_id)] = boxes
    return out


def load_masks(paths: Sequence[str | Path]) -> dict:
    """Binary defect masks by image id (the PNG's name): nonzero = defect pixel."""
    import numpy as np
    from PIL import Image

    masks = {}
    for path in map(Path, paths):
        try:
            with Image.open(path) as image:
                masks[path.stem] = np.asarray(image.convert("L")) > 0
        except (OSError, ValueError) as exc:
            raise ManifestError(
                f"cannot read the defect mask ({exc})",
                where=str(path),
                fix="write the mask as a greyscale PNG, nonzero where a defect is",
            ) from exc
    return masks
