"""Changes to Snakemake's internals that plan a large archive fast, in one place.

Planning 100,000 images spends most of its time in a few of Snakemake's generic paths that
this workflow's shape makes needlessly slow (BENCHMARKS.md, planning): asking every rule
whether it writes a file by regular expression, finding producers in a sorted prefix list,
checking that no output lies inside another by sorting every output as a path, and
inspecting the parameters of every input and resource function on every call. Each change
below answers the same question the same way, faster, for this workflow's outputs.

They are written for one Snakemake version (:data:`WRITTEN_FOR`). On another, :func:`apply`
changes nothing and logs one line: the workflow stays correct, only planning a very large
archive is slower. ``tests/unit/test_snakemake_speedups.py`` fails on a Snakemake version
other than the one they were written for, so that a dependency update forces a look at
them. ``docs/snakemake-speedups.md`` describes the upstream changes that would retire them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

WRITTEN_FOR = "9.27.1"  # the Snakemake version these changes were written and measured for


def snakemake_version() -> str:
    try:
        from snakemake import __version__
    except ImportError:
        return ""
    return str(__version__)


def active() -> bool:
    """Whether the changes apply here: the installed Snakemake is :data:`WRITTEN_FOR` and
    ``WELD_ANOMALY_STOCK_SNAKEMAKE`` is not set (to compare with stock Snakemake)."""
    return snakemake_version() == WRITTEN_FOR and not os.environ.get("WELD_ANOMALY_STOCK_SNAKEMAKE")


def apply() -> bool:
    """Apply the changes when :func:`active`; True if so."""
    version = snakemake_version()
    if not active():
        log.info(
            "planning speed-ups not applied: written for Snakemake %s, this is %s (the "
            "workflow is unchanged; planning very large archives may be slower)",
            WRITTEN_FOR,
            version or "unknown",
        )
        return False
    _resources_per_job()
    _constant_producers()
    _exact_output_index()
    _quick_child_check()
    return True


def per_job(func):
    """Mark an input or resource function that Snakemake calls once per job: hand it the
    function's parameters once, through Snakemake's own hook (``_overwrite_params``),
    instead of the ``inspect.signature`` it runs on every call (BENCHMARKS.md, planning).
    """
    import inspect

    if not active():  # another Snakemake: it inspects, as before
        return func
    from snakemake.common import FUNC_OVERWRITE_PARAMS_ATTR

    setattr(func, FUNC_OVERWRITE_PARAMS_ATTR, inspect.signature(func).parameters)
    return func


def _resources_per_job():
    """The same for Snakemake's own wrapper of every resource (``Resource.evaluate``, a
    method whose parameters never change), inspected about six times per job."""
    import inspect

    try:
        from snakemake.common import FUNC_OVERWRITE_PARAMS_ATTR
        from snakemake.resources import Resource
    except ImportError:
        return
    signature = inspect.signature(Resource.evaluate)
    bound = signature.replace(parameters=list(signature.parameters.values())[1:])
    setattr(Resource.evaluate, FUNC_OVERWRITE_PARAMS_ATTR, bound.parameters)


def _constant_producers():
    """Snakemake asks each candidate rule whether it writes a file by matching the file
    against a regular expression of every output of the rule. For a rule without wildcards
    (a batch's rule: 50 images x 4 outputs) that is an equality test, run for every file
    of the batch: 3.6 million regex matches for 10,000 images, most of them recompiled
    (Python's regex cache holds 512). Such a rule answers from the set of its outputs.
    """
    try:
        from snakemake.rules import Rule
    except ImportError:
        return
    original = Rule.is_producer
    if getattr(original, "constant_products", False):
        return

    def is_producer(self, requested_output):
        if self.has_wildcards():
            return original(self, requested_output)
        products = self.__dict__.get("_constant_products")
        if products is None:
            products = frozenset(str(o) for o in self.products())
            self.__dict__["_constant_products"] = products
        return str(requested_output) in products

    is_producer.constant_products = True
    Rule.is_producer = is_producer


def _exact_output_index():
    """Snakemake finds the rules that may write a file in a sorted list of every output's
    constant prefix, walking the file's prefixes one bisection at a time (~10 per file,
    each calling a Python key function ~17 times). A batch's outputs have no wildcards:
    their prefix is the whole path, so a dictionary answers for them; only outputs with
    wildcards stay in Snakemake's prefix list (~4 % of planning 10,000 images, measured).
    """
    try:
        from snakemake.common.prefix_lookup import PrefixLookup
        from snakemake.output_index import OutputIndex
    except ImportError:
        return
    if getattr(OutputIndex.match, "exact", False):
        return

    def __init__(self, rules):
        self._exact, entries = {}, []
        for producer in rules:
            for product in producer.products():
                prefix = str(product.constant_prefix())
                suffix = str(product.constant_suffix())
                if prefix == suffix == str(product.file):  # no wildcard
                    self._exact.setdefault(prefix, set()).add(producer)
                else:
                    entries.append((prefix, (producer, suffix)))
        self._lookup = PrefixLookup(entries=entries)

    def match(self, targetfile):
        found = {
            producer
            for _, (producer, suffix) in self._lookup.match_iter(targetfile)
            if targetfile.endswith(suffix)
        }
        return found | self._exact.get(targetfile, set())

    match.exact = True
    OutputIndex.__init__ = __init__
    OutputIndex.match = match


def _quick_child_check():
    """Snakemake checks that no output lies inside another job's output by sorting every
    output as a ``pathlib`` path and comparing neighbours: ~10 % of planning 10,000 images.
    The same check here with strings: each output's parent folders looked up among the
    outputs (it also catches a file two places after its folder in sorted order).
    """
    try:
        from snakemake.dag import DAG
        from snakemake.exceptions import ChildIOException
    except ImportError:
        return
    if getattr(DAG.check_directory_outputs, "by_parents", False):
        return
    import os

    def check_directory_outputs(self):
        producers = {}
        for job in self.jobs:
            for f in job.output:
                producers.setdefault(os.path.abspath(f), job)
        for path, job in producers.items():
            parent, above = os.path.dirname(path), path
            while parent != above:
                other = producers.get(parent)
                if other is not None and other != job:
                    raise ChildIOException(parent=(Path(parent), other), child=(Path(path), job))
                parent, above = os.path.dirname(parent), parent

    check_directory_outputs.by_parents = True
    DAG.check_directory_outputs = check_directory_outputs
