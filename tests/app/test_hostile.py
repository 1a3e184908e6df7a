"""Hostile content (script tags, event-handler attributes, javascript: links, very long unbroken
lines) in prompts, responses, rationales and rater names stays inert and readable in real Chromium:
on the dashboard (headline, disagreement browser) and in the HTML report. The annotator page's
share of this is in test_browser_annotate.py (task a-hostile)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from annotation.accounts import add_user
from annotation.ingest import import_file
from app.cli import main
from tests.app.conftest import CHROMIUM_ARGS, PASSWORD, open_dashboard, start_server
from tests.conftest import PROJECT_ROOT, make_services

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "test-output"
ATTACK = (
    '<img src=x onerror=alert(1)> <script>alert(2)</script> <a href="javascript:alert(3)">link</a> '
    '[md link](javascript:alert(4)) <svg onload=alert(5)></svg> <iframe src="javascript:alert(6)"></iframe> '
    + "w"
    * 4000
)
WIDTH = 1300


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "hostile.db"
    items = [
        {"id": f"h{i}", "prompt": f"<script>alert('p{i}')</script> {ATTACK}", "response_a": ATTACK, "response_b": "ok"}
        for i in range(4)
    ]
    labels = []
    for i in range(4):
        for k, vote in enumerate(["A", "B", "A"] if i % 2 else ["B", "B", "A"]):
            labels.append({"item_id": f"h{i}", "annotator": f"expert{k}", "value": vote, "rationale": ATTACK})
        labels.append(
            {
                "item_id": f"h{i}",
                "annotator": "<b onmouseover=alert(7)>judge</b>",
                "annotator_kind": "llm_judge",
                "value": "B" if i % 2 else "A",
                "rationale": ATTACK,
                "probabilities": {"A": 0.3, "B": 0.6, "tie": 0.1},
            }
        )
    (tmp / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (tmp / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    services = make_services(f"sqlite:///{db}", tmp)
    with services.session() as session:
        import_file(session, tmp / "items.jsonl", task="h")
        import_file(session, tmp / "labels.jsonl", task="h", fmt="labels")
        add_user(session, "rita", role="researcher", password=PASSWORD)
    services.close()
    url, proc = start_server(str(db), SHOTS / "serve-hostile.log")
    yield url, db
    proc.terminate()
    proc.wait(timeout=20)


def _inert(page: Any, dialogs: list[str]) -> None:
    """Nothing ran, nothing became an element, no javascript: link, no horizontal overflow."""
    page.wait_for_timeout(500)  # give an injected handler the chance to fire
    assert dialogs == [], f"a script ran: {dialogs}"
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("img[src='x'], svg[onload], iframe[src^='javascript'], b[onmouseover]").count() == 0
    hrefs = page.eval_on_selector_all("a", "els => els.map(e => (e.getAttribute('href') || '').trim().toLowerCase())")
    assert not [h for h in hrefs if h.startswith("javascript:")], hrefs
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH + 20, f"a long unbroken line widened the page to {width}px"


def test_dashboard_shows_hostile_content_as_text(hostile_app: tuple[str, Path], chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = hostile_app
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 1200})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_dashboard(page, url, "rita", "h")
        page.wait_for_function(
            "document.querySelector('#jl-record') && "
            "document.querySelector('#jl-record').innerText.includes('onerror=alert(1)')",
            timeout=60_000,
        )
        assert "<b onmouseover=alert(7)>judge</b>" in page.inner_text("#jl-headline")
        assert "<b onmouseover=alert(7)>judge</b>" in page.inner_text("#jl-disagreements")
        # the record view shows the item's prompt, with its script tag, as text
        assert re.search(r"<script>alert\('p\d'\)</script>", page.inner_text("#jl-record"))
        _inert(page, dialogs)
        page.screenshot(path=str(SHOTS / "dashboard-hostile.png"), full_page=True)
        browser.close()


def test_html_report_shows_hostile_content_as_text(
    hostile_app: tuple[str, Path], chromium_path: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    _, db = hostile_app
    out = tmp_path / "report.html"
    assert main(["--db", str(db), "report", "--task", "h", "--n-boot", "100", "--html", str(out)]) == 0
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 1200})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        assert "<b onmouseover=alert(7)>judge</b>" in page.inner_text("body")
        _inert(page, dialogs)
        browser.close()
