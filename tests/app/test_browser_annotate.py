"""The annotator page in real Chromium (Debian's, driven by Playwright; never `playwright install`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from app.annotate import choice_to_value
from tests.app.conftest import CHROMIUM_ARGS, INDENTED_CODE, PASSWORD, RunningApp, open_view
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "test-output"


def _login(page: Any, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#jl-left", timeout=30_000)
    page.wait_for_function("document.querySelector('#jl-progress').innerText.includes('for you')", timeout=30_000)


def _item_text(page: Any) -> str:
    return page.inner_text("#jl-prompt")


def test_label_five_items_with_the_keyboard(running_app: RunningApp, chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        _login(page, running_app.url, "ann1")

        # the first task (a-hostile) carries script tags, an onerror image and a javascript: link
        left, right = page.inner_text("#jl-left"), page.inner_text("#jl-right")
        shown = left + right
        assert "<script>" in _item_text(page) and "<img src=x onerror=alert(1)>" in shown
        assert page.locator("#jl-left img, #jl-right img, #jl-prompt script").count() == 0
        hrefs = page.eval_on_selector_all("#jl-left a, #jl-right a", "els => els.map(e => e.getAttribute('href'))")
        assert not any((h or "").strip().lower().startswith("javascript:") for h in hrefs), hrefs
        # an indented code block reaches the page as a code block, not dedented into prose
        code = page.locator("#jl-left pre, #jl-right pre")
        assert code.count() == 1 and "x = 1 + 1\nprint(x)" in code.inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1400 + 20, "a long unbroken line broke the layout"
        page.screenshot(path=str(SHOTS / "annotate-hostile.png"))

        # switch to the main task with the dropdown, then use the keyboard only
        page.locator("#component-2 input, input[aria-label='Task']").first.click()
        page.get_by_role("option", name="b-main").click()
        page.wait_for_function(
            "document.querySelector('#jl-progress').innerText.includes('/183 labels')", timeout=30_000
        )
        page.screenshot(path=str(SHOTS / "annotate.png"))
        answers = ["1", "2", "3", "1", "4"]
        seen = []
        for n, key in enumerate(answers, start=1):
            seen.append(_item_text(page))
            page.locator("body").press(key)
            page.keyboard.press("Enter")
            page.wait_for_function(
                "(n) => document.querySelector('#jl-progress').innerText.includes(n + ' done')", arg=n, timeout=30_000
            )
            page.wait_for_function(
                "(p) => document.querySelector('#jl-prompt').innerText !== p", arg=seen[-1], timeout=30_000
            )
        # back twice (to the 4th item), change its answer from 1 to 2 with the keyboard
        page.keyboard.press("Backspace")
        page.wait_for_function(
            "(p) => document.querySelector('#jl-prompt').innerText === p", arg=seen[4], timeout=30_000
        )
        page.keyboard.press("Backspace")
        page.wait_for_function(
            "(p) => document.querySelector('#jl-prompt').innerText === p", arg=seen[3], timeout=30_000
        )
        assert page.locator("#jl-choice input[type=radio]:checked").count() == 1  # the old answer is shown
        page.locator("body").press("2")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(p) => document.querySelector('#jl-prompt').innerText !== p", arg=seen[3], timeout=30_000
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / "annotate-after.png"))
        browser.close()
    assert dialogs == [], f"a script ran: {dialogs}"

    with sqlite3.connect(running_app.db) as conn:
        rows = conn.execute(
            "SELECT l.value, l.presented_order, i.prompt, l.status FROM labels l JOIN items i ON i.id = l.item_id "
            "JOIN annotators a ON a.id = l.annotator_id WHERE a.name = 'ann1' ORDER BY l.id"
        ).fetchall()
        edits = conn.execute("SELECT count(*) FROM label_events").fetchone()[0]
    assert len(rows) == 5 and edits == 1
    names = {"1": "Left is better", "2": "Right is better", "3": "Tie", "4": "Both are bad"}
    final = [*answers[:3], "2", answers[4]]
    for (value, order, _prompt, status), key in zip(rows, final, strict=True):
        assert status == "submitted"
        assert value == choice_to_value(names[key], order)  # left/right turned into the item's A/B frame


def test_item_view_is_sent_as_written(running_app: RunningApp) -> None:
    """The responses reach the page as written, rendered by the escape-first renderer: no dedent, no
    trimming (an indented code block stays a code block, not prose)."""
    from app.page_client import PageClient
    from app.render import safe_markdown

    view = open_view(PageClient(running_app.url, "adam", PASSWORD))
    left, right = view[4], view[5]
    assert safe_markdown(INDENTED_CODE) in (left, right)
    assert "<pre><code>x = 1 + 1\nprint(x)" in safe_markdown(INDENTED_CODE)


def test_annotator_cannot_call_researcher_endpoint(running_app: RunningApp) -> None:
    from gradio_client import Client

    annotator = Client(running_app.url, auth=("ann2", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="may not"):
        annotator.predict("b-main", api_name="/task_progress")
    researcher = Client(running_app.url, auth=("rita", PASSWORD), verbose=False)
    rows = researcher.predict("b-main", api_name="/task_progress")
    assert isinstance(rows, dict) and "data" in rows


def test_a_focused_control_and_a_hidden_tab_are_not_shortcuts(running_app: RunningApp, chromium_path: str) -> None:
    """Issue 16, 1 and 2: with an answer chosen, a skip reason typed and Skip focused, Enter skips (it
    submitted the answer before); keys pressed on the Dashboard tab label nothing (they labeled the
    hidden Annotate item)."""
    from playwright.sync_api import sync_playwright

    def labels() -> list[tuple[str, str | None, str | None]]:
        with sqlite3.connect(running_app.db) as conn:
            return conn.execute(
                "SELECT l.status, l.value, l.metadata FROM labels l JOIN annotators a ON a.id = l.annotator_id "
                "WHERE a.name = 'ann2' ORDER BY l.id"
            ).fetchall()

    before = labels()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _login(page, running_app.url, "ann2")
        shown = _item_text(page)
        page.locator("body").press("1")  # an answer chosen
        page.locator("#jl-skip-reason textarea, #jl-skip-reason input").first.fill("unreadable")
        page.locator("#jl-skip").focus()
        page.keyboard.press("Enter")
        page.wait_for_function("(p) => document.querySelector('#jl-prompt').innerText !== p", arg=shown, timeout=30_000)
        after_skip = labels()
        page.get_by_role("tab", name="Dashboard (researchers)").click()
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_timeout(1500)
        browser.close()
    new = after_skip[len(before) :]
    assert len(new) == 1 and new[0][0] == "skipped" and "unreadable" in (new[0][2] or ""), new
    assert labels() == after_skip  # nothing labeled from the Dashboard
