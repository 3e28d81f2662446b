"""The realistic demo at reduced size, end to end: the chosen scorer must beat the textbook.

`make test-slow` (about 15 minutes on two CPU cores). The default suite checks that every
piece works; this checks that together they still detect better than the training-free
filter on realistic films, under both protocols, so that a change that quietly ruins
detection fails here.
"""

from __future__ import annotations

import json

import pytest
from conftest import copy_repo, snakemake

pytestmark = pytest.mark.slow

REDUCED = """\
demo: {out_dir: resources/demo-slow, films: 10, pipe_films: 1, faulty_films: 1, faulty_crops: 5,
  film_size: [640, 1792], crop_size: [400, 1792], hidden_flaws: 0.3, seed: 11}
train: {epochs: 2, fragments_per_epoch: 2000}
detector: {epochs: 4, steps_per_epoch: 100}
"""


def test_the_chosen_scorer_beats_the_textbook_filter_on_realistic_films(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "config/slow.yaml").write_text(REDUCED)
    snakemake(repo, "--cores", "2", "--configfile", "config/slow.yaml", timeout=3600)
    result = json.loads((repo / "results/metrics/evaluation.json").read_text())
    chosen = result["flag_statistic"]
    assert result["flag_statistic_chosen_by"].startswith("validation AUROC")
    standard = result["any_pixel"]["test"]
    overlap = result["scorers"]
    for name, table in (("any defect pixel", standard), ("overlap", overlap)):
        ours = table[chosen] if name != "overlap" else table[chosen]["likely"]
        base = table["baseline"] if name != "overlap" else table["baseline"]["likely"]
        assert ours["auroc"] > base["auroc"], (name, chosen, ours, base)
        assert ours["recall_at_fpr_1pct"] >= base["recall_at_fpr_1pct"], (name, chosen)
