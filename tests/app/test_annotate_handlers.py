"""The annotator page's handlers without a browser, and assignment, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from annotation.accounts import add_user
from annotation.assignment import next_item, presented_order
from annotation.catalog import get_task
from annotation.errors import AccessError
from annotation.ingest import import_file
from annotation.models import Label, LabelEvent
from annotation.services import Services
from app import annotate
from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"


def _setup(services: Services, overlap: int = 3, users: int = 5, path: Path = SAMPLE) -> list[str]:
    with services.session() as s:
        import_file(s, path, task="t", overlap=overlap)
        for i in range(users):
            add_user(s, f"ann{i}", role="annotator", password="tulip-orbit-canyon-42")
        add_user(s, "rita", role="researcher", password="tulip-orbit-canyon-42")
    return [f"ann{i}" for i in range(users)]


def test_submit_skip_back_and_edit(services: Services) -> None:
    _setup(services, users=1)
    view = annotate.open_task(services, "ann0", "t")
    assert view.item_id is not None and view.choices[:2] == ["Left is better", "Right is better"]
    first = view.item_id
    view = annotate.submit(services, "ann0", "t", first, "Left is better", shown_at=view.shown_at)
    second = view.item_id
    assert second not in (None, first)
    view = annotate.skip(services, "ann0", "t", second, "unclear prompt")
    back = annotate.back(services, "ann0", "t", view.item_id)
    assert back.item_id == second
    back = annotate.back(services, "ann0", "t", second)
    assert back.item_id == first and back.current == "Left is better"
    annotate.submit(services, "ann0", "t", first, "Tie")
    with services.session() as s:
        labels = {lab.item_id: lab for lab in s.scalars(select(Label))}
        events = s.scalars(select(LabelEvent)).all()
        ann = s.scalars(select(Label.annotator_id)).first()
    assert labels[first].value == "tie" and labels[first].presented_order == presented_order(ann, first)
    assert labels[second].status == "skipped" and labels[second].meta == {
        "reason": "unclear prompt",
        "selection": "queue",
    }
    left_value = annotate.choice_to_value("Left is better", presented_order(ann, first))
    assert [(e.old_value, e.new_value, e.changed_by) for e in events] == [(left_value, "tie", "ann0")]


def test_history_goes_forward_after_a_change_and_reopens_any_item(services: Services) -> None:
    """Issue 16, 9, on both databases: after changing an earlier answer the next view is the item
    answered after it (then new items); the history lists answered and skipped items, newest first,
    and reopens one with its answer; an item outside the history is refused."""
    _setup(services, users=1)
    view = annotate.open_task(services, "ann0", "t")
    order = []
    for answer in ("Left is better", "Right is better", None):
        order.append(view.item_id)
        if answer is None:
            view = annotate.skip(services, "ann0", "t", view.item_id, "")
        else:
            view = annotate.submit(services, "ann0", "t", view.item_id, answer)
        assert view.message in ("Saved.", "Skipped.")
    fresh = view.item_id
    again = annotate.submit(services, "ann0", "t", order[0], "Tie")
    assert again.item_id == order[1] and "history" in again.message
    again = annotate.submit(services, "ann0", "t", order[1], "Tie")
    assert again.item_id == order[2]  # the skipped one, to answer now
    again = annotate.submit(services, "ann0", "t", order[2], "Left is better")
    assert again.item_id == fresh and again.message == "Saved."
    listed = annotate.history(services, "ann0", "t")
    assert [item for _, item in listed] == order[::-1]
    assert listed[-1][0].startswith("#1 · ") and listed[-1][0].endswith("Tie")
    reopened = annotate.revisit(services, "ann0", "t", order[0])
    assert reopened.item_id == order[0] and reopened.current == "Tie"
    with pytest.raises(AccessError, match="not in your history"):
        annotate.revisit(services, "ann0", "t", fresh)


def test_a_researchers_page_holds_nothing_until_annotate_opens(services: Services) -> None:
    """Issue 16, 2: the waiting view serves and reserves nothing; the task pickers of the
    researcher's pages open on a task with submitted labels."""
    from annotation.models import Assignment

    _setup(services, users=1)
    view = annotate.waiting("t", "rita")
    assert view.item_id is None and view.waiting
    with services.session() as s:
        assert s.scalars(select(Assignment)).all() == []
    assert annotate.task_names(services, "rita", labeled=True) == []
    first = annotate.open_task(services, "ann0", "t")
    annotate.skip(services, "ann0", "t", first.item_id, "")
    assert annotate.task_names(services, "rita", labeled=True) == []  # a skip is not a label
    second = annotate.open_task(services, "ann0", "t")
    annotate.submit(services, "ann0", "t", second.item_id, "Tie")
    assert annotate.task_names(services, "rita", labeled=True) == ["t"]


