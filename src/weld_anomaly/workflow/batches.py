"""Jobs of many images: the rules' side (:class:`Unit`) and the scripts' side (:func:`run_images`).

Every image passes through three per-image steps (``convert_image``, ``crop_and_fragment``,
``score_fragments``). With ``jobs.images_per_job: 1`` each is one Snakemake rule with an
``{image}`` wildcard: a job per image. With ``images_per_job: K > 1`` each step becomes one
rule per batch of K images (in id order, names ``<step>_b00001``...), with the same per-image
output files: a process loads its libraries and models once for K images, and Snakemake
plans K times fewer jobs (BENCHMARKS.md, planning and start-up).

Snakemake re-runs a whole job when one of its inputs changes, and deletes every output of
the job first. So that one changed image does not recompute the rest of its batch, a job of
many images keeps each image's outputs in a content cache (``jobs.cache``), keyed by the
digests of that image's inputs, the shared inputs (the model), the parameters and the
code; the other images are restored from it (hard links) instead of being computed again.
The cache holds one entry per step and image (a new entry replaces the old one), so it
never grows past one copy of the outputs, and hard links share the outputs' disk space.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from weld_anomaly.files import sha256

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# The rules' side: one rule per step (wildcard) or per batch of images


@dataclass(frozen=True)
class Unit:
    """One rule of a per-image step: all images (``images is None``: an ``{image}``
    wildcard rule) or one batch of images."""

    step: str
    images: tuple[str, ...] | None = None
    index: int = 0

    @property
    def batched(self) -> bool:
        return self.images is not None

    @property
    def name(self) -> str:
        return f"{self.step}_b{self.index:05d}" if self.batched else self.step

    def paths(self, pattern: str) -> str | list[str]:
        """An output or input path pattern with ``{image}``: itself, or the batch's paths."""
        if not self.batched:
            return pattern
        return [pattern.format(image=image) for image in self.images]

    def each(self, func: Callable[[Any], Any]) -> Callable[[Any], Any] | list[Any]:
        """An input function of the wildcards: itself, or its value for each image."""
        if not self.batched:
            return func
        return [func(SimpleNamespace(image=image)) for image in self.images]

    def values(self, func: Callable[[Any], Any]) -> Callable[[Any], Any] | dict[str, Any]:
        """A per-image parameter function: itself, or ``{image: value}`` for the batch."""
        if not self.batched:
            return func
        return {image: func(SimpleNamespace(image=image)) for image in self.images}

    def log(self, folder: str) -> str:
        """The log: one per image, or one per batch, in the same folder."""
        return f"{folder}/{{image}}.log" if not self.batched else f"{folder}/b{self.index:05d}.log"

    def runtime(self, minutes: int) -> int:
        """A runtime request (minutes) for the unit's images run one after another."""
        return minutes * (len(self.images) if self.batched else 1)

    def ids(self) -> list[str] | None:
        """The batch's images, as a parameter (None for the wildcard rule)."""
        return list(self.images) if self.batched else None


def units(step: str, image_ids: Sequence[str], images_per_job: int) -> list[Unit]:
    """The rules of one step: one wildcard rule, or one rule per batch of images (id order)."""
    if images_per_job <= 1:
        return [Unit(step)]
    ids = sorted(image_ids)
    return [
        Unit(step, tuple(ids[start : start + images_per_job]), index)
        for index, start in enumerate(range(0, len(ids), images_per_job), start=1)
    ]


def inherit_settings(workflow: Any, unit: Unit) -> None:
    """Give a batch's rule the profile's ``set-resources``/``set-threads`` of its step.

    Snakemake applies them by rule name when it creates a rule; the rules of batches have
    their own names, so the settings of ``<step>`` are copied to ``<step>_b00001``... here
    (with Snakemake's private settings objects; a Snakemake without them copies nothing).
    """
    if not unit.batched:
        return
    settings = getattr(workflow, "resource_settings", None)
    resources = getattr(settings, "_parsed_overwrite_resources", {}) or {}
    threads = getattr(settings, "_parsed_overwrite_threads", {}) or {}
    rule = workflow.get_rule(unit.name)
    if unit.step in resources:
        rule.resources.update(resources[unit.step])
    if threads.get(unit.step) is not None:
        rule.resources["_cores"] = threads[unit.step]


# ---------------------------------------------------------------------------------------
# The scripts' side: one image after another, each restored from the cache when it can be


