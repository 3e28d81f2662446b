"""Make the workflow's package importable from the scripts Snakemake runs.

Snakemake puts this folder on ``sys.path``; importing this module adds ``src/`` too, so the
scripts work in a plain checkout, an installed venv or a per-rule conda environment alike.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
