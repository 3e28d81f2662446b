"""Atomic file output and strict YAML input.

Outputs are written to a temporary name in the destination folder and renamed into place,
so a crash never leaves a half-written file that looks finished. YAML is read with a loader
that rejects duplicate keys and reports syntax errors with their line number.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from weld_anomaly.errors import ManifestError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Files get the permissions a plain open() would give them (mkstemp would make them 0600).
FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary file keeps the destination's suffix (some writers choose the format from
    it, like Keras's ``.weights.h5``). On any exception the temporary file is removed and
    ``path`` is left untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{dest.name}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line endings)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


# libyaml's parser when PyYAML has it (~10x faster on large manifests; same results)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# Large YAML files (a crop manifest of 100,000 images: 12 s to parse) are parsed once per
# content: the tree is kept as JSON under this folder of the working directory, named by
# the file's SHA-256 (JSON loads in a few percent of the time; a tree JSON cannot hold,
# dates or numbers as keys say, is not kept).
YAML_CACHE = Path(".cache/yaml")
YAML_CACHE_MIN_BYTES = 1 << 18


def _cached_tree(path: Path) -> tuple[Any, Path | None]:
    """The tree of a large YAML file from the cache (or None), and its cache file."""
    import json

    if path.stat().st_size < YAML_CACHE_MIN_BYTES:
        return None, None
    cached = YAML_CACHE / f"{sha256(path)}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8")), cached
    except (OSError, ValueError):
        return None, cached


def _keep_tree(cached: Path, tree: Any) -> None:
    import json

    try:
        text = json.dumps(tree, allow_nan=False)
        if json.loads(text) != tree:  # e.g. numbers as mapping keys: JSON makes them text
            return
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text(cached, text)
    except (TypeError, ValueError, OSError):  # not JSON's types, or no room: parse next time
        return


def load_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Load a YAML file strictly; any problem becomes a one-line :class:`ManifestError`.

    ``what`` names the file's role in messages ("crop manifest", "annotations"). Files of
    256 KB or more are parsed once per content (:data:`YAML_CACHE`).
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(
            f"{what} not found", where=str(path), fix="check the path in config/config.yaml"
        )
    tree, cached = _cached_tree(path)
    if tree is not None:
        return tree
    try:
        with open(path, encoding="utf-8") as handle:
            tree = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - strict SafeLoader
        if cached is not None:
            _keep_tree(cached, tree)
        return tree
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestError(
            f"YAML error at {line}: {problem}",
            where=str(path),
            fix=f"fix the {what} and run again",
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"cannot parse {what}: {exc}".splitlines()[0], where=str(path), fix=f"fix the {what}"
        ) from None
