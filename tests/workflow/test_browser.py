"""The HTML report in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import HOSTILE, REPO, snakemake

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


def watch(page, problems: list[str]) -> None:
    """Collect console errors, page errors, dialogs (a script that ran) and any request
    that leaves the disk (file:, data: and the review's blob: are the only ones allowed)."""
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("file:", "data:", "blob:"))
            else problems.append(f"network request: {r.url}")
        ),
    )


def screenshots(report: Path, out_dir: Path, width: int = 1280) -> dict[str, Path]:
    """Open ``report`` in Chromium; save the worklist and the first weld in the viewer,
    zoomed on its strongest finding."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": 760})
        page.goto(report.resolve().as_uri())
        shots["overview"] = out_dir / "report-overview.png"
        page.screenshot(path=shots["overview"])
        open_weld(page, report)
        if page.locator("[data-show]").count():
            page.locator("[data-show]").first.click()
            page.wait_for_timeout(1500)
            page.evaluate("window.scrollTo(0, 0)")
        shots["viewer"] = out_dir / "report-viewer.png"
        page.screenshot(path=shots["viewer"])
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
        watch(page, problems)
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
        info = json.loads((hostile_run / "results/model/supervised/info.json").read_text())
        supervised = 0 if info.get("enabled") is False else 1
        # a row per scorer: 13 thesis statistics, the residual filters, their combination,
        # the baseline, the noise-unit contrasts, the flaw detector and its two fusions, and
        # the supervised detector when there were annotated validation images to learn from
        assert len(cells) == len(metrics["scorers"])
        assert len(cells) == 13 + filters + 1 + 1 + contrast + 3 + supervised
        standard = page.locator("#any-pixel-table tbody tr").all()
        assert len(standard) == len(metrics["scorers"])  # the standard protocol's table
        assert page.locator("#scorer-glossary dt").count() == len(metrics["scorers"])
        for row in cells:  # each row shows its scorer's test AUROC as the evaluation wrote it
            values = row.locator("td").all_inner_texts()
            auroc = metrics["scorers"][values[0].split(" ◀")[0]]["likely"]["auroc"]
            assert values[3] == ("–" if auroc is None else f"{auroc:.3f}"), values
        # the worklist opens the report: every test weld, ranked by its strongest finding
        # (confidence in σ above the threshold), and a click leads to that weld
        rows = page.locator("#worklist-table tbody tr").all()
        manifest = pd.read_csv(hostile_run / "results/manifest.csv")
        assert len(rows) == (manifest["split"] == "test").sum()
        found = pd.read_csv(hostile_run / "results/findings/findings.csv")
        margins = found.groupby("image")["margin"].max()
        ranked = [r.locator("td").nth(1).locator("a").inner_text() for r in rows]
        with_findings = [w for w in ranked if w in margins.index]
        assert with_findings == sorted(with_findings, key=lambda w: -margins[w])
        assert ranked[: len(with_findings)] == with_findings  # welds without findings last
        rows[0].locator("td").last.locator("a").click()  # its crops in the Inspection section
        anchor = page.evaluate("location.hash")[1:]
        assert anchor.startswith(f"inspect-{ranked[0]}-")
        assert page.locator(f"[id='{anchor}']").is_visible()
        if len(found):  # the findings of the crops are listed with their sizes
            assert page.locator(".findings-table tbody tr").count() == len(
                found[found["image"].isin(ranked)]
            )
        # the radiograph made too grainy to judge is marked, and only it
        noisy = (hostile_run.parent / "noisy.txt").read_text()
        marked = [w for w, r in zip(ranked, rows, strict=True) if r.locator(".too-poor").count()]
        assert marked == [noisy], marked
        # the hostile file name is shown as text, nothing ran
        assert HOSTILE in page.locator("#quality-table").inner_text()
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
        for section in (
            "worklist",
            "glossary",
            "overview",
            "evaluation",
            "specialists",
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


def open_weld(page, report: Path, rank: int = 1):
    """Open the report, click the weld ranked ``rank`` in the worklist, wait for the viewer."""
    page.goto(report.resolve().as_uri())
    page.locator("#worklist-table tbody tr").nth(rank - 1).locator("a.open-weld").click()
    page.wait_for_selector("body.viewer-ready", timeout=30_000)
    page.wait_for_timeout(300)  # the first frame


def test_weld_viewer_and_review_in_a_real_browser(hostile_run, tmp_path):
    """The worklist opens the weld viewer; zoom works; the findings are outlined and can be
    switched off; a review (confirm, reject, missed defect) exports an annotations YAML
    that the workflow then evaluates with; and nothing is fetched from the network."""
    from playwright.sync_api import sync_playwright

    from weld_anomaly.ingest.manifests import load_annotations

    report = hostile_run / "results/report/report.html"
    found = pd.read_csv(hostile_run / "results/findings/findings.csv")
    assert len(found), "the tiny run has findings to review"
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        watch(page, problems)
        open_weld(page, report)
        weld = page.locator("header h1").inner_text().removeprefix("Weld ")
        mine = found[found["image"] == weld]
        assert weld == found.sort_values("margin").iloc[-1]["image"]  # the top of the list
        assert page.evaluate("location.href").endswith(".html")
        assert page.evaluate("typeof OpenSeadragon") == "function"
        # every finding outlined, on its own layer by confidence; annotations drawn apart
        outlines = page.locator(".overlay.finding")
        assert outlines.count() == len(mine)
        assert page.locator(".overlay.finding path").first.get_attribute("d").startswith("M")
        confidence = mine.iloc[0]["confidence"]
        first = page.locator(f".overlay.finding.conf-{confidence}").first
        assert first.is_visible()
        page.locator(f"input[data-layer='{confidence}']").uncheck()
        assert not first.is_visible()
        page.locator(f"input[data-layer='{confidence}']").check()
        assert first.is_visible()
        # zoom: the wheel over the image and the + button both enlarge it
        zoom = page.evaluate("weldViewer.viewport.getZoom(true)")
        box = page.locator("#viewer").bounding_box()
        # the navigator is a strip below the viewer, hiding no corner of the film
        strip = page.locator("#navigator").bounding_box()
        assert strip["y"] >= box["y"] + box["height"] - 2, (box, strip)
        assert page.evaluate("!!weldViewer.navigator && weldViewer.navigator.element.id") == (
            "navigator"
        )
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(3):  # each wheel step zooms by 1.2
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(300)
        page.wait_for_timeout(1200)
        wheel = page.evaluate("weldViewer.viewport.getZoom(true)")
        assert wheel > 1.5 * zoom, (zoom, wheel)
        page.locator("#zoom-in").click()
        page.wait_for_timeout(1500)
        assert page.evaluate("weldViewer.viewport.getZoom(true)") > 1.2 * wheel
        # each finding has its close-up (image | reconstruction | residual)
        closeups = page.locator(".findings-table img").evaluate_all(
            "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
        )
        assert closeups == [True] * len(mine)
        # the review: confirm the first finding, reject the second, add a missed defect
        page.fill("#reviewer", "A. Inspector")
        page.locator("#reviewer").dispatch_event("change")
        page.locator("input[name='decision-1'][value='confirmed']").check()
        if len(mine) > 1:
            page.locator("input[name='decision-2'][value='rejected']").check()
        page.fill("#missed-x", "10")
        page.fill("#missed-y", "12")
        page.fill("#missed-width", "20")
        page.fill("#missed-height", "8")
        page.locator("#missed-add").click()
        page.fill("#missed-x", "99999")  # outside the image: refused with a reason
        page.locator("#missed-add").click()
        assert "inside the image" in page.locator("#missed-error").inner_text()
        with page.expect_download() as download:
            page.locator("#review-export").click()
        exported = tmp_path / "review.yaml"
        download.value.save_as(exported)
        assert problems == [], problems
        browser.close()
    review = load_annotations(exported)  # the workflow's own reader
    top = mine[mine["finding"] == 1].iloc[0]
    boxes = {(a.x, a.y, a.width, a.height, a.kind) for a in review[weld]}
    assert (
        int(top.x),
        int(top.y),
        int(top.width_px),
        int(top.height_px),
        "confirmed finding 1",
    ) in boxes
    assert (10, 12, 20, 8, "missed defect") in boxes
    assert len(review[weld]) == 2  # the rejected finding is left out
    # who decided, and when: on each defect of the export (and the rejection's comment)
    text = exported.read_text()
    assert "# Reviewer: A. Inspector" in text
    entries = yaml.safe_load(text)["images"][weld]
    assert all(e["reviewed_by"] == "A. Inspector" for e in entries), entries
    assert all(e["reviewed_at"].startswith("20") for e in entries), entries
    if len(mine) > 1:
        assert "# rejected finding 2:" in text and "by A. Inspector at 20" in text
    # ... and the workflow evaluates with it (merged into the run's annotations)
    data = yaml.safe_load((hostile_run / "config/test.yaml").read_text())["data"]
    merged = yaml.safe_load(Path(data["annotations"]).read_text())
    merged["images"].update(yaml.safe_load(exported.read_text())["images"])
    Path(data["annotations"]).write_text(yaml.safe_dump(merged))
    run = snakemake(
        hostile_run, "results/metrics/evaluation.json", "--workflow-profile", "profiles/test"
    )
    assert "evaluate" in run.stdout + run.stderr