@dataclass
class ImageJob:
    """One image's share of a job: its id, inputs, outputs and parameters by name."""

    image: str
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def split_job(
    smk: Any,
    *,
    inputs: Iterable[str] = (),
    outputs: Iterable[str] = (),
    params: Iterable[str] = (),
) -> list[ImageJob]:
    """The images of a Snakemake job, each with its own entries of the named per-image
    inputs, outputs and parameters (lists in a batch's rule, single values otherwise)."""
    batch = smk.params.get("images") if hasattr(smk.params, "get") else None
    ids = list(batch) if batch else [smk.wildcards.image]
    jobs = [ImageJob(image) for image in ids]
    for k, job in enumerate(jobs):
        for name in inputs:
            value = smk.input[name]
            job.input[name] = value[k] if batch else value
        for name in outputs:
            value = smk.output[name]
            job.output[name] = str(value[k] if batch else value)
        for name in params:
            value = smk.params[name]
            job.params[name] = value[job.image] if batch else value
    return jobs


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class JobCache:
    """Each image's outputs of one step, kept under ``root/<step>/<image>/<key>/``."""

    def __init__(self, root: str | os.PathLike, step: str, shared: dict[str, Any]):
        self.root = Path(root) / step
        self.salt = json.dumps(_jsonable(shared), sort_keys=True)

    def key(self, job: ImageJob) -> str:
        digest = hashlib.sha256(self.salt.encode())
        own = {
            "image": job.image,
            "params": _jsonable(job.params),
            "inputs": {name: _digests(value) for name, value in sorted(job.input.items())},
        }
        digest.update(json.dumps(own, sort_keys=True).encode())
        return digest.hexdigest()[:40]

    def _entry(self, image: str, key: str) -> Path:
        return self.root / image / key

    def restore(self, job: ImageJob, key: str) -> bool:
        """Put the image's cached outputs in place (hard links, else copies): True if all were."""
        entry = self._entry(job.image, key)
        if not all((entry / name).is_file() for name in job.output):
            return False
        now = time.time()
        for name, dest in job.output.items():
            _link(entry / name, Path(dest))
            # newer than the inputs, like a file just written (Snakemake compares times)
            os.utime(dest, (now, now))
        return True

    def store(self, job: ImageJob, key: str) -> None:
        """Keep the image's outputs (replacing the image's older entry)."""
        folder = self.root / job.image
        entry = folder / key
        tmp = folder / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, source in job.output.items():
            _link(Path(source), tmp / name)
        for old in folder.iterdir():
            if old != tmp:
                shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, entry)


def _digests(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_digests(v) for v in value]
    if value is None or value == "":
        return None
    return sha256(value)


def _link(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except OSError:  # another filesystem, or no hard links there
        shutil.copy2(source, dest)


def run_images(
    smk: Any,
    step: str,
    work: Callable[[ImageJob], Any],
    *,
    inputs: Iterable[str] = (),
    outputs: Iterable[str] = (),
    params: Iterable[str] = (),
) -> None:
    """Run ``work`` for every image of a Snakemake job, with logging; exit 1 with one line
    on a user error (like :func:`~weld_anomaly.workflow.runner.run_step`).

    In a job of many images (``params.images`` and ``params.cache`` set) each image is
    first looked up in the cache and its outputs are kept there once written, so images
    finished before a failure, and images whose inputs did not change, are not computed
    again by the job's next run.
    """
    from weld_anomaly.workflow.runner import one_line_errors, setup_logging

    inputs, outputs, params = list(inputs), list(outputs), list(params)
    setup_logging(smk.log[0] if smk.log else None)
    jobs = split_job(smk, inputs=inputs, outputs=outputs, params=params)
    cache = None
    cache_root = smk.params.get("cache") if hasattr(smk.params, "get") else None
    if len(jobs) > 1 and cache_root:
        shared_inputs = {
            name: _digests(value) for name, value in smk.input.items() if name not in inputs
        }
        shared_params = {
            name: value
            for name, value in smk.params.items()
            if name not in params and name not in ("images", "cache")
        }
        cache = JobCache(cache_root, step, {"inputs": shared_inputs, "params": shared_params})
    computed = restored = 0
    with one_line_errors():
        for job in jobs:
            key = cache.key(job) if cache else None
            if cache and cache.restore(job, key):
                restored += 1
                log.info("%s: restored from the cache (inputs unchanged)", job.image)
                continue
            work(job)
            computed += 1
            if cache:
                cache.store(job, key)
    if len(jobs) > 1:
        log.info(
            "%d images: %d computed, %d restored from the cache", len(jobs), computed, restored
        )
