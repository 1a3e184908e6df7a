"""Who may call what: every event of the app (Gradio exposes each one as an API endpoint, callable
by ``fn_index`` even when it has no API name) against every role, through the page's protocol.

A refused call is an error that says the user may not do it (or is not logged in); an allowed call
gets past the role check (it may still fail for another reason, e.g. a bad judge config)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from annotation.models import Annotator, Item, Label, Task
from app.page_client import PageClient, PageError
from tests.app.conftest import PASSWORD, RunningApp, chosen_item
from tests.conftest import PROJECT_ROOT, make_services

ANYONE = {"ann1", "rita", "adam"}
RESEARCH = {"rita", "adam"}
ADMIN = {"adam"}
REFUSED = ("may not", "not logged in")

# endpoint -> (arguments, who may call it); ITEM is replaced by the caller's shown item id
ITEM = object()
TABLE: dict[str, tuple[tuple[Any, ...], set[str]]] = {
    "ping": ((), ANYONE),
    "open": ((), ANYONE),
    "choose_task": (("b-main",), ANYONE),
    "submit": ((ITEM, "Tie", "", None), ANYONE),
    "skip": ((ITEM, "access test"), ANYONE),
    "back": ((ITEM,), ANYONE),
    "task_progress": (("b-main",), RESEARCH),
    "judge_runs": (("b-main",), RESEARCH),
    "dashboard": (("b-main", "", ""), RESEARCH),
    "dashboard_tick": (("b-main", "", ""), RESEARCH),
    "dashboard_auto": ((False,), RESEARCH),
    "start_judge": (("b-main", "just: [not, a, judge]", None), ADMIN),  # allowed, then refused as a config
    "cancel_judge": ((987654,), ADMIN),  # allowed, then "no running judge run"
    "judge_configs": ((), ADMIN),  # the operator's judge configs (names only)
    "history": ((), ANYONE),
    "revisit": ((ITEM,), ANYONE),  # allowed, then "not in your history"
    "progress_task": (("b-main",), RESEARCH),
    "dashboard_task": (("b-main", "", ""), RESEARCH),
    "dashboard_question": (("b-main", "", "", None), RESEARCH),
    "record_judge_filter": (("(all)", "(all)"), RESEARCH),
    "record_category_filter": (("(all)", "(all)"), RESEARCH),
    "record_previous": (("(all)", "(all)", 0), RESEARCH),
    "record_next": (("(all)", "(all)", 0), RESEARCH),
    "record_row": (("(all)", "(all)"), RESEARCH),
    # what the page runs after opening and when a tab comes on screen: the tab's own handler; the
    # researcher's pickers and the first dashboard give an annotator nothing (SILENT, checked below)
    # rather than an error on their page
    "research_pickers": ((), ANYONE),
    "dashboard_first": (("b-main", "", ""), ANYONE),
    "annotate_shown": (("b-main",), ANYONE),
    "progress_shown": (("b-main",), RESEARCH),
    "dashboard_shown": (("b-main", "", ""), ANYONE),
}
# the select data a page sends with these events (the tab brought on screen, the row clicked)
EVENT_DATA = {
    "record_row": {"index": [0, 0], "value": "x"},
    "annotate_shown": {"id": "annotate", "index": 0, "value": "Annotate"},
    "progress_shown": {"id": "progress", "index": 1, "value": "Progress"},
    "dashboard_shown": {"id": "dashboard", "index": 2, "value": "Dashboard"},
}
SILENT = ("research_pickers", "dashboard_first", "dashboard_shown")


def _outcome(client: PageClient, name: str, args: tuple[Any, ...], item: Any) -> str:
    try:
        client.call(name, *(item if a is ITEM else a for a in args), event_data=EVENT_DATA.get(name))
    except PageError as exc:
        return "refused" if any(word in str(exc) for word in REFUSED) else "allowed"
    return "allowed"


def test_every_endpoint_for_every_role(running_app: RunningApp) -> None:
    clients = {user: PageClient(running_app.url, user, PASSWORD) for user in ANYONE}
    endpoints = set(clients["ann1"].endpoints)
    assert endpoints == set(TABLE), f"endpoints without an access rule: {endpoints ^ set(TABLE)}"
    assert not [e for e in endpoints if "export" in e], "exports are CLI-only"
    items = {user: chosen_item(c.call("choose_task", "b-main")) for user, c in clients.items()}
    failures = []
    for name, (args, allowed) in TABLE.items():
        for user, client in clients.items():
            got = _outcome(client, name, args, items[user])
            want = "allowed" if user in allowed else "refused"
            if got != want:
                failures.append(f"{name} as {user}: {got}, should be {want}")
    assert failures == []
    # a refusal is one line in the server's log, not a traceback (issue 16, 13)
    log = (PROJECT_ROOT / "test-output" / "serve.log").read_text(errors="replace")
    assert "may not do this" in log and "Traceback" not in log, log[-2000:]
    for name in SILENT:  # an annotator gets no data from them: every output unchanged
        args = TABLE[name][0]
        out = clients["ann1"].call(name, *args, event_data=EVENT_DATA.get(name))
        assert all(o is None or (isinstance(o, dict) and "value" not in o) for o in out), name


def test_no_login_no_event_and_no_files(running_app: RunningApp) -> None:
    """Without the login cookie, no event is accepted (by name or by index) and no file is served;
    logged in, the database file still is not."""
    config = PageClient(running_app.url, "ann1", PASSWORD)
    anonymous = httpx.Client(base_url=running_app.url, timeout=30)
    for index in range(len(config.http.get("/config").json()["dependencies"])):
        body = {"data": [], "fn_index": index, "session_hash": "anon123", "event_data": None, "trigger_id": None}
        response = anonymous.post("/gradio_api/queue/join", json=body)
        assert response.status_code in (401, 403), (index, response.status_code)
    assert anonymous.get("/config").status_code in (401, 403)
    for client in (anonymous, config.http):
        response = client.get(f"/gradio_api/file={running_app.db}")
        assert response.status_code in (401, 403, 404), response.status_code
        assert b"SQLite format" not in response.content


def test_annotator_stays_in_their_lane(running_app: RunningApp, tmp_path: Any) -> None:
    """An item id from another task is refused; the label goes to the session's user, whatever
    the request says; what an annotator gets back never holds another rater's label or rationale."""
    ann = PageClient(running_app.url, "ann2", PASSWORD)
    view = ann.call("choose_task", "b-main")
    services = make_services(f"sqlite:///{running_app.db}", tmp_path)
    with services.session() as session:
        other = session.scalars(select(Item.id).join(Task).where(Task.name == "a-hostile")).first()
    with pytest.raises(PageError, match="not part of the task"):
        ann.call("submit", other, "Tie", "", None)
    shown = chosen_item(view)
    texts = [str(x) for x in ann.call("submit", shown, "Tie", "judge says", None)]
    texts += [str(x) for x in ann.call("back", None)]
    with services.session() as session:
        who = (
            session.execute(
                select(Annotator.name).join(Label, Label.annotator_id == Annotator.id).where(Label.item_id == shown)
            )
            .scalars()
            .all()
        )
        others = (
            session.execute(
                select(Label.rationale).join(Annotator).where(Annotator.name != "ann2", Label.rationale.is_not(None))
            )
            .scalars()
            .all()
        )
    services.close()
    assert "ann2" in who
    blob = "\n".join(texts)
    assert others and not [r for r in others if r in blob], "another rater's rationale reached an annotator"
    assert "judge<b>x</b>" not in blob and "expert0" not in blob


