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
        want_items = _orm_frame(s, item_query(task_id), [*ITEM_COLUMNS, "len_a", "len_b"])
    pd.testing.assert_frame_equal(got_labels[_SELECTED], want_labels)
    pd.testing.assert_frame_equal(got_items[[*ITEM_COLUMNS, "len_a", "len_b"]], want_items)
    assert got_items["len_a"].tolist() == [len(t) for t in got_items["response_a"]]
    assert got_labels["probabilities"].tolist()[-2] == {"A": 0.2, "B": 0.8}
    assert got_items["conversation"].iloc[1]["prompt"] == [{"role": "user", "content": "hi"}]
    assert got_items["gold"].iloc[2] == {"verdict": "A"} and got_items["metadata"].iloc[0] == {"source": "x"}


def test_the_analysis_read_holds_the_full_reads_values_in_its_order(services: Services, tmp_path: Path) -> None:
    """``task_frames`` (what analysis reads) leaves the free text in the database and codes the
    few-valued texts; every value it keeps, and the row order, are the full read's."""
    from annotation.label_frames import task_frames
    from contracts.columns import ANALYSIS_ITEM_COLUMNS, ANALYSIS_LABEL_COLUMNS, LABEL_CODED

    items = tmp_path / "items.jsonl"
    rows = [
        {"id": f"i{n}", "prompt": "p", "response_a": "é" * n, "response_b": "" if n == 2 else "b"} for n in range(4)
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with services.session() as s:
        import_file(s, items, task="t")
        ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        zed = ensure_annotator(s, "zed", kind="human").id  # created first, sorts last
        amy = ensure_annotator(s, "amy", kind="human").id
        judge = ensure_annotator(s, "judge", kind="llm_judge").id
        labels = [LabelIn(ids[3], zed, "tie"), LabelIn(ids[0], amy, "B", presented_order="ba")]
        labels += [LabelIn(i, judge, "A", probabilities={"A": 0.9, "B": 0.1}, confidence=5.0) for i in ids[:2]]
        labels.append(LabelIn(ids[2], judge, None, status="failed", raw_output="??", error="no verdict"))
        submit_labels(s, labels, changed_by="test")
        submit_labels(s, [LabelIn(ids[1], zed, "A")], changed_by="test")
    with services.session() as s:
        task_id = s.scalars(select(Task.id)).one()
        full, full_items = labels_frame(s, task_id), items_frame(s, task_id)
        lean, lean_items, _ = task_frames(s, "t")
    assert list(lean.columns) == list(ANALYSIS_LABEL_COLUMNS)
    for column in LABEL_CODED:
        dtype = lean[column].dtype
        assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered
        assert list(dtype.categories) == sorted(full[column].dropna().unique())
    as_text = lean.assign(**{c: lean[c].astype(object) for c in LABEL_CODED})
    want = full[list(ANALYSIS_LABEL_COLUMNS)].assign(**{c: full[c].astype(object) for c in LABEL_CODED})
    pd.testing.assert_frame_equal(as_text, want, check_dtype=False)
    assert "response_a" not in lean_items.columns and set(ANALYSIS_ITEM_COLUMNS) <= set(lean_items.columns)
    pd.testing.assert_frame_equal(lean_items, full_items.drop(columns=["response_a", "response_b"]))
    assert lean_items["len_a"].tolist() == [0, 1, 2, 3] and lean_items["len_b"].tolist() == [1, 1, 0, 1]


def test_the_items_are_read_in_id_order_without_the_queue_index(sqlite_services: Services, tmp_path: Path) -> None:
    """The items read walks the table by id (a range; the order they were written in), neither
    through the queue's index (shuffled order: random reads on a cold disk cache) nor with a sort;
    and it keeps to its task when another task's items sit inside its id range."""
    from annotation.label_frames import item_query

    for task, ids in (("t", ["a", "b"]), ("other", ["x"]), ("t", ["c"])):  # "x" lies between t's ids
        path = tmp_path / f"{task}-{ids[0]}.jsonl"
        rows = [{"id": i, "prompt": "p", "response_a": "a", "response_b": "b"} for i in ids]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        with sqlite_services.session() as s:
            import_file(s, path, task=task)
    with sqlite_services.session() as s:
        task_id = s.scalars(select(Task.id).where(Task.name == "t")).one()
        stmt = item_query(task_id, texts=False)
        sql = str(stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = " | ".join(str(row[-1]) for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert items_frame(s, task_id)["external_id"].tolist() == ["a", "b", "c"]
    assert plan.startswith("SEARCH items USING INTEGER PRIMARY KEY"), plan
    assert "TEMP B-TREE" not in plan, plan


def test_the_analysis_read_takes_the_arrow_path_and_falls_back_while_the_session_has_written(
    services: Services, tmp_path: Path
) -> None:
    """On PostgreSQL labels and items are read column by column through ADBC (annotation.arrow_read),
    with the values the row read gives, also when a column's first 1,200 values are NULL; on SQLite
    they are read row by row (see the next test). A session that has written reads through its own
    connection, which sees its uncommitted rows."""
    from annotation.arrow_read import arrow_columns
    from annotation.label_frames import _ANALYSIS_SOURCES, task_frames
    from annotation.models import Label
    from contracts.columns import ANALYSIS_LABEL_COLUMNS, LABEL_CODED

    items = tmp_path / "items.jsonl"
    rows = [{"id": f"i{n}", "prompt": "p", "response_a": "a", "response_b": "b"} for n in range(1300)]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with services.session() as s:
        import_file(s, items, task="t")
        ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        judge = ensure_annotator(s, "judge", kind="llm_judge").id
        late = {"probabilities": {"A": 0.7, "B": 0.3}, "confidence": 4.5, "meta": {"k": [1, 2]}}
        labels = [LabelIn(i, judge, "A", **(late if n >= 1200 else {})) for n, i in enumerate(ids)]  # type: ignore[arg-type]
        submit_labels(s, labels, changed_by="test")
    with services.session() as s:
        task_id = s.scalars(select(Task.id)).one()
        stmt = select(*_ANALYSIS_SOURCES.values()).where(Label.item_id.in_(ids))
        arrays = arrow_columns(s, stmt)
        if services.engine.dialect.name == "postgresql":
            assert arrays is not None and len(arrays[0]) == 1300  # the Arrow path applied
        else:
            assert arrays is None
        full = labels_frame(s, task_id)
        lean, _, _ = task_frames(s, "t")
    as_text = lean.assign(**{c: lean[c].astype(object) for c in LABEL_CODED})
    want = full[list(ANALYSIS_LABEL_COLUMNS)].assign(**{c: full[c].astype(object) for c in LABEL_CODED})
    pd.testing.assert_frame_equal(as_text, want, check_dtype=False)
    assert lean["probabilities"].iloc[1250] == {"A": 0.7, "B": 0.3} and lean["metadata"].iloc[1299] == {"k": [1, 2]}
    assert lean["confidence"].iloc[1250] == 4.5 and pd.isna(lean["confidence"].iloc[0])

    with services.session() as s:  # a session that wrote: its own connection reads, and sees the write
        submit_labels(s, [LabelIn(ids[0], judge, "B")], changed_by="test")
        assert arrow_columns(s, select(Label.id)) is None
        lean, _, _ = task_frames(s, "t")
        assert lean["value"].iloc[0] == "B"
        s.rollback()


def test_the_sqlite_read_keeps_the_servers_log_and_locks(sqlite_services: Services, tmp_path: Path) -> None:
    """On SQLite the analysis read stays on the session's own SQLite library. ADBC's driver carries a
    second copy of SQLite: closing its connection released this process's POSIX locks on the file and,
    seeing no other connection of its own, checkpointed and deleted the write-ahead log under the
    server's open connections (the server's health check reported it, and a label written after it
    was lost). The read takes the row path there, and the log is still in place after it."""
    from annotation.arrow_read import arrow_columns
    from annotation.label_frames import task_frames

    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "a", "prompt": "p", "response_a": "a", "response_b": "b"}) + "\n")
    with sqlite_services.session() as s:
        import_file(s, items, task="t")
    wal = Path(f"{sqlite_services.engine.url.database}-wal")
    with sqlite_services.read_session() as s:
        assert arrow_columns(s, select(Item.external_id)) is None
        _, found, _ = task_frames(s, "t")
        assert found["external_id"].tolist() == ["a"]
        assert wal.exists()
    with sqlite_services.session() as s:  # the server's connections still write, and it is read back
        judge = ensure_annotator(s, "j", kind="llm_judge").id
        submit_labels(s, [LabelIn(s.scalars(select(Item.id)).one(), judge, "A")], changed_by="test")
    with sqlite_services.read_session() as s:
        assert task_frames(s, "t")[0]["value"].tolist() == ["A"]
    assert wal.exists()
