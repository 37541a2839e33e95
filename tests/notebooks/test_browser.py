"""The rendered report in headless Chromium: headings and charts visible (skipped without it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.notebooks,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def test_report_headings_and_charts_visible_in_chromium(cli_report: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(cli_report.resolve().as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "Suite report"
            assert page.locator("h1", has_text="Suite report").is_visible()
            h2 = page.locator("h2")
            names = [h2.nth(i).inner_text().strip(" ¶") for i in range(h2.count())]
            for name in ("Active users", "Retention", "Funnel", "Revenue", "Experiments"):
                assert name in names
                assert h2.nth(names.index(name)).is_visible()
            images: list[dict[str, Any]] = page.evaluate(
                """() => Array.from(document.images).map(img => {
                       const r = img.getBoundingClientRect();
                       return {complete: img.complete, w: img.naturalWidth,
                               h: img.naturalHeight, shownW: r.width, shownH: r.height};
                   })"""
            )
            assert len(images) >= 12
            for img in images:
                assert img["complete"] and img["w"] > 100 and img["h"] > 100, img
                assert img["shownW"] > 100 and img["shownH"] > 50, img
            # Each chart can be scrolled into view and is then in the viewport.
            last = page.locator("img").last
            last.scroll_into_view_if_needed()
            assert last.is_visible()
            shot = Path(os.environ.get("LPN_REPORT_SCREENSHOT", tmp_path / "report.png"))
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()
    # Self-contained: the page asked for nothing but itself and its data: URIs.
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


@pytest.mark.parametrize("width", [1400, 1024])
def test_report_is_one_centred_column_with_charts_as_wide_as_it(
    cli_report: Path, width: int
) -> None:
    """nbconvert left every chart at its pixel width, flush left (an 810 px strip in a
    1400 px window). The report is one centred column, each chart fills it, sharp (drawn at
    twice the size it is shown), and nothing runs off a 1024 px window."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(cli_report.resolve().as_uri())
            page.wait_for_load_state("load")
            box: dict[str, float] = page.evaluate(
                """() => {
                    const r = document.body.getBoundingClientRect();
                    return {left: r.left, right: window.innerWidth - r.right, width: r.width,
                            scroll: document.documentElement.scrollWidth,
                            inner: window.innerWidth};
                }"""
            )
            images: list[dict[str, float]] = page.evaluate(
                """() => Array.from(document.images).map(img => ({
                       shown: img.getBoundingClientRect().width, natural: img.naturalWidth}))"""
            )
        finally:
            browser.close()
    assert box["scroll"] <= box["inner"], box  # no horizontal scrolling
    assert abs(box["left"] - box["right"]) <= 2, box  # centred
    assert box["width"] <= 1080 + 1
    if width >= 1200:
        assert box["left"] > 100, box  # a column, not the whole window
    assert len(images) >= 12
    for img in images:
        assert img["shown"] >= 0.9 * (box["width"] - 40), (img, box)
        assert img["natural"] >= 1.4 * img["shown"], img  # drawn larger than shown: sharp
