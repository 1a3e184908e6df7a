"""The frame readers read the driver's cursor a column at a time (label_frames.read_frame); the
frames equal those built from SQLAlchemy's own rows (the ORM's conversion of every JSON and time
value), on SQLite and PostgreSQL, with JSON objects, JSON null, SQL NULL, conversations, gold
answers and times written both by the ORM and by the bulk import."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from annotation.catalog import ensure_annotator
from annotation.ingest import import_file
from annotation.label_frames import _SELECTED, item_query, items_frame, label_query, labels_frame
from annotation.models import Item, Task
from annotation.services import Services
from annotation.store import LabelIn, submit_labels
from contracts.columns import ITEM_COLUMNS


def _orm_frame(session, stmt, names: list[str]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.DataFrame([tuple(r) for r in session.execute(stmt).all()], columns=names)


def test_frames_read_from_the_cursor_equal_the_orm_rows(services: Services, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "plain", "prompt": "p", "response_a": "a", "response_b": "b", "source": "x"},
        {"id": "talk", "prompt": [{"role": "user", "content": "hi"}], "response_a": "a", "response_b": "b"},
        {"id": "gold", "prompt": "p", "response_a": "a", "response_b": "b", "gold": "A", "n": 3},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(json.dumps({"item_id": r["id"], "annotator": "h", "value": "A"}) + "\n" for r in rows),
        encoding="utf-8",
    )
    with services.session() as s:
        import_file(s, items, task="t")
        import_file(s, labels, task="t", fmt="labels")  # bulk-written times
        judge = ensure_annotator(s, "j", kind="llm_judge", config={"model": "m"}).id
        ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        submit_labels(
            s,
            [
                LabelIn(ids[0], judge, "B", probabilities={"A": 0.2, "B": 0.8}, confidence=4.0, meta={"k": 1}),
                LabelIn(ids[1], judge, None, status="failed", raw_output="???", error="no verdict"),
            ],
            changed_by="test",
        )
    with services.session() as s:
        task_id = s.scalars(select(Task.id)).one()
        got_labels, got_items = labels_frame(s, task_id), items_frame(s, task_id)
        want_labels = _orm_frame(s, label_query(task_id), _SELECTED)
        want_items = _orm_frame(s, item_query(task_id), list(ITEM_COLUMNS))
    pd.testing.assert_frame_equal(got_labels[_SELECTED], want_labels)
    pd.testing.assert_frame_equal(got_items[list(ITEM_COLUMNS)], want_items)
    assert got_labels["probabilities"].tolist()[-2] == {"A": 0.2, "B": 0.8}
    assert got_items["conversation"].iloc[1]["prompt"] == [{"role": "user", "content": "hi"}]
    assert got_items["gold"].iloc[2] == {"verdict": "A"} and got_items["metadata"].iloc[0] == {"source": "x"}
