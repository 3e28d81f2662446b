"""Run one workflow step with logging, turning user errors into one clear line.

Used by the thin scripts in ``scripts/``: they call :func:`run_step` with the rule's log
file and the package function to run. A :class:`~weld_anomaly.errors.UserError` is logged
and printed as a single ``ERROR:`` line and the process exits with status 1; any other
exception is a bug and keeps its full traceback in the log.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from weld_anomaly.errors import UserError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# pydicom quotes the header value it finds invalid (a UID, a person's name...)
_HEADER_VALUE = re.compile(
    r"(Invalid value for VR \w+): (?:b?'(?:[^'\\]|\\.)*'|b?\"(?:[^\"\\]|\\.)*\"|\S+)"
)


class _PydicomNotices(logging.Filter):
    """pydicom's notices without the header values they quote (they may identify a person
    or a study), and each once: pydicom both logs and warns every notice."""

    def __init__(self) -> None:
        super().__init__()
        self.recent: collections.deque[str] = collections.deque(maxlen=32)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.name == "py.warnings" and "pydicom" not in text:
            return True
        clean = _HEADER_VALUE.sub(r"\1 (the value is not shown)", text)
        if record.name == "py.warnings":
            if any(notice in clean for notice in self.recent):
                return False  # already logged by pydicom's logger
        else:
            self.recent.append(clean)
        record.msg, record.args = clean, ()
        return True


_NOTICES = _PydicomNotices()


def setup_logging(log_path: str | Path | None, level: int = logging.INFO) -> None:
    """Log to ``log_path`` (and to stderr), and send Python warnings to the log."""
    console = logging.StreamHandler(sys.stderr)
    # records marked extra={"log_only": True} (tracebacks kept for bug reports) stay in the file
    console.addFilter(lambda record: not getattr(record, "log_only", False))
    handlers: list[logging.Handler] = [console]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    for name in ("pydicom", "py.warnings"):
        if _NOTICES not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_NOTICES)
    # highdicom narrates every module it copies into a presentation state (9 lines a file)
    logging.getLogger("highdicom").setLevel(logging.WARNING)
    warnings.filterwarnings("default")
    # Keras's TensorFlow backend calls np.array on tensors: a harmless NumPy 2 notice per epoch
    warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy")


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Exit 1 with one ``ERROR:`` line on a user error; log any other failure's traceback."""
    log = logging.getLogger("weld_anomaly")
    try:
        yield
    except UserError as exc:
        log.error(exc.line())
        for handler in logging.getLogger().handlers:
            handler.flush()
        print(f"ERROR: {exc.line()}", file=sys.__stderr__, flush=True)
        sys.exit(1)
    except Exception:
        log.error(
            "unexpected failure (a bug; please report it with this log):\n%s",
            traceback.format_exc(),
        )
        raise


def run_step(log_path: str | Path | None, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``func(**kwargs)`` with logging set up; exit 1 with one line on a user error."""
    setup_logging(log_path)
    with one_line_errors():
        return func(**kwargs)
