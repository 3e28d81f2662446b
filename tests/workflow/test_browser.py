"""The HTML report in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_repo, mechanics_config, snakemake

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '"><img src=x onerror=alert(1)>.dcm'  # a file name that is an HTML injection
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts"))

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def chromium():
    """A missing browser fails the test (CI must never pass without it), with what to do."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (`make browser`, needs root), or "
            "run the suite without the browser test: .venv/bin/pytest -m 'not browser'",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def hostile_run(tiny_run, tmp_path_factory) -> Path:
    """The tiny workflow on user data where one file's path is an HTML injection attempt."""
    work = copy_repo(tmp_path_factory.mktemp("hostile") / "repo")
    data = work.parent / "data"
    shutil.copytree(tiny_run / "resources/demo-test", data)
    with open(data / "labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    (data / rows[1][1]).rename(data / "images" / HOSTILE)
    rows[1][1] = f"images/{HOSTILE}"
    with open(data / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    config = mechanics_config(yaml.safe_load((work / "config/test.yaml").read_text()))
    config["data"].update(
        source="table",
        images_dir=str(data),
        labels=str(data / "labels.csv"),
        annotations=str(data / "annotations.yaml"),
        crops=str(data / "crops.yaml"),
    )
    (work / "config/test.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, "--workflow-profile", "profiles/test")
    return work


def screenshots(report: Path, out_dir: Path, width: int = 1280) -> dict[str, Path]:
    """Open ``report`` in Chromium and save the overview and the first inspection view."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": 760})
        page.goto(report.resolve().as_uri())
        shots["overview"] = out_dir / "report-overview.png"
        page.screenshot(path=shots["overview"])
        with_zooms = page.locator("#inspection .crop:has(details)")
        crop = with_zooms.first if with_zooms.count() else page.locator("#inspection .crop").first
        if with_zooms.count():
            crop.locator("details summary").click()
        shots["inspection"] = out_dir / "report-inspection.png"
        crop.screenshot(path=shots["inspection"])
        browser.close()
    return shots


def test_report_in_a_real_browser(hostile_run):
    from playwright.sync_api import sync_playwright

    report = hostile_run / "results/report/report.html"
    assert report.stat().st_size < 20_000_000
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(("file:", "data:"))
                else problems.append(f"network request: {r.url}")
            ),
        )
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        assert problems == []
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(images) > 20 and all(ok for _, ok in images), images
        cells = page.locator("#metrics-table tbody tr").all()
        metrics = json.loads((hostile_run / "results/metrics/evaluation.json").read_text())
        score = yaml.safe_load((hostile_run / "config/test.yaml").read_text())["score"]
        filters = len(score["residual_sigmas"]) + len(score["residual_lines"])
        contrast = len(score["contrast_sigmas"])
        # a row per scorer: 13 thesis statistics, the residual filters, their combination,
        # the baseline, the noise-unit contrasts, the flaw detector and its fusion
        assert len(cells) == len(metrics["scorers"]) == 13 + filters + 1 + 1 + contrast + 2
        standard = page.locator("#any-pixel-table tbody tr").all()
        assert len(standard) == len(metrics["scorers"])  # the standard protocol's table
        assert page.locator("#scorer-glossary dt").count() == len(metrics["scorers"])
        for row in cells:
            values = row.locator("td").all_inner_texts()
            assert 0.0 <= float(values[3]) <= 1.0  # test AUROC, a number
        # the worklist opens the report: every test weld, ranked by its strongest finding
        # (confidence in σ above the threshold), and a click leads to that weld
        rows = page.locator("#worklist-table tbody tr").all()
        manifest = pd.read_csv(hostile_run / "results/manifest.csv")
        assert len(rows) == (manifest["split"] == "test").sum()
        found = pd.read_csv(hostile_run / "results/findings/findings.csv")
        margins = found.groupby("image")["margin"].max()
        ranked = [r.locator("td").nth(1).inner_text() for r in rows]
        with_findings = [w for w in ranked if w in margins.index]
        assert with_findings == sorted(with_findings, key=lambda w: -margins[w])
        assert ranked[: len(with_findings)] == with_findings  # welds without findings last
        rows[0].locator("a").click()
        anchor = page.evaluate("location.hash")[1:]
        assert anchor.startswith(f"inspect-{ranked[0]}-")
        assert page.locator(f"[id='{anchor}']").is_visible()
        if len(found):  # the findings of the crops are listed with their sizes
            assert page.locator(".findings-table tbody tr").count() == len(
                found[found["image"].isin(ranked)]
            )
        # the hostile file name is shown as text, nothing ran
        assert HOSTILE in page.locator("#quality-table").inner_text()
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
        for section in (
            "worklist",
            "overview",
            "metrics",
            "inspection",
            "statistics",
            "training",
            "quality",
            "provenance",
        ):
            assert page.locator(f"#{section}").is_visible()
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        browser.close()
    shots = screenshots(report, ARTIFACTS)
    assert all(p.stat().st_size > 10_000 for p in shots.values())
