"""Per-image preprocessing steps: convert, crop, fragment, gather the training set.

Each function reads its inputs, writes its outputs atomically, and raises a
:class:`~weld_anomaly.errors.UserError` for bad input. They are what the Snakemake scripts
call, one function per rule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weld_anomaly import hdf5_io, tiling
from weld_anomaly.convert import ConvertSettings, convert
from weld_anomaly.manifests import CropSpec, check_crops_fit, load_crop_manifest

log = logging.getLogger(__name__)


def convert_image(
    source: str | Path, out_h5: str | Path, settings: ConvertSettings, image_id: str
) -> dict:
    """Convert one radiograph to an HDF5 image file; returns the stored attributes."""
    result = convert(source, settings)
    attrs = {**result.attrs, "image_id": image_id}
    hdf5_io.write_image(out_h5, result.pixels, attrs)
    log.info(
        "%s: %dx%d, %s window [%g, %g], %s",
        image_id,
        attrs["height"],
        attrs["width"],
        attrs["window_method"],
        attrs["window_lo"],
        attrs["window_hi"],
        "MONOCHROME1 inverted" if attrs["inverted_monochrome1"] else "MONOCHROME2",
    )
    return attrs


def crops_for_image(
    manifest: dict[str, list[CropSpec]],
    image_id: str,
    height: int,
    width: int,
    missing: str,
    manifest_path: str,
) -> list[CropSpec]:
    """The crops of an image; an image the manifest omits is handled by ``missing``.

    ``missing`` is ``whole_image`` (one crop named ``image`` covering it all) or ``error``.
    """
    from weld_anomaly.errors import ManifestError

    if image_id in manifest and manifest[image_id]:
        crops = manifest[image_id]
        check_crops_fit(crops, height, width, image_id, manifest_path)
        return crops
    if missing == "whole_image":
        return [CropSpec(0, 0, width, height, "image")]
    raise ManifestError(
        f"image {image_id} has no crops",
        where=manifest_path,
        fix="add its crops, or set crops.missing: whole_image",
    )


def extract_crops(
    image_h5: str | Path,
    crops: list[dict] | None,
    manifest_path: str | Path | None,
    out_h5: str | Path,
    preview_png: str | Path,
    image_id: str,
    fragment_size: int,
    missing: str = "whole_image",
    preview_width: int = 1600,
) -> list[CropSpec]:
    """Cut the crops of one image into an HDF5 file and draw them on a preview PNG.

    ``crops`` are this image's entries of the crop manifest, already checked when the
    workflow started; when ``None`` they are read from ``manifest_path`` (the demo's
    generated manifest, or none at all).
    """
    pixels, attrs = hdf5_io.read_image(image_h5)
    if crops is not None:
        manifest = {image_id: [CropSpec(**c) for c in crops]}
    elif manifest_path:
        manifest = load_crop_manifest(manifest_path, fragment_size)
    else:
        manifest = {}
    specs = crops_for_image(
        manifest,
        image_id,
        pixels.shape[0],
        pixels.shape[1],
        missing,
        str(manifest_path or "crop manifest"),
    )
    crops = [
        hdf5_io.Crop(
            c.name,
            c.x,
            c.y,
            c.width,
            c.height,
            np.ascontiguousarray(pixels[c.y : c.y1, c.x : c.x1]),
        )
        for c in specs
    ]
    keep = {k: attrs[k] for k in ("bit_depth", "height", "width") if k in attrs}
    hdf5_io.write_crops(out_h5, image_id, crops, keep)
    from weld_anomaly.figures import crop_preview

    crop_preview(pixels, specs, preview_png, title=image_id, max_width=preview_width)
    return specs


def fragment_crops(crops_h5: str | Path, out_h5: str | Path, size: int, stride: int) -> int:
    """Cut every crop of one image into ``size`` fragments at ``stride``; returns the count."""
    crops, attrs = hdf5_io.read_crops(crops_h5)
    parts, corners, index = [], [], []
    for i, crop in enumerate(crops):
        frags, local = tiling.cut_fragments(crop.pixels, size, stride)
        parts.append(frags)
        corners.append(local + np.array([crop.y, crop.x]))
        index.append(np.full(len(frags), i, dtype=np.int32))
    dtype = crops[0].pixels.dtype if crops else np.uint8
    frags = hdf5_io.Fragments(
        fragments=np.concatenate(parts) if parts else np.zeros((0, size, size), dtype),
        corners=np.concatenate(corners) if corners else np.zeros((0, 2), np.int64),
        crop_index=np.concatenate(index) if index else np.zeros(0, np.int32),
        crop_names=[c.name for c in crops],
        attrs={
            "image_id": attrs.get("image_id", ""),
            "size": size,
            "stride": stride,
            "bit_depth": attrs.get("bit_depth", 8),
        },
    )
    hdf5_io.write_fragments(out_h5, frags)
    log.info("%s: %d fragments from %d crop(s)", attrs.get("image_id", ""), len(frags), len(crops))
    return len(frags)


def build_training_sets(
    train: Sequence[str | Path],
    train_ids: Sequence[str],
    validation: Sequence[str | Path],
    validation_ids: Sequence[str],
    train_out: str | Path,
    validation_out: str | Path,
) -> tuple[int, int]:
    """Gather the fragments of the train and validation images into two chunked files."""
    n_train = hdf5_io.write_fragment_set(train_out, train, train_ids)
    n_val = hdf5_io.write_fragment_set(validation_out, validation, validation_ids)
    log.info(
        "training set: %d fragments from %d images; validation: %d from %d",
        n_train,
        len(train),
        n_val,
        len(validation),
    )
    return n_train, n_val
