"""The documentation: a README read in minutes, and no link to a file that is not there."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO, repo_files

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def test_every_link_in_the_repository_resolves():
    broken = []
    for rel in repo_files():
        if not rel.endswith(".md") or rel.startswith("node_modules/"):
            continue
        path = REPO / rel
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            goal = (path.parent / file).resolve() if file else path
            if not goal.exists():
                broken.append(f"{rel}: {target} (no such file)")
            elif anchor and goal.suffix == ".md" and anchor not in _anchors(goal):
                broken.append(f"{rel}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_is_read_in_five_minutes():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, len(lines)
    assert lines[0].startswith("# ")
    # the two commands come first, in one block
    start = lines.index("```bash")
    assert lines[start + 1].startswith("make demo") and lines[start + 2].startswith("make test")


def test_no_file_of_the_repository_cites_the_developers_notes():
    """The product stands on its own: no reference to files outside the repository."""
    cited = []
    for rel in repo_files():
        if rel.startswith(("node_modules/", "tests/unit/test_docs.py")):
            continue
        try:
            text = (REPO / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        if "shared/research" in text or "../shared/" in text:
            cited.append(rel)
    assert not cited, cited
