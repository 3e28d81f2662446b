import logging

import pytest

from weld_anomaly.errors import ManifestError
from weld_anomaly.workflow.runner import run_step


@pytest.fixture(autouse=True)
def restore_logging():
    """run_step configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_user_error_is_one_line_and_exit_1(tmp_path, capfd):
    def bad():
        raise ManifestError(
            "crop reaches outside", where="crops.yaml, image a, crop b", fix="move the crop"
        )

    with pytest.raises(SystemExit) as info:
        run_step(tmp_path / "step.log", bad)
    assert info.value.code == 1
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ERROR:")]
    assert lines == ["ERROR: crops.yaml, image a, crop b: crop reaches outside. Move the crop."]
    assert "Traceback" not in err
    assert "crop reaches outside" in (tmp_path / "step.log").read_text()


def test_bugs_keep_their_traceback_in_the_log(tmp_path):
    def broken():
        return 1 / 0

    with pytest.raises(ZeroDivisionError):
        run_step(tmp_path / "step.log", broken)
    assert "Traceback" in (tmp_path / "step.log").read_text()


def test_returns_the_result(tmp_path):
    assert run_step(None, lambda x: x + 1, x=1) == 2


def test_cli_has_a_version_and_every_option_explained(capsys):
    import argparse

    from weld_anomaly import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("weld-anomaly 0.")
    parsers = [cli._parser()]
    undocumented = []
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif not action.help:
                undocumented.append(
                    f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
                )
    assert not undocumented


def test_a_step_log_carries_no_library_narration(tmp_path):
    """highdicom narrates each module it copies into a presentation state at INFO level: a
    step's log (and an inspect run's stderr) keeps its own lines, not those."""
    from weld_anomaly.workflow.runner import setup_logging

    setup_logging(tmp_path / "step.log")
    logging.getLogger("highdicom.base").info('copy attributes of module "Specimen"')
    logging.getLogger("weld_anomaly.report").info("a: 2 finding(s) as a presentation state")
    logging.getLogger("highdicom.base").warning("a real problem")
    text = (tmp_path / "step.log").read_text()
    assert "a: 2 finding(s)" in text and "a real problem" in text
    assert "copy attributes" not in text
