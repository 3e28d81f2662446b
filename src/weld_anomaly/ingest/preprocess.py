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

from weld_anomaly.errors import DuplicateInstance, ImageError, ManifestError
from weld_anomaly.ingest import hdf5_io, quality, tiling
from weld_anomaly.ingest.convert import ConvertSettings, convert
from weld_anomaly.ingest.manifests import CropSpec, check_crops_fit, load_crop_manifest

log = logging.getLogger(__name__)


def convert_image(
    source: str | Path,
    out_h5: str | Path,
    settings: ConvertSettings,
    image_id: str,
    on_error: str = "stop",
) -> dict:
    """Convert one radiograph to an HDF5 image file; returns the stored attributes.

    With ``on_error="skip"`` a radiograph that cannot be converted is written as a rejected
    placeholder (see :func:`hdf5_io.write_rejected`) instead of stopping the run.
    """
    try:
        result = convert(source, settings)
    except ImageError as exc:
        if on_error != "skip":
            raise
        hdf5_io.write_rejected(out_h5, image_id, exc)
        log.warning("%s rejected (%s): %s", image_id, type(exc).__name__, exc.line())
        return {"image_id": image_id, "rejected": True, "error_class": type(exc).__name__}
    attrs = {**result.attrs, "image_id": image_id, "snr": round(quality.snr(result.pixels), 3)}
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


CARRIED = (
    "bit_depth",
    "height",
    "width",
    "instance_key",
    "pixels_sha256",
    "rejected",
    "error_class",
    "error",
)


def _carried(attrs: dict) -> dict:
    """Image attributes that travel on to the crops and fragments files."""
    return {k: attrs[k] for k in CARRIED if k in attrs}


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
    suggest_margin: int | None = None,
) -> list[CropSpec]:
    """Cut the crops of one image into an HDF5 file and draw them on a preview PNG.

    ``crops`` are this image's entries of the crop manifest, already checked when the
    workflow started; when ``None`` they are read from ``manifest_path`` (the demo's
    generated manifest, or none at all). With ``suggest_margin`` set, the crops are found
    in the image instead (``weld_anomaly.ingest.suggest``).
    """
    from weld_anomaly.ingest.previews import crop_preview, rejected_preview

    pixels, attrs = hdf5_io.read_image(image_h5)
    if pixels is None:  # rejected by convert_image (on_error: skip): no crops, say why
        hdf5_io.write_crops(out_h5, image_id, [], _carried(attrs))
        rejected_preview(preview_png, image_id, attrs.get("error", ""))
        return []
    if suggest_margin is not None:
        from weld_anomaly.ingest.suggest import suggest_crops

        manifest = {image_id: suggest_crops(pixels, image_id, fragment_size, suggest_margin)}
    elif crops is not None:
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
    crops = hdf5_io.cut_crops(pixels, specs)
    hdf5_io.write_crops(out_h5, image_id, crops, _carried(attrs))
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
            **_carried(attrs),
            "image_id": attrs.get("image_id", ""),
            "size": size,
            "stride": stride,
            "bit_depth": attrs.get("bit_depth", 8),
        },
    )
    hdf5_io.write_fragments(out_h5, frags)
    log.info("%s: %d fragments from %d crop(s)", attrs.get("image_id", ""), len(frags), len(crops))
    return len(frags)


def crop_and_fragment(
    image_h5: str | Path,
    crops: list[dict] | None,
    manifest_path: str | Path | None,
    crops_h5: str | Path,
    preview_png: str | Path,
    fragments_h5: str | Path,
    image_id: str,
    size: int,
    stride: int,
    missing: str = "whole_image",
    preview_width: int = 1600,
    suggest_margin: int | None = None,
) -> int:
    """The per-image step after conversion: cut the crops (and preview), then fragment them.

    One job rather than two: both are quick, and at 10,000 images every job per image costs
    Snakemake seconds of planning (BENCHMARKS.md). Returns the number of fragments.
    """
    extract_crops(
        image_h5,
        crops,
        manifest_path,
        crops_h5,
        preview_png,
        image_id,
        size,
        missing,
        preview_width,
        suggest_margin,
    )
    return fragment_crops(crops_h5, fragments_h5, size, stride)


def gather_crop_manifest(crops_h5: list[str | Path], out_yaml: str | Path) -> int:
    """Write the crops the images were cut with as one crop manifest; returns the count."""
    from weld_anomaly.files import write_text
    from weld_anomaly.ingest.suggest import manifest_text

    crops: dict[str, list[CropSpec]] = {}
    for path in crops_h5:
        found, attrs = hdf5_io.read_crops(path)
        image_id = str(attrs.get("image_id") or Path(path).stem)
        crops[image_id] = [CropSpec(c.x, c.y, c.width, c.height, name=c.name) for c in found]
    write_text(out_yaml, manifest_text(crops, "the workflow's suggested crops"))
    return sum(len(v) for v in crops.values())


