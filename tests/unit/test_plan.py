import copy

import pytest
import yaml
from conftest import REPO

from weld_anomaly.errors import ConfigError, ManifestError
from weld_anomaly.workflow import plan

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml"])
def test_shipped_configs_are_valid_and_complete(name):
    config = load(name)
    before = copy.deepcopy(config)
    plan.validate_config(config, SCHEMA)
    assert config == before  # validation fills in nothing: every key is written out


@pytest.mark.parametrize(
    "change,words",
    [
        (lambda c: c["train"].update(epochs="ten"), ["train.epochs", "not of type 'integer'"]),
        (lambda c: c["fragments"].update(sise=64), ["unknown key fragments.sise"]),
        (lambda c: c["train"].pop("seed"), ["missing key train.seed"]),
        (lambda c: c["convert"].update(window="median"), ["convert.window", "'median' is not"]),
        (lambda c: c.update(extra=1), ["unknown key extra"]),
        (lambda c: c["convert"].update(window="fixed"), ["convert.fixed_window", "[low, high]"]),
    ],
)
def test_config_errors_name_the_key_in_one_line(change, words):
    config = load("config.yaml")
    change(config)
    with pytest.raises(ConfigError) as info:
        plan.validate_config(config, SCHEMA)
    line = info.value.line()
    assert "\n" not in line and line.startswith("config/config.yaml:")
    for word in words:
        assert word in line


def test_config_errors_name_the_file_that_holds_the_mistake_and_the_nearest_key(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "config.yaml"
    base.write_text((REPO / "config/config.yaml").read_text())
    mine = tmp_path / "mine.yaml"
    mine.write_text("train:\n  epoch: 3\n")  # a typo in the user's own file
    config = load("config.yaml")
    config["train"]["epoch"] = 3
    with pytest.raises(ConfigError) as info:
        plan.validate_config(config, SCHEMA, files=[base, mine])
    line = info.value.line()
    assert line.startswith("mine.yaml: unknown key train.epoch (did you mean epochs?)"), line
    # a wrong value set on the command line is blamed on the command line
    config = load("config.yaml")
    config["train"]["epochs"] = "ten"
    with pytest.raises(ConfigError) as info:
        plan.validate_config(
            config, SCHEMA, files=[base, mine], overrides={"train": {"epochs": "ten"}}
        )
    assert info.value.line().startswith("--config (command line): key train.epochs"), (
        info.value.line()
    )
    # ... and one only the shipped file holds, on that file
    config = load("config.yaml")
    config["fragments"]["size"] = "big"
    with pytest.raises(ConfigError) as info:
        plan.validate_config(config, SCHEMA, files=[base, mine])
    assert info.value.line().startswith("config.yaml: key fragments.size"), info.value.line()


def test_demo_inventory_and_paths():
    config = load("config.yaml")
    images = plan.build_inventory(config)
    demo = config["demo"]
    assert len(images) == demo["films"] + demo["faulty_films"] + demo["faulty_crops"]
    assert {r.split for r in images} == {"train", "validation", "test"}
    assert all(r.split in ("validation", "test") for r in images if r.status == "faulty")
    assert {r.split for r in images if r.status == "faulty"} == {"validation", "test"}
    paths = plan.data_paths(config)
    assert paths.crops == "resources/demo/crops.yaml"


def test_table_source_needs_its_labels():
    config = load("config.yaml")
    config["data"]["source"] = "table"
    with pytest.raises(ConfigError, match="data.labels is not set"):
        plan.build_inventory(config)
    config["data"]["labels"] = "does/not/exist.csv"
    with pytest.raises(ManifestError, match="labels table not found"):
        plan.build_inventory(config)


def test_paths_snakemake_would_misread_are_refused(tmp_path):
    images = tmp_path / "imgs"
    (images / "<script>alert(1)<").mkdir(parents=True)
    (images / "<script>alert(1)<" / "script>.dcm").write_bytes(b"x")
    labels = tmp_path / "labels.csv"
    labels.write_text('image,file,status\nx1,"<script>alert(1)</script>.dcm",faulty\n')
    config = load("config.yaml")
    config["data"].update(source="table", images_dir=str(images), labels=str(labels))
    with pytest.raises(ConfigError) as info:
        plan.build_inventory(config)
    assert "contains '<script>', which Snakemake reads as a path variable" in info.value.line()
