"""The one write path, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotation.catalog import ensure_annotator, ensure_task
from annotation.errors import LabelError, NotFoundError
from annotation.label_frames import labels_frame
from annotation.models import Item, Label, LabelEvent
from annotation.services import Services
from annotation.store import LabelIn, submit_label, submit_labels
from tests.conftest import all_at_once


def _setup(services: Services, protocol: str = "pairwise", schema: dict | None = None) -> tuple[int, list[int], int]:
    with services.session() as s:
        task = ensure_task(s, "t", protocol=protocol, label_schema=schema)
        items = []
        for i in range(3):
            item = Item(
                task_id=task.id,
                external_id=f"i{i}",
                prompt="p",
                response_a="a",
                response_b="b" if protocol == "pairwise" else None,
            )
            s.add(item)
            s.flush()
            items.append(item.id)
        ann = ensure_annotator(s, "alice", kind="human")
        return task.id, items, ann.id


def test_submit_then_resubmit_is_one_label(services: Services) -> None:
    task_id, items, alice = _setup(services)
    with services.session() as s:
        submit_label(s, LabelIn(items[0], alice, "A", presented_order="ba"), changed_by="alice")
    with services.session() as s:  # the double click: identical resubmission
        submit_label(s, LabelIn(items[0], alice, "A", presented_order="ba"), changed_by="alice")
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label)) == 1
        assert s.scalar(select(func.count()).select_from(LabelEvent)) == 0
        frame = labels_frame(s, task_id)
    assert frame.loc[0, "value"] == "A"
    assert frame.loc[0, "value_num"] == 1.0
    assert frame.loc[0, "presented_order"] == "ba"


def test_edit_is_kept_in_label_events(services: Services) -> None:
    _, items, alice = _setup(services)
    with services.session() as s:
        first = submit_label(s, LabelIn(items[0], alice, "A"), changed_by="alice")
    with services.session() as s:
        second = submit_label(s, LabelIn(items[0], alice, "tie"), changed_by="alice")
    assert first == second
    with services.session() as s:
        label = s.get(Label, first)
        assert label is not None and label.value == "tie" and label.value_num == 0.5
        events = s.scalars(select(LabelEvent)).all()
        assert [(e.old_value, e.new_value, e.changed_by) for e in events] == [("A", "tie", "alice")]


def test_value_outside_schema_is_refused_and_nothing_written(services: Services) -> None:
    _, items, alice = _setup(services)
    with pytest.raises(LabelError) as err, services.session() as s:
        submit_labels(s, [LabelIn(items[0], alice, "A"), LabelIn(items[1], alice, "C")], changed_by="alice")
    assert "'C'" in str(err.value) and "field 'value'" in str(err.value) and "use one of" in str(err.value)
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label)) == 0


def test_scale_schema_numbers_and_bounds(services: Services) -> None:
    _, items, alice = _setup(services, "single", {"kind": "scale", "min": 1, "max": 10})
    with services.session() as s:
        submit_label(s, LabelIn(items[0], alice, "7"), changed_by="alice")
        with pytest.raises(LabelError, match="from 1 to 10"):
            submit_label(s, LabelIn(items[1], alice, "11"), changed_by="alice")
        with pytest.raises(LabelError, match="from 1 to 10"):
            submit_label(s, LabelIn(items[1], alice, "2.5"), changed_by="alice")
    with services.session() as s:
        assert s.scalars(select(Label.value_num)).all() == [7.0]


def test_failed_and_skipped_rules(services: Services) -> None:
    _, items, alice = _setup(services)
    with services.session() as s:
        with pytest.raises(LabelError, match="raw output"):
            submit_label(s, LabelIn(items[0], alice, None, status="failed"), changed_by="x")
        submit_label(s, LabelIn(items[0], alice, "garbage", status="failed", raw_output="garbage"), changed_by="x")
        submit_label(s, LabelIn(items[1], alice, "A", status="skipped", meta={"reason": "unclear"}), changed_by="x")
        with pytest.raises(LabelError, match="needs a value"):
            submit_label(s, LabelIn(items[2], alice, "  "), changed_by="x")
        with pytest.raises(LabelError, match="presented_order"):
            submit_label(s, LabelIn(items[2], alice, "A", presented_order="left"), changed_by="x")
        with pytest.raises(NotFoundError, match="no item"):
            submit_label(s, LabelIn(999_999, alice, "A"), changed_by="x")
    with services.session() as s:
        rows = {r.status: (r.value, r.raw_output) for r in s.scalars(select(Label))}
    # a failed judgment is never coerced into a verdict, a skip has no value
    assert rows == {"failed": (None, "garbage"), "skipped": (None, None)}


def test_both_orders_and_replicates_are_distinct_labels(services: Services) -> None:
    _, items, judge = _setup(services)
    with services.session() as s:
        result = submit_labels(
            s,
            [
                LabelIn(items[0], judge, "A", presented_order="ab"),
                LabelIn(items[0], judge, "B", presented_order="ba"),
                LabelIn(items[0], judge, "A", presented_order="ab", replicate=1),
            ],
            changed_by="judge",
        )
    assert result.inserted == 3 and len(set(result.label_ids)) == 3


@pytest.mark.parametrize("kind", ["human", "llm_judge"])
def test_concurrent_submissions_of_one_key_store_one_label(services: Services, kind: str) -> None:
    """Eight threads submit the same key at once (a real race on a real database): one label remains.
    A judge's writers take no turn on the task (humans do), so on PostgreSQL their inserts race and
    the losers' rows become updates of the winner's (ON CONFLICT DO NOTHING, then an update)."""
    _, items, _ = _setup(services)
    with services.session() as s:
        alice = ensure_annotator(s, "alice" if kind == "human" else "judge", kind=kind).id

    def worker(value: str) -> None:
        with services.session() as s:
            submit_label(s, LabelIn(items[2], alice, value), changed_by="alice")

    assert all_at_once(worker, ["A" if i % 2 else "B" for i in range(8)]) == []
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label)) == 1
        n_events = s.scalar(select(func.count()).select_from(LabelEvent))
    assert n_events is not None and n_events <= 7


@pytest.mark.parametrize("services", ["postgres"], indirect=True)
def test_an_insert_that_lost_the_race_updates_the_winners_label(services: Services) -> None:
    """The write path's fallback, made deterministic: a new row whose key another writer stored since
    it looked (PostgreSQL only: SQLite's writer holds the write lock from its first read)."""
    from annotation import store

    _, items, alice = _setup(services)
    with services.session() as s:
        submit_label(s, LabelIn(items[0], alice, "A"), changed_by="alice")
    with services.session() as s:
        known = store._schemas_for_items(s, [items[0]])
        row = store._validated_row(LabelIn(items[0], alice, "B"), known, "label", 1000, {})
        now = store.utcnow()
        store._insert_new(s, [{**row, "created_at": now, "updated_at": now, "version": 7}], "bob")
    with services.session() as s:
        labels = s.scalars(select(Label)).all()
        events = s.scalars(select(LabelEvent)).all()
    assert [(lab.value, lab.annotator_id, lab.version) for lab in labels] == [("B", alice, 7)]
    assert [(e.old_value, e.new_value, e.changed_by) for e in events] == [("A", "B", "bob")]