def test_time_on_item_is_recorded(services: Services) -> None:
    _setup(services, users=1)
    view = annotate.open_task(services, "ann0", "t")
    annotate.submit(services, "ann0", "t", view.item_id, "Tie", shown_at=view.shown_at - 2.5)
    with services.session() as s:
        duration = s.scalars(select(Label.duration_ms)).one()
    assert duration is not None and 2500 <= duration < 10_000


def test_left_right_map_to_the_item_frame() -> None:
    assert annotate.choice_to_value("Left is better", "ab") == "A"
    assert annotate.choice_to_value("Left is better", "ba") == "B"
    assert annotate.choice_to_value("Right is better", "ba") == "A"
    assert annotate.choice_to_value("Both are bad", "ba") == "bothbad"
    for order in ("ab", "ba"):
        for value in ("A", "B", "tie"):
            assert annotate.choice_to_value(annotate.value_to_choice(value, order) or "", order) == value


def test_presented_order_is_balanced_and_deterministic() -> None:
    orders = [presented_order(a, i) for a in range(1, 6) for i in range(1, 201)]
    assert 0.45 < orders.count("ab") / len(orders) < 0.55
    assert presented_order(3, 17) == presented_order(3, 17)


def test_overlap_3_with_5_annotators(services: Services) -> None:
    users = _setup(services, overlap=3, users=5)
    per_item: Counter[int] = Counter()
    served: dict[str, list[int]] = {u: [] for u in users}
    active = list(users)
    while active:
        for user in list(active):
            view = annotate.open_task(services, user, "t")
            if view.item_id is None:
                active.remove(user)
                continue
            assert view.item_id not in served[user], "an item was served twice to one annotator"
            served[user].append(view.item_id)
            per_item[view.item_id] += 1
            annotate.submit(services, user, "t", view.item_id, view.choices[0])
    assert set(per_item.values()) == {3}  # every item got exactly `overlap` annotators
    assert sum(per_item.values()) == 61 * 3
    orders = [list(served[u][:10]) for u in users]
    assert len({tuple(o) for o in orders}) == 5  # each annotator has their own order
    progress = annotate.open_task(services, users[0], "t").progress
    assert "task 183/183" in progress


def test_two_annotators_cannot_take_the_last_slot(services: Services) -> None:
    users = _setup(services, overlap=1, users=8)
    with services.session() as s:
        task = get_task(s, "t")
        task_id = task.id
    got: list[int | None] = []
    barrier = threading.Barrier(len(users))

    def worker(user: str) -> None:
        barrier.wait()
        with services.session() as s:
            ann_id = s.execute(select(Label.annotator_id)).first()  # warm the connection
            del ann_id
            from annotation.accounts import get_account

            account = get_account(s, user)
            assert account is not None
            got.append(next_item(s, s.get(type(task), task_id), account.annotator_id))  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and None not in got
    assert len(set(got)) == 8  # overlap 1: eight annotators at once, eight different items


def test_roles_are_checked_by_every_handler(services: Services) -> None:
    _setup(services, users=1)
    with pytest.raises(AccessError, match="not logged in"):
        annotate.open_task(services, None, "t")
    with pytest.raises(AccessError, match="may not"):
        annotate.researcher_progress(services, "ann0", "t")
    with pytest.raises(AccessError, match="may not"):
        annotate.open_task(services, "intruder", "t")
    rows = annotate.researcher_progress(services, "rita", "t")
    assert rows == []


def test_gold_accuracy_reaches_researchers(services: Services) -> None:
    _setup(services, overlap=5, users=1)
    for _ in range(61):
        view = annotate.open_task(services, "ann0", "t")
        if view.item_id is None:
            break
        annotate.submit(services, "ann0", "t", view.item_id, "Left is better")
    (row,) = annotate.researcher_progress(services, "rita", "t")
    assert row[0] == "ann0" and row[2] == 61 and row[6] is not None and row[6].endswith("(6)")


def test_rationale_and_confidence_when_the_task_asks(sqlite_services: Services, tmp_path: Path) -> None:
    from app.cli import main

    db = tmp_path / "j.db"
    assert main(["--db", str(db), "import", str(SAMPLE), "--task", "r", "--ask-rationale", "--ask-confidence"]) == 0
    assert main(["--db", str(db), "users", "add", "u", "--role", "annotator"]) == 0
    from annotation.config import Settings

    services = Services.from_settings(Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path))
    view = annotate.open_task(services, "u", "r")
    assert view.ask_rationale and view.ask_confidence
    annotate.submit(services, "u", "r", view.item_id, "Tie", rationale="same content", confidence="4")
    with services.session() as s:
        label = s.scalars(select(Label)).one()
    assert (label.rationale, label.confidence) == ("same content", 4.0)
    services.close()


