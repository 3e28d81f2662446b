"""The package's shape, checked: import layers between the stages, and function lengths.

    .venv/bin/python tests/code_structure.py      # lists violations and the longest functions

The stages of ``src/weld_anomaly`` form layers, each allowed to import only the ones below
it: the root's bedrock (``errors``, ``files``) < ``ingest`` and ``simulate`` (the film
simulator) < ``model`` < ``score`` < ``report`` < ``workflow`` < the command line (``cli``).
The tests in
``tests/unit/test_structure.py`` run the same checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "weld_anomaly"
LAYERS = {"ingest": 1, "simulate": 1, "model": 2, "score": 3, "report": 4, "workflow": 5}
TOP = {"cli": 6}  # root modules above every stage
MAX_FUNCTION_LINES = 80


def layer(module: str) -> int:
    """The layer of a module named by its dotted path inside the package."""
    first = module.split(".")[0] if module else ""
    if first in LAYERS:
        return LAYERS[first]
    return TOP.get(first, 0)  # bedrock: errors, files, the package itself


def _package_modules(src: Path):
    root = src / PACKAGE
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """The package modules a file imports: (line, dotted name inside the package)."""
    out = []
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*filter(None, base), *([node.module] if node.module else [])])
            elif node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                target = node.module[len(PACKAGE) + 1 :]
            else:
                continue
            # `from weld_anomaly import ingest` names the stage in the alias
            names = [target] if target else [a.name for a in node.names]
            out += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name[len(PACKAGE) + 1 :])
                for a in node.names
                if a.name.startswith(PACKAGE + ".")
            ]
    return out


def layer_violations(src: str | Path) -> list[str]:
    """Every import from a lower stage to a higher one, as ``file:line: a imports b``."""
    out = []
    for module, path in _package_modules(Path(src)):
        for line, target in imports(path, module):
            if layer(target) > layer(module):
                out.append(f"{path}:{line}: {module or PACKAGE} imports {target}")
    return out


def function_lengths(src: str | Path) -> list[tuple[int, str]]:
    """(lines, ``file:line name``) of every function and method, longest first."""
    out = []
    for _, path in _package_modules(Path(src)):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def main() -> int:
    src = Path(__file__).resolve().parents[1] / "src"
    violations = layer_violations(src)
    print(f"import layers: {len(violations)} violation(s)")
    for v in violations:
        print("  " + v)
    lengths = function_lengths(src)
    too_long = [f for f in lengths if f[0] > MAX_FUNCTION_LINES]
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(too_long)}; the longest:")
    for lines, where in lengths[:10]:
        print(f"  {lines:4d}  {where}")
    return 1 if violations or too_long else 0


if __name__ == "__main__":
    sys.exit(main())
