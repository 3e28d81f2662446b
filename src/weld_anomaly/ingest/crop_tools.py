"""``weld-anomaly crops suggest`` and ``crops preview``: draft and check crop manifests.

Images are read exactly as the workflow reads them (``weld_anomaly.ingest.convert`` with the
default settings), so the pixel coordinates agree with the workflow's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from weld_anomaly.errors import ManifestError
from weld_anomaly.files import write_text
from weld_anomaly.ingest.convert import ConvertSettings, convert
from weld_anomaly.ingest.inventory import id_from_file
from weld_anomaly.ingest.manifests import (
    listed_ids,
    load_annotations,
    load_crop_manifest,
    pixels_outside,
)
from weld_anomaly.ingest.preprocess import crops_for_image
from weld_anomaly.ingest.previews import crop_preview
from weld_anomaly.ingest.suggest import manifest_text, suggest

log = logging.getLogger(__name__)


def _read(images: list[Path]):
    seen: dict[str, Path] = {}
    for path in images:
        image_id = id_from_file(str(path), str(path))
        if image_id in seen:
            raise ManifestError(
                f"two files give the image id {image_id!r} ({seen[image_id]} and {path})",
                where=str(path),
                fix="rename one of them",
            )
        seen[image_id] = path
        yield image_id, path, convert(path, ConvertSettings()).pixels


def _check_defects(image_id, specs, pixels, annotations, strict: bool) -> tuple[list, list, str]:
    """The image's annotated defects, those the crops leave out (partly), and the warning
    line (empty when none is lost); ``strict``: stop instead of warning."""
    defects = (annotations or {}).get(image_id) or []
    if not defects:
        return [], [], ""
    covered = np.zeros(pixels.shape, dtype=bool)
    for c in specs:
        covered[c.y : c.y + c.height, c.x : c.x + c.width] = True
    outside = pixels_outside(covered, defects)
    lost = [d for d, n in zip(defects, outside, strict=True) if n]
    if not lost:
        return defects, [], ""
    line = (
        f"{image_id}: {sum(outside)} annotated defect pixel(s) of {len(lost)} "
        "defect(s) lie outside every crop"
    )
    if strict:
        raise ManifestError(line, where=image_id, fix="widen or add crops so they hold it")
    log.warning("%s: they would not be inspected", line)
    return defects, lost, line


def _header(image_id: str, line: str) -> str:
    """A log line without its leading image id (the preview's title says it)."""
    return line.removeprefix(f"{image_id}: ")


def suggest_manifest(
    images: list[Path],
    out_yaml: Path,
    previews: Path,
    margin: int = 8,
    fragment_size: int = 64,
    annotations: Path | None = None,
    strict: bool = False,
) -> int:
    """Suggest the crops of ``images``; write the draft manifest and one preview per image
    (the crops, the finder's confidence or why it is not sure, the annotated defects and
    those the crops leave out).

    ``annotations``: count the annotated defect pixels the suggested crops leave out (a
    warning per image; ``strict``: stop)."""
    known = load_annotations(annotations) if annotations else None
    found = {}
    for image_id, _, pixels in _read(images):
        suggestion = suggest(pixels, image_id, fragment_size, margin)
        found[image_id] = suggestion.crops
        defects, lost, line = _check_defects(image_id, suggestion.crops, pixels, known, strict)
        lines = [(_header(image_id, suggestion.message), not suggestion.sure)]
        if line:
            lines.append((_header(image_id, line) + " (red)", True))
        elif defects:
            lines.append((f"{len(defects)} annotated defect(s), all inside the crops", False))
        crop_preview(
            pixels,
            suggestion.crops,
            previews / f"{image_id}.png",
            title=image_id,
            lines=lines,
            defects=defects,
            lost=lost,
        )
    write_text(out_yaml, manifest_text(found, f"{len(found)} image(s)"))
    return len(found)


def preview_manifest(
    manifest: Path,
    images: list[Path],
    out_dir: Path,
    fragment_size: int = 64,
    annotations: Path | None = None,
    strict: bool = False,
) -> int:
    """Check ``manifest`` against ``images`` (bounds, sizes) and draw it on each.

    The manifest may list other images too (a preview of a few); they are named in one
    line. ``annotations``: count the defect pixels its crops leave out (``strict``: stop)."""
    crops = load_crop_manifest(manifest, fragment_size)
    ids = {id_from_file(str(p), str(p)) for p in images}
    others = sorted(set(crops) - ids)
    if others:
        log.info(
            "%s also lists %d image(s) not given here, not drawn: %s",
            manifest,
            len(others),
            listed_ids(others),
        )
    known = load_annotations(annotations) if annotations else None
    n = 0
    for image_id, _, pixels in _read(images):
        specs = crops_for_image(
            crops, image_id, pixels.shape[0], pixels.shape[1], "whole_image", str(manifest)
        )
        defects, lost, line = _check_defects(image_id, specs, pixels, known, strict)
        lines = [(_header(image_id, line) + " (red)", True)] if line else []
        crop_preview(
            pixels,
            specs,
            out_dir / f"{image_id}.png",
            title=image_id,
            lines=lines,
            defects=defects,
            lost=lost,
        )
        n += 1
    return n