def test_build_app_exposes_the_named_endpoints(sqlite_services: Services) -> None:
    """The Blocks build (no module-level app) and every endpoint the tests and clients use exists."""
    from app.ui import build_app

    app = build_app(sqlite_services)
    names = {dep.get("api_name") for dep in app.config["dependencies"]}
    assert {
        "open",
        "submit",
        "skip",
        "back",
        "task_progress",
        "dashboard",
        "judge_runs",
        "start_judge",
        "cancel_judge",
        "ping",
    } <= names
    assert build_app(sqlite_services) is not app


def test_several_questions_one_submit(services: Services, tmp_path: Path) -> None:
    """Issue 17: every question of an item on one page; a required one left blank stores nothing and
    says which; an optional one left blank stores no label; changing an answer updates that label."""
    from annotation.schema import load_schema_file

    schema = tmp_path / "s.yaml"
    schema.write_text(
        "questions:\n  - {name: verdict, kind: pairwise}\n"
        "  - {name: harmful, kind: choice, options: ['yes', 'no'], text: 'Harmful?'}\n"
        "  - {name: helpfulness, kind: scale, min: 1, max: 5, required: false}\n",
        encoding="utf-8",
    )
    with services.session() as s:
        import_file(s, SAMPLE, task="t", overlap=1, label_schema=load_schema_file(schema))
        add_user(s, "ann0", role="annotator", password="tulip-orbit-canyon-42")
    view = annotate.open_task(services, "ann0", "t")
    assert [slot.key for slot in view.slots] == ["verdict", "harmful", "helpfulness"]
    assert view.slots[1].label == "Harmful?" and view.slots[2].label == "helpfulness (optional)"
    first = view.item_id
    again = annotate.submit(services, "ann0", "t", first, "Left is better", more=[None, "4"])
    assert again.item_id == first and "Harmful?" in again.message
    assert [slot.current for slot in again.slots] == ["Left is better", None, "4"], "what was picked stays"
    with services.session() as s:
        assert s.scalars(select(Label)).all() == []
    view = annotate.submit(services, "ann0", "t", first, "Left is better", more=["no", None])
    assert view.item_id not in (None, first)
    with services.session() as s:
        stored = {(lab.question, lab.value) for lab in s.scalars(select(Label))}
        ann = s.scalars(select(Label.annotator_id)).first()
    assert stored == {
        ("verdict", annotate.choice_to_value("Left is better", presented_order(ann, first))),
        ("harmful", "no"),
    }
    back = annotate.back(services, "ann0", "t", view.item_id)
    assert back.item_id == first and [slot.current for slot in back.slots] == ["Left is better", "no", None]
    annotate.submit(services, "ann0", "t", first, "Left is better", more=["yes", "2"])
    with services.session() as s:
        rows = s.execute(select(Label.question, Label.value).where(Label.item_id == first)).all()
        events = s.scalars(select(LabelEvent)).all()
    assert dict(rows) == {"verdict": dict(rows)["verdict"], "harmful": "yes", "helpfulness": "2"}
    assert dict(rows)["verdict"] in ("A", "B")
    assert [(e.old_value, e.new_value) for e in events] == [("no", "yes")]
    skipped = annotate.skip(services, "ann0", "t", view.item_id, "unsure")
    with services.session() as s:
        skips = s.execute(select(Label.question, Label.status).where(Label.status == "skipped")).all()
    assert skips == [("verdict", "skipped")] and skipped.item_id != view.item_id


def test_an_item_whose_checklist_is_not_written_yet_can_be_skipped(services: Services, tmp_path: Path) -> None:
    """Issue 17: a checklist question with ``source: generated`` serves items before their checklist
    is written; the page says to skip such an item, and the skip is stored (on the question itself)."""
    from annotation.schema import load_schema_file

    schema = tmp_path / "t.yaml"
    schema.write_text("questions:\n  - {name: tick, kind: checklist, source: generated}\n", encoding="utf-8")
    with services.session() as s:
        import_file(
            s,
            PROJECT_ROOT / "data" / "sample_single.jsonl",
            task="t",
            protocol="single",
            label_schema=load_schema_file(schema),
        )
        add_user(s, "ann0", role="annotator", password="tulip-orbit-canyon-42")
    view = annotate.open_task(services, "ann0", "t")
    assert view.slots == []
    said = annotate.submit(services, "ann0", "t", view.item_id, None)
    assert said.item_id == view.item_id and "skip it" in said.message
    after = annotate.skip(services, "ann0", "t", view.item_id, "no checklist")
    assert after.item_id not in (None, view.item_id)
    with services.session() as s:
        stored = s.execute(select(Label.item_id, Label.question, Label.status)).all()
    assert stored == [(view.item_id, "tick", "skipped")]
