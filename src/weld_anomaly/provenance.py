"""What made a result: the software, its commit, the models' and configuration's digests.

Every finding carries these (the audit trail a lab keeps with each call), the report shows
them, and the DICOM presentation states name the software version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

from weld_anomaly import __version__


def git_commit(folder: str | Path = ".") -> str:
    """The checked-out commit of ``folder`` (with '+ changes' when the tree is dirty), or ''."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if head.returncode:
            return ""
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_sha256(config: dict) -> str:
    """The SHA-256 of a configuration (its JSON with sorted keys)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record(models: dict[str, str | Path], config: dict | None) -> dict:
    """The audit fields of a run: software version and commit, each model file's digest
    (``name: path``), the configuration's digest, and the date (UTC)."""
    return {
        "software": f"weld-anomaly {__version__}",
        "commit": git_commit(),
        "models": {name: file_sha256(path) for name, path in sorted(models.items())},
        "config_sha256": config_sha256(config) if config is not None else "",
        "evaluated": datetime.datetime.now(datetime.UTC).date().isoformat(),
    }