def _duplicate(kept: str, image_id: str, where: str, on_error: str) -> DuplicateInstance:
    skipping = on_error == "skip"
    return DuplicateInstance(
        f"image {image_id} is the same radiograph as {kept} (same SOP Instance UID or "
        "identical pixels)" + (f"; it is left out, and {kept} kept" if skipping else ""),
        where=where,
        fix=None
        if skipping
        else "remove one of them from the image list (or set "
        "convert.on_error: skip to keep the first and go on)",
    )


def _drop_duplicates(
    paths: Sequence[str | Path], ids: Sequence[str], on_error: str
) -> tuple[list[str | Path], list[str]]:
    """Keep the first of images that are the same radiograph (same instance or pixels)."""
    import h5py

    seen: dict[str, str] = {}
    keep_paths, keep_ids = [], []
    for path, image_id in zip(paths, ids, strict=True):
        with h5py.File(path, "r") as f:
            keys = [str(f.attrs[k]) for k in ("instance_key", "pixels_sha256") if k in f.attrs]
        twin = next((seen[k] for k in keys if k in seen), None)
        if twin is not None:
            error = _duplicate(twin, image_id, str(path), on_error)
            if on_error != "skip":
                raise error
            log.warning("%s skipped: %s", image_id, error.line())
            # its other key (pixels, or instance) also leads to the image kept
            seen.update({k: twin for k in keys if k not in seen})
            continue
        seen.update(dict.fromkeys(keys, image_id))
        keep_paths.append(path)
        keep_ids.append(image_id)
    return keep_paths, keep_ids


def build_training_sets(
    train: Sequence[str | Path],
    train_ids: Sequence[str],
    validation: Sequence[str | Path],
    validation_ids: Sequence[str],
    train_out: str | Path,
    validation_out: str | Path,
    on_error: str = "stop",
) -> tuple[int, int]:
    """Gather the fragments of the train and validation images into two chunked files.

    The same radiograph listed twice would weigh double in training and leak between train
    and validation: duplicates stop the run, or are dropped with ``on_error="skip"``.
    """
    paths, ids = _drop_duplicates([*train, *validation], [*train_ids, *validation_ids], on_error)
    kept = set(ids)
    train_pairs = [(p, i) for p, i in zip(train, train_ids, strict=True) if i in kept]
    val_pairs = [(p, i) for p, i in zip(validation, validation_ids, strict=True) if i in kept]
    n_train = hdf5_io.write_fragment_set(
        train_out, [p for p, _ in train_pairs], [i for _, i in train_pairs]
    )
    n_val = hdf5_io.write_fragment_set(
        validation_out, [p for p, _ in val_pairs], [i for _, i in val_pairs]
    )
    log.info(
        "training set: %d fragments from %d images; validation: %d from %d",
        n_train,
        len(train_pairs),
        n_val,
        len(val_pairs),
    )
    return n_train, n_val


SUMMARY_COLUMNS = (
    "image",
    "status",
    "split",
    "rejected",
    "error_class",
    "error",
    "duplicate_of",
    "height",
    "width",
    "source_format",
    "transfer_syntax_name",
    "decoder",
    "bits_stored",
    "photometric_interpretation",
    "window_method",
    "window_lo",
    "window_hi",
    "bit_depth",
    "pixel_spacing_mm",
    "pixel_size_from",  # labels table, DICOM header or data.pixel_size_mm
    "snr",  # median grey level over noise (weld_anomaly.ingest.quality)
    "snr_n",  # normalised to an 88.6 um aperture, when the pixel size is known
    "too_poor",  # below convert.min_snr_n: marked "too poor to judge"
    "note",  # a remark of the conversion (a header that disagreed with the pixels)
)


def pixel_spacing_mm(attrs: dict) -> float | str:
    """The pixel size in mm at the weld, from the DICOM header, or ''.

    Pixel Spacing when given (already at the object); else Imager Pixel Spacing (at the
    detector) divided by the Estimated Radiographic Magnification Factor when given. Square
    pixels are the rule for radiographs; the mean of row and column spacing is used.
    """

    def mean_of(key: str) -> float | None:
        value = attrs.get(key)
        if value is None or isinstance(value, str):
            return None
        values = [float(v) for v in np.atleast_1d(value) if float(v) > 0]
        return float(np.mean(values)) if values else None

    spacing = mean_of("dicom_pixel_spacing")
    if spacing is None:
        spacing = mean_of("dicom_imager_pixel_spacing")
        magnification = mean_of("dicom_estimated_radiographic_magnification_factor")
        if spacing is not None and magnification is not None:
            spacing /= magnification
    return "" if spacing is None else round(spacing, 6)


