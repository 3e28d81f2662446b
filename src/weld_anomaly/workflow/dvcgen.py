"""Generate ``dvc.yaml`` from the Snakemake workflow: DVC's stages are its projection.

Snakemake owns the DAG; DVC versions a few coarse stages, each running Snakemake for one
``stage_*`` target. What each stage depends on is read off the workflow itself (a forced dry
run lists every job with its inputs and outputs; the rule files name scripts and conda
environments; :mod:`weld_anomaly.workflow.codedeps` follows the scripts' imports), so the two DAGs
cannot drift: ``python -m weld_anomaly.workflow.dvcgen > dvc.yaml`` rewrites the file, and the test
suite fails when the committed file differs. The generator also checks that every file a
stage's rules write lies under that stage's outs.

Run it in the repository root with the default configuration (the demo).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from weld_anomaly.workflow.codedeps import code_files

# The project's own Snakemake (`make install`), so that `dvc repro` needs no activated venv
SNAKEMAKE = ".venv/bin/snakemake"
SNAKEMAKE_OPTIONS = "--cores all --rerun-triggers code input params software-env"
PARSE_TIME = ["Snakefile", "rules/common.smk", "rules/stages.smk", "schemas/config.schema.yaml"]
GROUPS = [
    "data",
    "demo",
    "convert",
    "crops",
    "fragments",
    "model",
    "train",
    "detector",
    "score",
    "evaluate",
    "report",
    "inspect",
    "experiments",
]

# The design: which rules each stage runs, what it versions, which config groups it reads.
# Every output is cached (metrics and plots too), so `dvc pull` restores a whole result;
# `results/` stays out of git.
STAGES: dict[str, dict] = {
    "demo": {"rules": ["generate_demo"], "outs": ["resources/demo"], "params": ["demo"]},
    "images": {
        "rules": ["sort_images", "convert_image", "summarize_images"],
        "outs": ["results/manifest.csv", "results/images", "results/images.csv"],
        "params": ["data", "convert"],
    },
    "fragments": {
        "rules": ["crop_and_fragment"],
        "outs": ["results/crops", "results/fragments"],
        "params": ["crops", "fragments"],
    },
    "train": {
        "rules": [
            "build_training_set",
            "train_autoencoder",
            "train_detector",
            "train_detector_supervised",
        ],
        "outs": [
            "results/train",
            "results/model/autoencoder.keras",
            "results/model/autoencoder.weights.h5",
            "results/model/last.weights.h5",
            "results/model/history.csv",
            "results/model/train.json",
            "results/model/detector.keras",
            "results/model/detector.json",
            "results/model/supervised",
        ],
        "params": ["data", "model", "train", "detector"],
    },
    "score": {
        "rules": [
            "fit_texture_predictor",
            "score_fragments",
            "score_cross_fitted",
            "evaluate",
            "export_findings",
        ],
        "outs": [
            "results/model/texture_predictor.json",
            "results/scores",
            "results/reconstructions",
            "results/evaluation",
            "results/metrics/evaluation.json",
            "results/metrics/headline.json",
            "results/metrics/roc.csv",
            "results/findings",
        ],
        "params": ["data", "score", "evaluate"],
    },
    "report": {"rules": ["render_report"], "outs": ["results/report"], "params": GROUPS},
}
TOP_LEVEL = {
    # the headline figures only: the full metrics (thousands of values) stay in
    # results/metrics/evaluation.json, which `dvc metrics show` would print as one wide table
    "metrics": ["results/metrics/headline.json"],
    "plots": [
        {
            "results/model/history.csv": {
                "x": "epoch",
                "y": ["loss", "val_loss"],
                "title": "Autoencoder training",
            }
        },
        {
            "results/metrics/roc.csv": {
                "x": "fpr",
                "y": "tpr",
                "template": "simple",
                "title": "ROC, likely defects (test split)",
            }
        },
    ],
    "artifacts": {
        "weld-autoencoder": {
            "path": "results/model/autoencoder.keras",
            "type": "model",
            "desc": "Convolutional autoencoder of sound weld fragments (Keras 3)",
        }
    },
}


def out_path(out) -> str:
    return next(iter(out)) if isinstance(out, dict) else out


def dry_run_jobs(repo: Path) -> dict[str, dict[str, set[str]]]:
    """rule -> {"input": files, "output": files} over every job of the workflow."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "all", "stage_demo"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    jobs: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"input": set(), "output": set()})
    rule = None
    for line in proc.stdout.splitlines():
        head = re.match(r"^\s*(?:local)?rule (\w+):$", line)  # group members are indented
        if head:
            rule = head.group(1)
            continue
        field = re.match(r"^\s+(input|output): (.*)$", line)
        if rule and field:
            jobs[rule][field.group(1)].update(p.strip() for p in field.group(2).split(", "))
    return dict(jobs)


