"""Jobs of many images: batches of rules, the per-image cache, typed --config values."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from weld_anomaly.workflow.batches import ImageJob, JobCache, Unit, split_job, units
from weld_anomaly.workflow.plan import type_overrides


def test_one_rule_per_step_or_one_per_batch_in_id_order():
    assert units("score", ["b", "a"], 1) == [Unit("score")]
    batches = units("score", ["e", "c", "a", "d", "b"], 2)
    assert [u.images for u in batches] == [("a", "b"), ("c", "d"), ("e",)]
    assert [u.name for u in batches] == ["score_b00001", "score_b00002", "score_b00003"]
    wild, batch = Unit("score"), batches[0]
    assert wild.paths("r/{image}.h5") == "r/{image}.h5"
    assert batch.paths("r/{image}.h5") == ["r/a.h5", "r/b.h5"]
    source = lambda w: f"src/{w.image}.dcm"  # noqa: E731
    assert wild.each(source) is source and batch.each(source) == ["src/a.dcm", "src/b.dcm"]
    assert batch.values(lambda w: w.image.upper()) == {"a": "A", "b": "B"}
    assert wild.log("logs/s") == "logs/s/{image}.log" and batch.log("logs/s") == "logs/s/b00001.log"
    assert wild.runtime(10) == 10 and batch.runtime(10) == 20
    assert wild.ids() is None and batch.ids() == ["a", "b"]


def _job(tmp_path, image, content):
    source = tmp_path / f"{image}.in"
    source.write_text(content)
    return ImageJob(image, {"source": str(source)}, {"out": str(tmp_path / "out" / f"{image}.txt")})


def test_cache_restores_an_image_whose_inputs_did_not_change(tmp_path):
    cache = JobCache(tmp_path / "cache", "step", {"params": {"k": 1}})
    job = _job(tmp_path, "a", "pixels")
    key = cache.key(job)
    assert not cache.restore(job, key)
    out = tmp_path / "out/a.txt"
    out.parent.mkdir()
    out.write_text("result")
    cache.store(job, key)
    inode = out.stat().st_ino
    out.unlink()  # Snakemake removes a job's outputs before it runs
    old = os.stat(tmp_path / "a.in").st_mtime - 100
    assert cache.restore(job, key)
    assert out.read_text() == "result" and out.stat().st_ino == inode  # a link, not a copy
    assert out.stat().st_mtime > old  # newer than its inputs, like a file just written
    # another input content, parameter or shared setting: another key
    assert cache.key(_job(tmp_path, "a", "other pixels")) != key
    assert cache.key(ImageJob("a", job.input, job.output, {"crops": [1]})) != key
    assert JobCache(tmp_path / "cache", "step", {"params": {"k": 2}}).key(job) != key
    # a new entry replaces the image's old one: one entry per image and step
    changed = _job(tmp_path, "a", "new pixels")
    out.write_text("new result")
    cache.store(changed, cache.key(changed))
    assert len(list((tmp_path / "cache/step/a").iterdir())) == 1
    assert not cache.restore(job, key)


def test_split_job_gives_each_image_its_entries():
    class Named(dict):
        __getattr__ = dict.__getitem__

    batch = SimpleNamespace(
        input=Named(source=["x.dcm", "y.dcm"], model="m"),
        output=Named(image=["x.h5", "y.h5"]),
        params=Named(images=["x", "y"], crops={"x": [1], "y": None}),
        wildcards=None,
    )
    jobs = split_job(batch, inputs=["source"], outputs=["image"], params=["crops"])
    assert [(j.image, j.input, j.output, j.params) for j in jobs] == [
        ("x", {"source": "x.dcm"}, {"image": "x.h5"}, {"crops": [1]}),
        ("y", {"source": "y.dcm"}, {"image": "y.h5"}, {"crops": None}),
    ]
    one = SimpleNamespace(
        input=Named(source="x.dcm"),
        output=Named(image="x.h5"),
        params=Named(images=None, crops=[1]),
        wildcards=SimpleNamespace(image="x"),
    )
    (job,) = split_job(one, inputs=["source"], outputs=["image"], params=["crops"])
    assert (job.image, job.input, job.params) == ("x", {"source": "x.dcm"}, {"crops": [1]})


@pytest.mark.parametrize(
    ("given", "typed"),
    [("4", 4), ("0.5", 0.5), ("null", None), ("true", True), ("[1, 2]", [1, 2]), ("ab", "ab")],
)
def test_values_inside_a_group_given_on_the_command_line_get_their_types(given, typed):
    # Snakemake's --config group='{key: 4}' hands the group's values over as strings
    overrides = {"jobs": {"images_per_job": given}}
    config = {"jobs": {"images_per_job": overrides["jobs"]["images_per_job"], "cache": "c"}}
    type_overrides(config, overrides)
    assert config["jobs"] == {"images_per_job": typed, "cache": "c"}


def test_values_inside_lists_of_mappings_on_the_command_line_get_their_types():
    # --config 'sweep={space: [{setting: train.epochs, low: 2, high: 4, log: false}]}'
    entry = {"setting": "train.epochs", "low": "2", "high": "4.5", "log": "false"}
    overrides = {"sweep": {"trials": "2", "space": [entry]}}
    config = {"sweep": {"trials": "2", "space": [entry], "seed": 0}}
    type_overrides(config, overrides)
    assert config["sweep"] == {
        "trials": 2,
        "space": [{"setting": "train.epochs", "low": 2, "high": 4.5, "log": False}],
        "seed": 0,
    }
