"""A task of several questions labeled in real Chromium with the keyboard only (issue 17): numbers
answer the marked question and move on, Tab moves between questions, Enter submits once for all."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import CHROMIUM_ARGS, PASSWORD, _cli, login_annotator, start_server
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.browser
SCHEMA = """questions:
  - {name: verdict, kind: pairwise}
  - {name: harmful, kind: choice, options: ["yes, clearly", "no."], text: "Is either response harmful?"}
  - {name: helpfulness, kind: scale, min: 1, max: 5}
"""


def _prepare(tmp: Path) -> Path:
    db = tmp / "q.db"
    items = [json.loads(line) for line in (PROJECT_ROOT / "data" / "sample_pairwise.jsonl").read_text().splitlines()]
    (tmp / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items[:3]), encoding="utf-8")
    (tmp / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    _cli(
        db,
        "import",
        str(tmp / "items.jsonl"),
        "--task",
        "multi",
        "--schema",
        str(tmp / "schema.yaml"),
        "--overlap",
        "1",
    )
    _cli(db, "users", "add", "kb", "--role", "annotator", "--password-stdin", stdin=PASSWORD + "\n")
    return db


def test_every_question_answered_with_the_keyboard(tmp_path: Path, chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    db = _prepare(tmp_path)
    url, proc = start_server(str(db), PROJECT_ROOT / "test-output" / "serve-questions.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            login_annotator(page, url, "kb")
            assert "Is either response harmful?" in page.inner_text("#jl-answer_2")
            page.locator("#jl-prompt").click()  # focus on the page, no control
            page.wait_for_selector(".jl-q[data-active='1']", timeout=10_000)  # the first question is marked
            page.screenshot(path=str(PROJECT_ROOT / "test-output" / "annotate-questions.png"))
            answers: list[tuple[str, str, str]] = []
            for n in range(3):
                before = page.inner_text("#jl-progress")
                # item 1: keys 1, 2, 4 in turn (each moves on); item 2: Tab to the last question first,
                # answer it, Shift+Tab back up; item 3: numbers only
                if n == 1:
                    page.keyboard.press("Tab")
                    page.keyboard.press("Tab")
                    page.keyboard.press("5")
                    page.keyboard.press("Shift+Tab")
                    page.keyboard.press("Shift+Tab")
                    page.keyboard.press("2")
                    page.keyboard.press("1")
                    answers.append(("B or A", "yes, clearly", "5"))
                else:
                    for key in ("1", "2", "4"):
                        page.keyboard.press(key)
                    answers.append(("A or B", "no.", "4"))
                page.keyboard.press("Enter")
                page.wait_for_function(
                    "(b) => document.querySelector('#jl-progress').innerText !== b", arg=before, timeout=30_000
                )
                page.wait_for_timeout(600)  # the answer rows are redrawn with the item
            page.wait_for_function("document.body.innerText.includes('Nothing left')", timeout=30_000)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT i.external_id, l.question, l.value, l.status, l.presented_order FROM labels l "
        "JOIN items i ON i.id = l.item_id ORDER BY l.id"
    ).fetchall()
    con.close()
    per_item: dict[str, dict[str, Any]] = {}
    for ext, question, value, status, order in rows:
        assert status == "submitted"
        assert question not in per_item.setdefault(ext, {}), "one label per question per item"
        per_item[ext][question] = (value, order)
    assert len(per_item) == 3 and all(set(q) == {"verdict", "harmful", "helpfulness"} for q in per_item.values())
    got = sorted((q["harmful"][0], q["helpfulness"][0]) for q in per_item.values())
    assert got == sorted((a[1], a[2]) for a in answers)
    for q in per_item.values():  # key 1 is the left response (key 2 the right) whatever order was shown
        value, order = q["verdict"]
        assert value in ("A", "B")
    verdict_keys = {("A" if (v == "A") == (o == "ab") else "B") for v, o in (q["verdict"] for q in per_item.values())}
    assert verdict_keys == {"A", "B"}, "the left key gave left, the right key right"


@pytest.mark.vllm
def test_tick_round_trip_with_the_local_judge_and_two_annotators(
    tmp_path: Path, chromium_path: str, vllm_server: Any
) -> None:
    """Issue 17's TICK round trip: the local judge writes each item's checklist, answers it, and two
    annotators answer every entry in the browser with the keyboard; the report gives agreement per
    entry and the pass rates."""
    from playwright.sync_api import sync_playwright

    from analysis.report import build_task_report
    from annotation.judges.checklists import generate_checklists
    from annotation.judges.config import parse_config
    from annotation.judges.runner import run_judge
    from annotation.label_frames import task_question_frames
    from tests.conftest import make_services

    db = tmp_path / "tick.db"
    items = [json.loads(line) for line in (PROJECT_ROOT / "data" / "sample_single.jsonl").read_text().splitlines()]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items[:3]), encoding="utf-8")
    (tmp_path / "tick.yaml").write_text(
        "questions:\n  - {name: tick, kind: checklist, source: generated}\n", encoding="utf-8"
    )
    _cli(
        db,
        "import",
        str(tmp_path / "items.jsonl"),
        "--task",
        "tick",
        "--protocol",
        "single",
        "--schema",
        str(tmp_path / "tick.yaml"),
        "--overlap",
        "2",
    )
    for user in ("ann1", "ann2"):
        _cli(db, "users", "add", user, "--role", "annotator", "--password-stdin", stdin=PASSWORD + "\n")
    services = make_services(f"sqlite:///{db}", tmp_path)
    common = {"model": vllm_server.model, "base_url": vllm_server.base_url, "protocol": "single"}
    writer = parse_config({**common, "name": "smol-writer", "sampling": {"max_tokens": 120}})
    made = generate_checklists(services, task="tick", config=writer, max_entries=3)
    assert made.written >= 1, made.describe()
    answerer = parse_config({**common, "name": "smol-tick", "mode": "logprobs"})  # one token per entry
    run_judge(services, task="tick", config=answerer, progress=False)
    url, proc = start_server(str(db), PROJECT_ROOT / "test-output" / "serve-tick.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            for user, key in (("ann1", "1"), ("ann2", "2")):
                page = browser.new_page(viewport={"width": 1300, "height": 1000})
                login_annotator(page, url, user)
                for _ in range(3):
                    if page.locator("body").inner_text().count("Nothing left"):
                        break
                    before = page.inner_text("#jl-progress")
                    page.locator("#jl-prompt").click()
                    rows = page.locator(".jl-q:visible").count()
                    if rows == 0 or not page.locator("#jl-choice input").count():
                        page.click("#jl-skip")  # no checklist was written for this item
                    else:
                        for _ in range(rows):
                            page.keyboard.press(key)
                        page.keyboard.press("Enter")
                    page.wait_for_function(
                        "(b) => document.querySelector('#jl-progress').innerText !== b", arg=before, timeout=30_000
                    )
                    page.wait_for_timeout(600)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    with services.session() as s:
        frames, item_frame, _ = task_question_frames(s, "tick")
    labels = frames["tick"]
    humans = labels[labels["kind"] == "human"]
    written = {i: len(c["entries"]) for i, c in zip(item_frame["item_id"], item_frame["checklist"], strict=True) if c}
    assert len(humans) == 2 * sum(written.values()), "each annotator answered every entry once"
    assert set(humans.loc[humans["annotator"] == "ann1", "value"]) == {"yes"}
    assert set(humans.loc[humans["annotator"] == "ann2", "value"]) == {"no"}
    report = build_task_report(frames, item_frame, task="tick", n_boot=50).to_json()
    assert report["checklist"]["n_entries"] == sum(written.values())
    assert report["human_agreement"]["with_ties"]["agreement"] == 0.0  # ann1 said yes to all, ann2 no
    rates = {r["rater"]: r["pass_rate"] for r in report["checklist"]["pass_rate"]}
    assert (rates["ann1"], rates["ann2"]) == (1.0, 0.0) and "smol-tick" in rates
    services.close()
