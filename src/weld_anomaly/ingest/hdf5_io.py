"""HDF5 files of the workflow: converted images, crops, fragments and training sets.

Every file is written atomically and byte-for-byte reproducibly: the default (oldest
compatible) file format, no object timestamps, a fixed write order. One dataset per
image, crop or set of fragments; never one dataset per fragment.

Layouts (all pixel arrays are ``uint8`` or ``uint16``, bright = more attenuation):

- image file: ``/image`` (H, W) plus the conversion parameters as attributes;
- crops file: ``/crops/<name>`` (h, w) each with ``x, y, width, height`` attributes;
- fragments file: ``/fragments`` (N, S, S), ``/corners`` (N, 2) top-left ``(y, x)`` in the
  full image, ``/crop_index`` (N,) into the ``crop_names`` attribute;
- training set: ``/fragments`` (N, S, S), ``/image_index`` (N,) into ``image_ids``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from weld_anomaly.errors import ImageError
from weld_anomaly.files import atomic_path

FRAGMENT_CHUNK = 256  # fragments per chunk: 1 MiB of uint8 64x64 fragments


def _set_attrs(obj: h5py.HLObject, attrs: dict) -> None:
    """Store a flat dict of attributes in sorted order; ``None`` values are skipped."""
    for key in sorted(attrs):
        value = attrs[key]
        if value is None:
            continue
        if isinstance(value, list | tuple):
            if all(isinstance(v, str) for v in value):
                value = np.array(value, dtype=h5py.string_dtype())
            else:
                value = np.asarray(value)
        obj.attrs[key] = value


def _get_attrs(obj: h5py.HLObject) -> dict:
    out = {}
    for key, value in obj.attrs.items():
        if isinstance(value, np.ndarray):
            value = [
                v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else v.item()
                for v in value
            ]
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _open(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise ImageError(
            "HDF5 file not found",
            where=str(path),
            fix="run the workflow from the start (snakemake) to build it",
        )
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ImageError(
            f"not a readable HDF5 file ({exc})",
            where=str(path),
            fix="delete it and run the workflow again",
        ) from None


def _image_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(min(s, 256) for s in shape)


def write_image(path: str | os.PathLike, pixels: np.ndarray, attrs: dict) -> None:
    """Write a converted radiograph and its conversion parameters."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset(
            "image",
            data=pixels,
            chunks=_image_chunks(pixels.shape),
            compression="gzip",
            compression_opts=1,
        )
        _set_attrs(ds, attrs)


def write_rejected(path: str | os.PathLike, image_id: str, error: Exception) -> None:
    """Write the placeholder of a radiograph that could not be converted (``on_error: skip``).

    The file has no pixels; its attributes say why, so the downstream steps pass it through
    as an image with no fragments and the report lists it.
    """
    line = error.line() if hasattr(error, "line") else str(error)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _set_attrs(
            f,
            {
                "image_id": image_id,
                "rejected": True,
                "error_class": type(error).__name__,
                "error": line,
            },
        )


def read_image(path: str | os.PathLike) -> tuple[np.ndarray | None, dict]:
    """Read a converted radiograph: ``(pixels, attrs)``; pixels are None if it was rejected."""
    with _open(path) as f:
        if "image" not in f:
            return None, _get_attrs(f)
        return f["image"][()], _get_attrs(f["image"])


def read_image_attrs(path: str | os.PathLike) -> dict:
    """The attributes of a converted radiograph (rejected or not), without its pixels."""
    with _open(path) as f:
        return _get_attrs(f["image"]) if "image" in f else _get_attrs(f)


@dataclass
class Crop:
    """A named rectangle cut from an image; ``pixels`` may be ``None`` before cutting."""

    name: str
    x: int
    y: int
    width: int
    height: int
    pixels: np.ndarray | None = None


def cut_crops(pixels: np.ndarray, specs: Sequence) -> list[Crop]:
    """The crops of an image: one :class:`Crop` per spec (anything with ``name``, ``x``,
    ``y``, ``width``, ``height``, ``x1``, ``y1``), each its own contiguous array."""
    return [
        Crop(
            c.name,
            c.x,
            c.y,
            c.width,
            c.height,
            np.ascontiguousarray(pixels[c.y : c.y1, c.x : c.x1]),
        )
        for c in specs
    ]


