"""Which package modules a script runs: its imports, followed through the package.

Snakemake re-runs a job when its script changes but does not see the modules the script
imports. The workflow therefore gives every job, as a parameter, a digest of the package
modules its script imports directly or indirectly (lazy imports inside functions
included), computed here from the source so that it cannot drift from the code: an edit
to one of them changes the parameter and re-runs the job. (A parameter, not a list of
input files: with ~13 modules per job, file inputs made planning 10,000 images ~15 %
slower; and a digest reacts to content, not to a bare `touch`.) DVC's stages list the
same files as dependencies (``weld_anomaly.dvcgen``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "weld_anomaly"


@functools.cache
def _direct_imports(path: Path) -> tuple[str, ...]:
    """The package modules one file imports itself (parsed once per process)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".smk":  # Snakemake syntax: read only its import statements
        text = "\n".join(
            line for line in text.splitlines() if line.startswith(("import ", "from "))
        )
    names: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                names += [alias.name for alias in node.names]
            elif node.module.startswith(PACKAGE + "."):
                names.append(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names += [a.name.split(".")[1] for a in node.names if a.name.startswith(PACKAGE + ".")]
    return tuple(names)


def imported_modules(path: str | Path, src: str | Path, seen: set[str] | None = None) -> set[str]:
    """Names of the package modules ``path`` imports, transitively (``src`` holds the package)."""
    src = Path(src)
    seen = set() if seen is None else seen
    for name in _direct_imports(Path(path).resolve()):
        module = src / PACKAGE / f"{name}.py"
        if module.is_file() and name not in seen:
            seen.add(name)
            imported_modules(module, src, seen)
    return seen


def code_files(script: str | Path, src: str | Path = "src") -> list[str]:
    """The package's source files a script depends on, as paths under ``src``."""
    names = {"__init__"} | imported_modules(script, src)
    return [f"{Path(src).as_posix()}/{PACKAGE}/{name}.py" for name in sorted(names)]


def code_digest(script: str | Path, src: str | Path = "src") -> str:
    """A short digest of the content of the package modules ``script`` depends on."""
    digest = hashlib.sha256()
    for name in code_files(script, src):
        digest.update(name.encode() + b"\0" + Path(name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
