"""The analysis report in Debian chromium (Playwright, never `playwright install`): summary first, then figures,
tables, screening and settings; no horizontal scrolling on a laptop screen; every figure drawn; a screenshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.analysis.report import analyze
from tests.analysis.paper_fixtures import study_and_evaluation

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    ratings, evaluation = study_and_evaluation(tmp)
    return analyze(ratings, out_dir=tmp / "report", evaluation=evaluation, n_resamples=500)


@pytest.mark.parametrize("viewport", [(1366, 768), (1280, 800)])
def test_report_reads_on_a_laptop(report, viewport):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(report.html.resolve().as_uri())
            headings = page.locator("h2").all_inner_texts()
            assert headings[:3] == ["Summary", "BD-rate (Bjontegaard delta)", "Figures"]
            assert headings.index("Table: MUSHRA") < headings.index("Post-screening") < len(headings) - 1
            assert headings[-1] == "Settings and versions"
            summary = page.locator(".summary").inner_text()
            assert "highest-rated codec condition" in summary and "% fewer bits" in summary
            assert "tracks the listeners best" in summary
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"horizontal scrolling: page {widths[0]} px wide in {widths[1]} px"
            figures = page.locator("figure svg")
            assert figures.count() >= 7
            for i in range(figures.count()):
                box = figures.nth(i).bounding_box()
                assert box["width"] > 200 and box["x"] + box["width"] <= viewport[0]
            out = Path(os.environ.get("MUSHRA_SCREENSHOTS", report.out_dir))
            out.mkdir(parents=True, exist_ok=True)
            shot = out / f"report_{viewport[0]}x{viewport[1]}.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 20_000
            assert not errors, errors
        finally:
            browser.close()
