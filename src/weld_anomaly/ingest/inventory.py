"""Which radiographs the workflow processes, whether each is faulty, and its split.

The inventory is built when the workflow starts (it fixes the DAG: one chain of jobs per
image) from one of four sources:

- ``demo``: the built-in demo (its plan is known from the configuration alone);
- ``table``: a labels CSV with columns ``image,status`` and optionally ``file`` and
  ``split``: ``image`` is the image's id when ``file`` is given, otherwise a file name under
  ``data.images_dir`` whose stem becomes the id;
- ``folders``: ``<images_dir>/faulty/...`` and ``<images_dir>/nonfaulty/...``;
- ``annotations``: every image under ``images_dir``; faulty when the annotations list a
  defect for it.

An image with any faulty part is faulty, as in the thesis. Non-faulty images are split
into ``train`` (the autoencoder learns from them), ``validation`` (validation loss and
threshold calibration; never trained on) and ``test``; faulty images into ``validation``
(choosing the scorer) and ``test``, never ``train``. Splits come from ranking a salted hash
of each id: an image's split does not depend on the order of the table, and adding images
moves few others.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from weld_anomaly.errors import ManifestError

FAULTY, NONFAULTY = "faulty", "nonfaulty"
STATUSES = (FAULTY, NONFAULTY)
SPLITS = ("train", "validation", "test")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MANIFEST_COLUMNS = ("image", "file", "status", "split")


@dataclass(frozen=True)
class ImageRecord:
    """One radiograph of the inventory."""

    image_id: str
    file: str
    status: str
    split: str = ""


def check_id(image_id: str, where: str) -> str:
    """Return ``image_id`` if it can name files and wildcards, else raise."""
    if not ID_PATTERN.match(image_id):
        raise ManifestError(
            f"image id {image_id!r} has characters other than letters, digits, '_', '.', '-'",
            where=where,
            fix="rename the image or give it an id in the labels table",
        )
    return image_id


def id_from_file(name: str, where: str) -> str:
    """An image id from a file name: its stem, with other characters replaced by '_'."""
    stem = Path(name).name
    for suffix in (".gz",):
        stem = stem.removesuffix(suffix)
    stem = Path(stem).stem if "." in stem else stem
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("._-")
    if not clean:
        raise ManifestError(
            f"cannot make an image id from file name {name!r}", where=where, fix="rename the file"
        )
    return clean


def _status(value: str, where: str) -> str:
    v = value.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if v in ("faulty", "defective", "defect", "nok"):
        return FAULTY
    if v in ("nonfaulty", "ok", "good", "sound"):
        return NONFAULTY
    raise ManifestError(f"unknown status {value!r}", where=where, fix="use 'faulty' or 'nonfaulty'")


def _unique(records: Iterable[ImageRecord], where: str) -> list[ImageRecord]:
    seen: dict[str, ImageRecord] = {}
    for rec in records:
        if rec.image_id in seen:
            raise ManifestError(
                f"image id {rec.image_id!r} is used twice "
                f"({seen[rec.image_id].file} and {rec.file})",
                where=where,
                fix="give the images distinct names or ids",
            )
        seen[rec.image_id] = rec
    if not seen:
        raise ManifestError(
            "no images found",
            where=where,
            fix="check data.source and the paths in config/config.yaml",
        )
    return sorted(seen.values(), key=lambda r: r.image_id)


def from_table(labels: str | Path, images_dir: str | Path) -> list[ImageRecord]:
    """Read a labels CSV (``image,status`` plus optional ``file`` and ``split``)."""
    labels = Path(labels)
    if not labels.is_file():
        raise ManifestError(
            "labels table not found",
            where=str(labels),
            fix="check data.labels in config/config.yaml",
        )
    try:
        text = labels.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(
            "labels table is not UTF-8 text", where=str(labels), fix="save it as a UTF-8 CSV file"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in ("image", "status") if c not in columns]
    if missing:
        raise ManifestError(
            f"labels table lacks column(s) {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'none'})",
            where=str(labels),
            fix="add a header line 'image,status'",
        )
    records, missing = [], []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        where = f"{labels}, line {line}"
        if not row.get("image"):
            raise ManifestError(
                "empty 'image' field", where=where, fix="fill it in or delete the line"
            )
        if row.get("file"):
            image_id = check_id(row["image"], where)
            file = row["file"]
        else:
            file = row["image"]
            image_id = id_from_file(file, where)
        path = Path(file) if Path(file).is_absolute() else Path(images_dir) / file
        split = row.get("split", "")
        if split and split not in SPLITS:
            raise ManifestError(
                f"unknown split {split!r}",
                where=where,
                fix=f"use one of {', '.join(SPLITS)} or leave it empty",
            )
        status = _status(row["status"], where)
        if status == FAULTY and split == "train":
            raise ManifestError(
                f"faulty image {image_id!r} cannot be in the train split",
                where=where,
                fix="faulty images are validation or test images; the model trains on sound welds",
            )
        records.append(ImageRecord(image_id, str(path), status, split))
        if not path.is_file():
            missing.append((where, image_id, path))
    if missing:
        where, image_id, path = missing[0]
        more = (
            f" ({len(missing) - 1} more listed images are missing too)" if len(missing) > 1 else ""
        )
        raise ManifestError(
            f"image {image_id!r} not found at {path}{more}",
            where=where,
            fix=f"check the path (a relative path is read from data.images_dir, here "
            f"{images_dir}), copy the file there, or delete the line",
        )
    return _unique(records, str(labels))


def list_images(folder: str | Path, extensions: Iterable[str]) -> list[Path]:
    """Files under ``folder`` (recursively) whose name ends in one of ``extensions``."""
    folder = Path(folder)
    exts = {e.lower() for e in extensions}
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in exts)


def _images_root(images_dir: str | Path) -> Path:
    root = Path(images_dir)
    if not root.is_dir():
        raise ManifestError(
            "images folder not found",
            where=str(root),
            fix="check data.images_dir in config/config.yaml",
        )
    return root


def from_folders(images_dir: str | Path, extensions: Iterable[str]) -> list[ImageRecord]:
    """Images under ``<images_dir>/faulty`` and ``<images_dir>/nonfaulty``."""
    root = _images_root(images_dir)
    records = []
    for status in STATUSES:
        folder = root / status
        if not folder.is_dir():
            raise ManifestError(
                f"folder '{status}' not found",
                where=str(root),
                fix="put images in <images_dir>/faulty and <images_dir>/nonfaulty",
            )
        for path in list_images(folder, extensions):
            records.append(ImageRecord(id_from_file(path.name, str(path)), str(path), status))
    return _unique(records, str(root))


def from_annotations(
    images_dir: str | Path, extensions: Iterable[str], annotated: dict[str, list]
) -> list[ImageRecord]:
    """Every image under ``images_dir``; faulty when ``annotated`` lists a defect for it."""
    root = _images_root(images_dir)
    records = []
    for path in list_images(root, extensions):
        image_id = id_from_file(path.name, str(path))
        status = FAULTY if annotated.get(image_id) else NONFAULTY
        records.append(ImageRecord(image_id, str(path), status))
    return _unique(records, str(root))


def _rank_key(image_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{image_id}".encode()).hexdigest()


def assign_splits(
    records: list[ImageRecord],
    validation: float,
    test: float,
    seed: int,
    faulty_validation: float = 0.0,
) -> list[ImageRecord]:
    """Give every record a split; splits already set in the labels table are kept.

    Images without a split are ranked by a salted hash of their id, separately for each
    status. Non-faulty: the first ``round(n * test)`` go to test, the next
    ``round(n * validation)`` to validation, the rest to train. Faulty images never train:
    ``round(n * faulty_validation)`` go to validation (to choose the scorer), the rest to
    test. With three or more non-faulty (two or more faulty) images, each split that has a
    positive fraction gets at least one.
    """

    def rank(status: str) -> list[ImageRecord]:
        return sorted(
            (r for r in records if r.status == status and not r.split),
            key=lambda r: _rank_key(r.image_id, seed),
        )

    chosen: dict[str, str] = {}
    free = rank(NONFAULTY)
    n = len(free)
    n_test, n_val = round(n * test), round(n * validation)
    if n >= 3:
        n_test = max(n_test, 1) if test > 0 else 0
        n_val = max(n_val, 1) if validation > 0 else 0
        n_test = min(n_test, n - 1 - n_val)
    for i, rec in enumerate(free):
        chosen[rec.image_id] = (
            "test" if i < n_test else "validation" if i < n_test + n_val else "train"
        )
    bad = rank(FAULTY)
    n_bad_val = round(len(bad) * faulty_validation)
    if len(bad) >= 2 and faulty_validation > 0:
        n_bad_val = min(max(n_bad_val, 1), len(bad) - 1)
    for i, rec in enumerate(bad):
        chosen[rec.image_id] = "validation" if i < n_bad_val else "test"
    return [
        ImageRecord(r.image_id, r.file, r.status, r.split or chosen[r.image_id]) for r in records
    ]


def to_csv(records: Iterable[ImageRecord], extra: dict[str, dict] | None = None) -> str:
    """The inventory as CSV text (``image,file,status,split`` plus extra columns)."""
    extra = extra or {}
    extra_cols = sorted({k for cols in extra.values() for k in cols})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*MANIFEST_COLUMNS, *extra_cols])
    for r in records:
        more = extra.get(r.image_id, {})
        writer.writerow(
            [r.image_id, r.file, r.status, r.split, *[more.get(c, "") for c in extra_cols]]
        )
    return buffer.getvalue()


def read_manifest(path: str | Path) -> list[ImageRecord]:
    """Read ``results/manifest.csv`` written by :func:`to_csv`."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            ImageRecord(r["image"], r["file"], r["status"], r["split"])
            for r in csv.DictReader(handle)
        ]


def write_manifest(
    rows: list[list[str]], out_csv: str | Path, labels: str | Path | None = None
) -> None:
    """Write ``results/manifest.csv`` from the inventory decided at parse time.

    ``rows`` are ``[image, file, status, split]``. When a labels table is given (for the demo,
    the generated one) its statuses must agree with the inventory.
    """
    from weld_anomaly.files import write_text

    records = [ImageRecord(*row) for row in rows]
    if labels is not None:
        table = {
            r["image"]: r
            for r in csv.DictReader(io.StringIO(Path(labels).read_text(encoding="utf-8-sig")))
        }
        for rec in records:
            row = table.get(rec.image_id)
            if row is not None and _status(row["status"], str(labels)) != rec.status:
                raise ManifestError(
                    f"image {rec.image_id} is {row['status']} in the labels table "
                    f"but was planned as {rec.status}",
                    where=str(labels),
                    fix="run the workflow again so it re-reads the labels",
                )
    write_text(out_csv, to_csv(records))