@pytest.mark.parametrize(
    ("event", "args", "field"),
    [
        ("submit", ("abc", "Tie", "", None), "item"),
        ("submit", (1.5, "Tie", "", None), "item"),
        ("submit", (None, ["Tie"], "", None), "answer"),
        ("submit", (None, "Tie", {"why": 1}, None), "rationale"),
        ("submit", (None, "Tie", "", "9"), "confidence"),
        ("submit", (None, "Left is better", "", 0), "confidence"),
        ("skip", (None, 5), "reason"),
        ("back", ([1],), "item"),
    ],
)
def test_answer_events_name_the_wrong_field(
    running_app: RunningApp, event: str, args: tuple[Any, ...], field: str
) -> None:
    """The answer events read the page's raw values (Gradio's preprocessing is off for them): a
    wrong type or value is refused with the field's name, and nothing is written."""
    import sqlite3

    client = PageClient(running_app.url, "ann1", PASSWORD)
    shown = chosen_item(client.call("choose_task", "b-main"))
    args = tuple(shown if a is None and n == 0 else a for n, a in enumerate(args))
    with sqlite3.connect(running_app.db) as conn:
        before = conn.execute("SELECT count(*), (SELECT count(*) FROM label_events) FROM labels").fetchone()
    with pytest.raises(PageError, match=f"field '{field}'"):
        client.call(event, *args)
    with sqlite3.connect(running_app.db) as conn:
        assert conn.execute("SELECT count(*), (SELECT count(*) FROM label_events) FROM labels").fetchone() == before
