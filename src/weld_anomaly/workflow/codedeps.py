"""Which package modules a script runs: its imports, followed through the package.

Snakemake re-runs a job when its script changes but does not see the modules the script
imports. The workflow therefore gives every job, as a parameter, a digest of the package
modules its script imports directly or indirectly (lazy imports inside functions
included), computed here from the source so that it cannot drift from the code: an edit
to one of them changes the parameter and re-runs the job. (A parameter, not a list of
input files: with ~13 modules per job, file inputs made planning 10,000 images ~15 %
slower; and a digest reacts to content, not to a bare `touch`.) DVC's stages list the
same files as dependencies (:mod:`weld_anomaly.workflow.dvcgen`).

Modules are named by their dotted path inside the package (``score.scoring``); importing
one also runs the ``__init__`` of every package above it, so those count too.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "weld_anomaly"


def _module_file(src: Path, dotted: str) -> Path | None:
    """The file of package module ``dotted`` (``""`` is the package itself), if it exists."""
    base = src / PACKAGE / Path(*dotted.split(".")) if dotted else src / PACKAGE
    if base.with_suffix(".py").is_file() and dotted:
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _within(module: str) -> str | None:
    """``weld_anomaly.a.b`` -> ``a.b``; ``weld_anomaly`` -> ``""``; other modules -> None."""
    if module == PACKAGE:
        return ""
    if module.startswith(PACKAGE + "."):
        return module[len(PACKAGE) + 1 :]
    return None


@functools.cache
def _direct_imports(path: Path, src: Path) -> tuple[str, ...]:
    """The package modules one file imports itself (parsed once per process)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".smk":  # Snakemake syntax: read only its import statements
        text = "\n".join(
            line for line in text.splitlines() if line.startswith(("import ", "from "))
        )
    names: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            inner = _within(node.module)
            if inner is None:
                continue
            if inner:
                names.append(inner)
            for alias in node.names:  # `from weld_anomaly.score import scoring`
                child = f"{inner}.{alias.name}" if inner else alias.name
                if _module_file(src, child) is not None:
                    names.append(child)
        elif isinstance(node, ast.Import):
            names += [i for a in node.names if (i := _within(a.name))]
    return tuple(names)


def _with_parents(dotted: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]``: importing a module runs its packages too."""
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_modules(path: str | Path, src: str | Path, seen: set[str] | None = None) -> set[str]:
    """Dotted names of the package modules ``path`` imports, transitively.

    ``src`` holds the package. Packages count as their ``__init__``.
    """
    src = Path(src).resolve()
    seen = set() if seen is None else seen
    for name in _direct_imports(Path(path).resolve(), src):
        for module in _with_parents(name):
            file = _module_file(src, module)
            if file is not None and module not in seen:
                seen.add(module)
                imported_modules(file, src, seen)
    return seen


def code_files(script: str | Path, src: str | Path = "src") -> list[str]:
    """The package's source files a script depends on, as paths under ``src``."""
    src = Path(src)
    files = {_module_file(src.resolve(), "")} | {
        _module_file(src.resolve(), name) for name in imported_modules(script, src)
    }
    root = src.resolve()
    return sorted(f"{src.as_posix()}/{f.relative_to(root).as_posix()}" for f in files if f)


def code_digest(script: str | Path, src: str | Path = "src") -> str:
    """A short digest of the content of the package modules ``script`` depends on."""
    digest = hashlib.sha256()
    for name in code_files(script, src):
        digest.update(name.encode() + b"\0" + Path(name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