def rule_files(repo: Path) -> dict[str, dict[str, str]]:
    """rule -> the .smk file defining it, its conda environment and its script.

    A per-image step's rules, written in a loop (``for unit in units("step", ...)``, one
    rule or one per batch), are listed under the step's name."""
    out: dict[str, dict[str, str]] = {}
    for smk in sorted((repo / "rules").glob("*.smk")):
        text = re.sub(r'^for unit in units\("(\w+)".*$', r"rule \1:", smk.read_text(), flags=re.M)
        blocks = re.split(r"^\s*rule (\w+):\s*$", text, flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            info = {"smk": f"rules/{smk.name}"}
            for key, pattern in (
                ("conda", r"conda:\s*\n\s*\"\.\./(envs/[^\"]+)\""),
                ("script", r"script:\s*\n\s*\"\.\./(scripts/[^\"]+)\""),
            ):
                found = re.search(pattern, body)
                if found:
                    info[key] = found.group(1)
            out[name] = info
    return out


def stage_of(path: str) -> str | None:
    """The stage whose outs hold ``path``."""
    found = [
        name
        for name, stage in STAGES.items()
        for out in map(out_path, stage["outs"])
        if path == out or path.startswith(out + "/")
    ]
    if len(found) > 1:
        raise ValueError(f"{path} lies under the outs of several stages: {found}")
    return found[0] if found else None


def generate(repo: Path) -> dict:
    """The content of dvc.yaml, after checking the stages against the workflow."""
    jobs = dry_run_jobs(repo)
    files = rule_files(repo)
    parse_code = set(PARSE_TIME) | {
        str(Path(c).relative_to(repo)) for c in code_files(repo / "rules/common.smk", repo / "src")
    }
    staged = {rule for stage in STAGES.values() for rule in stage["rules"]}
    unstaged = {r for r in jobs if r not in staged and r != "all" and not r.startswith("stage_")}
    if unstaged - {"inspect_images"}:
        raise ValueError(f"rules in no DVC stage: {sorted(unstaged)}")
    stages = {}
    for name, design in STAGES.items():
        code = set(parse_code)
        data_deps = set()
        for rule in design["rules"]:
            info = files[rule]
            code |= {info["smk"], info.get("conda", ""), info.get("script", "")} - {""}
            if "script" in info:  # the package modules the script imports
                code |= {
                    str(Path(c).relative_to(repo))
                    for c in code_files(repo / info["script"], repo / "src")
                }
            for output in jobs.get(rule, {}).get("output", ()):
                if stage_of(output) != name:
                    raise ValueError(
                        f"{output} (rule {rule}) is not under the outs of stage {name}"
                    )
            for path in jobs.get(rule, {}).get("input", ()):
                owner = stage_of(path)
                if owner is not None and owner != name:
                    data_deps.add(
                        next(
                            o
                            for o in map(out_path, STAGES[owner]["outs"])
                            if path == o or path.startswith(o + "/")
                        )
                    )
                elif owner is None and not path.startswith(("src/", "scripts/")):
                    code.add(path)  # other inputs: templates
                elif path.startswith("src/"):
                    code.add(path)  # e.g. the report's template
        stages[name] = {
            "cmd": f"{SNAKEMAKE} stage_{name} {SNAKEMAKE_OPTIONS}",
            "deps": sorted(data_deps) + sorted(code),
            "params": [{"config/config.yaml": sorted(design["params"])}],
            "outs": design["outs"],
        }
    return {"stages": stages, **TOP_LEVEL}


HEADER = """\
# DVC's view of the workflow: a few coarse stages, each running Snakemake for one stage_*
# target (rules/stages.smk). GENERATED from the workflow by
#     .venv/bin/python -m weld_anomaly.workflow.dvcgen > dvc.yaml
# and checked by the tests: edit the rules or src/weld_anomaly/workflow/dvcgen.py, not this file.
# Each stage calls the project's own .venv/bin/snakemake (`make install`): no activation needed.
# Snakemake runs without its mtime trigger inside a stage, because DVC restores files with
# new modification times; DVC decides by content which stages are stale.
"""


def main() -> None:
    text = yaml.safe_dump(generate(Path.cwd()), sort_keys=False, width=100)
    sys.stdout.write(HEADER + text)


if __name__ == "__main__":
    main()