def labelled_pixel_sizes(labels: str | Path | None) -> dict[str, float]:
    """The optional ``pixel_size_mm`` column of a labels table, by image id (empty cells and
    tables without it: none)."""
    from weld_anomaly.ingest.inventory import ManifestError, id_from_file

    if labels is None or not Path(labels).is_file():
        return {}
    import csv
    import io

    text = Path(labels).read_text(encoding="utf-8-sig")
    out = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        value = row.get("pixel_size_mm", "")
        if not value:
            continue
        image = row.get("image", "")
        if not row.get("file"):
            image = id_from_file(image, f"{labels}, line {line}")
        try:
            size = float(value)
        except ValueError:
            size = -1.0
        if not 0 < size < 100:
            raise ManifestError(
                f"pixel_size_mm {value!r} is not a pixel size in mm",
                where=f"{labels}, line {line}, column pixel_size_mm",
                fix="give the size of one pixel at the weld in mm (e.g. 0.0403 for films "
                "scanned at 630 dpi), or leave the cell empty",
            )
        out[image] = size
    return out


def _pixel_size(image_id: str, attrs: dict, labelled: dict, default: float | None) -> dict:
    header = pixel_spacing_mm(attrs)
    for value, source in (
        (labelled.get(image_id), "labels table"),
        (header if header != "" else None, "DICOM header"),
        (default, "data.pixel_size_mm"),
    ):
        if value is not None:
            return {"pixel_spacing_mm": value, "pixel_size_from": source}
    return {"pixel_spacing_mm": "", "pixel_size_from": ""}


def _quality(row: dict, attrs: dict, min_snr_n: float | None) -> dict:
    measured = attrs.get("snr")
    if measured is None or row.get("rejected"):
        return {"snr": "", "snr_n": "", "too_poor": ""}
    size = row["pixel_spacing_mm"] if row["pixel_spacing_mm"] != "" else None
    normalised = quality.normalised_snr(float(measured), size)
    judged = normalised if normalised is not None else float(measured)
    return {
        "snr": measured,
        "snr_n": "" if normalised is None else round(normalised, 2),
        "too_poor": bool(min_snr_n is not None and judged < min_snr_n),
    }


def summarize_images(
    manifest_csv: str | Path,
    images: Sequence[str | Path],
    out_csv: str | Path,
    on_error: str = "stop",
    pixel_size_mm: float | None = None,
    labels: str | Path | None = None,
    min_snr_n: float | None = None,
) -> list[dict]:
    """One row per radiograph: how it was converted, or why it was rejected.

    Its pixel size in mm (``pixel_spacing_mm``, where from in ``pixel_size_from``): the labels
    table's ``pixel_size_mm`` column for that image, else the DICOM header
    (:func:`pixel_spacing_mm`), else ``pixel_size_mm`` (``data.pixel_size_mm``), else unknown.
    Its signal-to-noise ratio, normalised with that size, and whether it falls below
    ``min_snr_n`` (``too_poor``; the measured SNR is compared when the size is unknown).

    Also finds radiographs listed twice (same SOP Instance UID or identical pixels): the run
    stops, or with ``on_error="skip"`` every copy after the first is marked rejected so that
    evaluation does not count it twice (the training set drops its own duplicates).
    """
    import csv
    import io

    from weld_anomaly.files import write_text
    from weld_anomaly.ingest.inventory import read_manifest

    records = {r.image_id: r for r in read_manifest(manifest_csv)}
    labelled = labelled_pixel_sizes(labels)
    rows, seen = [], {}
    for path in images:
        attrs = hdf5_io.read_image_attrs(path)
        image_id = attrs["image_id"]
        record = records[image_id]
        row = {
            **{c: "" for c in SUMMARY_COLUMNS},
            **{k: v for k, v in attrs.items() if k in SUMMARY_COLUMNS},
        }
        row.update(
            image=image_id,
            status=record.status,
            split=record.split,
            rejected=bool(attrs.get("rejected", False)),
            **_pixel_size(image_id, attrs, labelled, pixel_size_mm),
        )
        row.update(_quality(row, attrs, min_snr_n))
        keys = [str(attrs[k]) for k in ("instance_key", "pixels_sha256") if attrs.get(k)]
        twin = next((seen[k] for k in keys if k in seen), None)
        if twin is not None:
            error = _duplicate(twin, image_id, record.file, on_error)
            if on_error != "skip":
                raise error
            row.update(
                rejected=True,
                duplicate_of=twin,
                error_class="DuplicateInstance",
                error=error.line(),
            )
        # a copy's keys lead to the image kept, never to another rejected copy
        seen.update({k: twin or image_id for k in keys if k not in seen})
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out_csv, buffer.getvalue())
    rejected = [r["image"] for r in rows if r["rejected"]]
    if rejected:
        log.warning("%d image(s) rejected: %s", len(rejected), ", ".join(rejected))
    return rows