def write_crops(
    path: str | os.PathLike,
    image_id: str,
    crops: Sequence[Crop],
    attrs: dict,
    masks: Sequence[np.ndarray] | None = None,
) -> None:
    """Write the crops of one image (in manifest order), with a boolean mask per crop when
    given (the scoring's marker masks, stored next to the reconstructions)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _set_attrs(f, {**attrs, "image_id": image_id, "crop_names": [c.name for c in crops]})
        group = f.create_group("crops")
        for crop in crops:
            ds = group.create_dataset(
                crop.name,
                data=crop.pixels,
                chunks=_image_chunks(crop.pixels.shape),
                compression="gzip",
                compression_opts=1,
            )
            _set_attrs(ds, {"x": crop.x, "y": crop.y, "width": crop.width, "height": crop.height})
        if masks is not None:
            group = f.create_group("masks")
            for crop, mask in zip(crops, masks, strict=True):
                group.create_dataset(
                    crop.name,
                    data=np.asarray(mask, dtype=bool),
                    chunks=_image_chunks(mask.shape),
                    compression="gzip",
                    compression_opts=1,
                )


def read_crops(path: str | os.PathLike) -> tuple[list[Crop], dict]:
    """Read the crops of one image, in manifest order, and the file's attributes."""
    with _open(path) as f:
        attrs = _get_attrs(f)
        crops = []
        for name in attrs.get("crop_names", []):
            ds = f["crops"][name]
            a = _get_attrs(ds)
            crops.append(Crop(name, a["x"], a["y"], a["width"], a["height"], ds[()]))
        return crops, attrs


def read_masks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The boolean mask of each crop written by :func:`write_crops` (none: empty)."""
    with _open(path) as f:
        if "masks" not in f:
            return {}
        return {name: f["masks"][name][()] for name in f["masks"]}


@dataclass
class Fragments:
    """The fragments of one image, or of a training set."""

    fragments: np.ndarray  # (N, S, S)
    corners: np.ndarray  # (N, 2) top-left (y, x) in the full image
    crop_index: np.ndarray  # (N,) index into crop_names
    crop_names: list[str]
    attrs: dict

    def __len__(self) -> int:
        return int(self.fragments.shape[0])


def write_fragments(path: str | os.PathLike, frags: Fragments) -> None:
    """Write the fragments of one image as one chunked dataset plus index datasets."""
    n = len(frags)
    size = frags.fragments.shape[1:]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _set_attrs(f, {**frags.attrs, "crop_names": frags.crop_names, "count": n})
        f.create_dataset(
            "fragments",
            data=frags.fragments,
            chunks=(max(min(FRAGMENT_CHUNK, n), 1), *size) if n else None,
        )
        f.create_dataset("corners", data=frags.corners.astype(np.int32))
        f.create_dataset("crop_index", data=frags.crop_index.astype(np.int32))


def read_fragments(path: str | os.PathLike) -> Fragments:
    """Read the fragments of one image."""
    with _open(path) as f:
        attrs = _get_attrs(f)
        return Fragments(
            fragments=f["fragments"][()],
            corners=f["corners"][()],
            crop_index=f["crop_index"][()],
            crop_names=list(attrs.pop("crop_names", [])),
            attrs=attrs,
        )


def write_fragment_set(
    path: str | os.PathLike, sources: Sequence[str | os.PathLike], image_ids: Sequence[str]
) -> int:
    """Concatenate per-image fragment files into one chunked dataset, streaming.

    Returns the number of fragments written. Memory stays at one image's fragments.
    """
    counts = []
    size = None
    dtype = None
    for src in sources:
        with _open(src) as f:
            counts.append(f["fragments"].shape[0])
            size = f["fragments"].shape[1:]
            dtype = f["fragments"].dtype
    total = int(sum(counts))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
        _set_attrs(
            out,
            {
                "image_ids": list(image_ids),
                "count": total,
                "bit_depth": 8 if dtype == np.uint8 else 16,
            },
        )
        if total == 0:
            out.create_dataset("fragments", shape=(0, *(size or (64, 64))), dtype=dtype or np.uint8)
            out.create_dataset("image_index", shape=(0,), dtype=np.int32)
            return 0
        ds = out.create_dataset(
            "fragments",
            shape=(total, *size),
            dtype=dtype,
            chunks=(min(FRAGMENT_CHUNK, total), *size),
        )
        index = out.create_dataset("image_index", shape=(total,), dtype=np.int32)
        start = 0
        for i, (src, n) in enumerate(zip(sources, counts, strict=True)):
            with _open(src) as f:
                ds[start : start + n] = f["fragments"][()]
            index[start : start + n] = i
            start += n
    return total


def read_fragment_set(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """Load a whole training set into memory: ``(fragments, attrs)``."""
    with _open(path) as f:
        return f["fragments"][()], _get_attrs(f)


def fragment_set_size(path: str | os.PathLike) -> int:
    """How many fragments a training-set file holds (without reading them)."""
    with _open(path) as f:
        return int(f["fragments"].shape[0])


def write_fragment_subset(
    src: str | os.PathLike, dst: str | os.PathLike, indices: np.ndarray
) -> int:
    """Copy the fragments ``indices`` (sorted) of a training-set file into a new one."""
    with _open(src) as f:
        ds = f["fragments"]
        data = ds[np.sort(np.asarray(indices))] if len(indices) else ds[:0]
        attrs = _get_attrs(f)
    with atomic_path(dst) as tmp, h5py.File(tmp, "w") as out:
        _set_attrs(out, {**attrs, "count": len(data)})
        out.create_dataset(
            "fragments",
            data=data,
            chunks=(max(min(FRAGMENT_CHUNK, len(data)), 1), *data.shape[1:]),
        )
    return len(data)
