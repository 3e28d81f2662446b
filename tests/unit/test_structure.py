"""The package keeps its stages in layers and its functions short (tests/code_structure.py)."""

from pathlib import Path

from code_structure import MAX_FUNCTION_LINES, function_lengths, layer_violations

SRC = Path(__file__).resolve().parents[2] / "src"


def test_no_stage_imports_a_later_stage():
    assert layer_violations(SRC) == []


def test_the_layer_check_catches_an_upward_import(tmp_path):
    package = tmp_path / "weld_anomaly"
    for sub in ("ingest", "score"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "score" / "scoring.py").write_text("from weld_anomaly.ingest import tiling\n")
    (package / "ingest" / "tiling.py").write_text(
        "import numpy\n\n\ndef f():\n    from weld_anomaly.score.scoring import x\n"
    )
    (package / "ingest" / "crops.py").write_text("from ..score import scoring\n")
    (package / "files.py").write_text("from weld_anomaly import ingest\n")
    found = layer_violations(tmp_path)
    assert [v.split(": ", 1)[1] for v in found] == [
        "files imports ingest",
        "ingest.crops imports score",
        "ingest.tiling imports score.scoring",
    ]


def test_no_function_is_longer_than_80_lines():
    too_long = [f"{n} lines: {where}" for n, where in function_lengths(SRC) if n > 80]
    assert MAX_FUNCTION_LINES == 80
    assert too_long == []
