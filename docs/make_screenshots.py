"""Refresh the README's screenshots from a finished demo run, with the browser test's code.

make demo && .venv/bin/python docs/make_screenshots.py
"""

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "workflow"), str(ROOT / "src")]

from test_browser import screenshots  # noqa: E402

shots = screenshots(ROOT / "results/report/report.html", ROOT / "docs", width=1280)
for path in shots.values():  # keep them small for the repository
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((960, 960))
        image.save(path, optimize=True)
    print(path, path.stat().st_size // 1024, "KiB")
