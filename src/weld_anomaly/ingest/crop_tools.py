"""``weld-anomaly crops suggest`` and ``crops preview``: draft and check crop manifests.

Images are read exactly as the workflow reads them (``weld_anomaly.ingest.convert`` with the
default settings), so the pixel coordinates agree with the workflow's.
"""

from __future__ import annotations

from pathlib import Path

from weld_anomaly.errors import ManifestError
from weld_anomaly.files import write_text
from weld_anomaly.ingest.convert import ConvertSettings, convert
from weld_anomaly.ingest.inventory import id_from_file
from weld_anomaly.ingest.manifests import check_known_images, load_crop_manifest
from weld_anomaly.ingest.preprocess import crops_for_image
from weld_anomaly.ingest.previews import crop_preview
from weld_anomaly.ingest.suggest import manifest_text, suggest_crops


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


def suggest_manifest(
    images: list[Path], out_yaml: Path, previews: Path, margin: int = 24, fragment_size: int = 64
) -> int:
    """Suggest the crops of ``images``; write the draft manifest and one preview per image."""
    found = {}
    for image_id, _, pixels in _read(images):
        found[image_id] = suggest_crops(pixels, image_id, fragment_size, margin)
        crop_preview(pixels, found[image_id], previews / f"{image_id}.png", title=image_id)
    write_text(out_yaml, manifest_text(found, f"{len(found)} image(s)"))
    return len(found)


def preview_manifest(
    manifest: Path, images: list[Path], out_dir: Path, fragment_size: int = 64
) -> int:
    """Check ``manifest`` against ``images`` (ids, bounds, sizes) and draw it on each."""
    crops = load_crop_manifest(manifest, fragment_size)
    ids = {id_from_file(str(p), str(p)) for p in images}
    check_known_images(crops, ids, manifest, "crop manifest")
    n = 0
    for image_id, _, pixels in _read(images):
        specs = crops_for_image(
            crops, image_id, pixels.shape[0], pixels.shape[1], "whole_image", str(manifest)
        )
        crop_preview(pixels, specs, out_dir / f"{image_id}.png", title=image_id)
        n += 1
    return n
