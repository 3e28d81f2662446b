"""The sweep's search space and rounds, as the workflow plans them (read when Snakemake
parses the workflow, so it imports nothing heavy; the sweep itself is
:mod:`weld_anomaly.workflow.sweep`)."""

from __future__ import annotations

from collections.abc import Sequence

from weld_anomaly.errors import ConfigError

# the configuration groups a trial may change (what the training and scoring chain reads)
GROUPS = ("model", "train", "detector", "score")


def _where(path: str) -> str:
    return f"sweep.space.{path}"


def lookup(config: dict, path: str):
    """The value at a dotted path of the configuration (``train.learning_rate``)."""
    node = config
    for key in path.split("."):
        node = node[key]
    return node


def space_of(entries: Sequence[dict]) -> dict[str, dict]:
    """``sweep.space`` (a list of {setting, ...}) as {setting: its range or choices}."""
    space: dict[str, dict] = {}
    for entry in entries:
        path = entry["setting"]
        if path in space:
            raise ConfigError("listed twice", _where(path), "keep one entry per setting")
        space[path] = {k: v for k, v in entry.items() if k != "setting"}
    return space


def check_space(space: dict, config: dict) -> None:
    """Every setting of ``sweep.space`` names a key of the configuration the trials may
    change and holds the configuration's own value (trial 0 runs it)."""
    if not space:
        raise ConfigError("the search space is empty", "sweep.space", "list a setting or more")
    for path, spec in space.items():
        if path.split(".")[0] not in GROUPS:
            raise ConfigError(
                f"a trial cannot change {path!r}", _where(path),
                f"choose settings of the groups {', '.join(GROUPS)}",
            )  # fmt: skip
        try:
            value = lookup(config, path)
        except (KeyError, TypeError):
            raise ConfigError(
                "no such setting in the configuration", _where(path),
                "write the setting's path as in config/config.yaml, e.g. train.learning_rate",
            ) from None  # fmt: skip
        if "choices" in spec:
            if value not in spec["choices"]:
                raise ConfigError(
                    f"the configuration's value {value!r} is not among the choices",
                    _where(path), "add it: the sweep's first trial runs the configuration as it is",
                )  # fmt: skip
        elif not spec["low"] <= value <= spec["high"]:
            raise ConfigError(
                f"the configuration's value {value!r} lies outside {spec['low']}..{spec['high']}",
                _where(path), "widen the range: the sweep's first trial runs the configuration",
            )  # fmt: skip


def rounds(trials: int, parallel: int) -> list[list[int]]:
    """The trial numbers of each round."""
    return [list(range(s, min(s + parallel, trials))) for s in range(0, trials, parallel)]
