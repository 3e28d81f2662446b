"""The per-rule conda environments (envs/*.yaml) agree with requirements.lock and the code."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from weld_anomaly.workflow.codedeps import code_files

REPO = Path(__file__).resolve().parents[2]
# conda-forge names that differ from the lock's (PyPI) names
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
# the CUDA build of the lock's CPU-only TensorFlow release (same version)
PIP_TO_LOCK = {"tensorflow": "tensorflow-cpu"}
# import name -> distribution
IMPORT_TO_DIST = {
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "h5py": "h5py",
}
# Keras backends, imported only by the one selected (TensorFlow by default)
BACKENDS = {"tensorflow", "jax", "torch"}
ENVS = sorted((REPO / "envs").glob("*.yaml"))


def lock_versions() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", text, re.M)}


def env_packages(path: Path) -> dict[str, tuple[str, str]]:
    """{name: (version, source)} of an environment file; source is conda or pip."""
    spec = yaml.safe_load(path.read_text())
    found = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                name, _, version = line.partition("==")
                found[re.sub(r"\[.*\]", "", name).lower()] = (version, "pip")
        elif dep != "pip":
            name, _, version = dep.partition("=")
            found[name.lower()] = (version, "conda")
    return found


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_pins_the_lock_versions(env):
    lock = lock_versions()
    for name, (version, source) in env_packages(env).items():
        assert version, f"{env.name}: {name} is not pinned"
        if name == "python":
            assert sys.version.startswith(version), f"{env.name}: python {version}"
            continue
        locked = (CONDA_TO_PYPI if source == "conda" else PIP_TO_LOCK).get(name, name)
        assert locked in lock, f"{env.name}: {name} is not in requirements.lock"
        assert lock[locked] == version, f"{env.name}: {name} {version} != lock {lock[locked]}"


def rule_scripts() -> dict[str, tuple[str, str]]:
    """{rule: (environment file, script)} from the rules' ``conda:`` and ``script:`` (a
    per-image step's rules written in a loop under the step's name)."""
    from weld_anomaly.workflow.dvcgen import rule_files

    return {
        name: (info["conda"], info["script"])
        for name, info in rule_files(REPO).items()
        if "conda" in info and "script" in info
    }


def third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"weld_anomaly", "_package", "__future__"}


def test_every_rule_environment_provides_what_its_code_imports():
    rules = rule_scripts()
    assert {"convert_image", "train_autoencoder", "score_fragments"} <= set(rules)
    for rule, (env, script) in rules.items():
        packages = {CONDA_TO_PYPI.get(n, n) for n in env_packages(REPO / env)}
        files = [REPO / script] + [REPO / f for f in code_files(REPO / script, REPO / "src")]
        imports = set().union(*(third_party_imports(f) for f in files)) - BACKENDS
        if "keras" in imports:
            assert "tensorflow" in packages, f"rule {rule} runs Keras; {env} lacks tensorflow"
        missing = {i for i in imports if IMPORT_TO_DIST.get(i, i).lower() not in packages}
        assert not missing, f"rule {rule} imports {sorted(missing)}, missing from {env}"


def test_workflow_environment_has_the_permissive_decoders():
    pyproject = (REPO / "pyproject.toml").read_text()
    codecs = re.search(r"codecs = \[(.*?)\]", pyproject, re.S)[1]
    wanted = {m.lower() for m in re.findall(r'"([\w\-]+)==', codecs)}
    for env in ("envs/workflow.yaml", "envs/train.yaml"):
        rules = [r for r, (e, _) in rule_scripts().items() if e == env]
        if any(r in rules for r in ("convert_image", "inspect_images")):
            assert wanted <= set(env_packages(REPO / env)), env
