"""The columnar import (annotation.fast_import) against the row-wise import it stands beside: every
file gives the same database either way (on SQLite and PostgreSQL, JSONL and Parquet), files it
cannot take in full go row by row (and their errors still name file:line), and a failure after
some blocks were written leaves nothing behind."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, text

from annotation import fast_import
from annotation.errors import InputError
from annotation.ingest import import_file
from annotation.models import Annotator, Item, Label, Task
from annotation.services import Services
from tests.conftest import make_services

ROW_BY_ROW = "row by row"


def _items(n: int = 30, *, int_ids: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "id": 1000 + i if int_ids else f"  it-{i} ",  # whole numbers, or padded text
            "prompt": f"Question {i}: why?" if i != 9 else "{x} is a placeholder: text, not JSON",
            "response_a": f"answer a {i}",
            "response_b": "" if i % 7 == 0 else f"answer b {i}",  # an empty response is a response
            "model_a": "kestrel",
            "model_b": "wren",
            "category": "  " if i % 5 == 0 else ["coding", "math"][i % 2],  # blank: no category
            "difficulty": i % 3,
            "source": "" if i % 4 == 0 else "arena",  # empty metadata is left out
            "hard": i % 2 == 0,
            "score": i + 0.5,
        }
        for i in range(n)
    ]


def _labels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, it in enumerate(items):
        item_id = it["id"].strip() if isinstance(it["id"], str) else it["id"]
        out.append({"item_id": item_id, "annotator": "ann", "value": ["A", "B", "tie"][k % 3]})
        out.append({"item_id": item_id, "annotator": "judge-x", "annotator_kind": "llm_judge", "value": "A"})
        if k % 4 == 0:
            out.append({"item_id": item_id, "annotator": "bea", "status": "skipped"})
        else:
            out.append({"item_id": item_id, "annotator": "bea", "value": "tie", "rationale": f"because {k}"})
    return out


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".parquet":
        keys = dict.fromkeys(k for row in rows for k in row)  # every row's fields: Arrow reads the first's
        pq.write_table(pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in rows]), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _state(services: Services) -> dict[str, Any]:
    """Everything an import writes, without database ids and timestamps."""
    with services.session() as s:
        items = {
            it.id: (
                it.external_id,
                it.prompt,
                it.response_a,
                it.response_b,
                it.model_a,
                it.model_b,
                it.reference,
                it.category,
                it.conversation,
                it.gold,
                it.checklist,
                it.meta,
                it.shuffle_key,
                it.bucket,
                it.n_labeled,
            )
            for it in s.scalars(select(Item))
        }
        names = {a.id: (a.name, a.kind) for a in s.scalars(select(Annotator))}
        labels = sorted(
            (
                items[lab.item_id][0],
                names[lab.annotator_id],
                lab.question,
                lab.replicate,
                lab.status,
                lab.value,
                lab.value_num,
                lab.presented_order,
                lab.rationale,
                lab.confidence,
                lab.meta,
            )
            for lab in s.scalars(select(Label))
        )
        tasks = [(t.name, t.protocol, t.n_items, t.n_full, t.slots_filled) for t in s.scalars(select(Task))]
    return {"items": sorted(items.values()), "labels": labels, "tasks": tasks}


def _run(services: Services, files: list[Path], *, columnar: bool) -> list[str]:
    out = []
    for path in files:
        with services.session() as s:
            fmt = "labels" if "labels" in path.name else "auto"
            out.append(import_file(s, path, task="t", fmt=fmt, columnar=columnar).describe())
    return out


def _both_ways(tmp_path: Path, url_of: Any, files: list[Path], caplog: pytest.LogCaptureFixture) -> bool:
    """Import ``files`` columnar into one database and row by row into another; assert the same
    summaries and contents; return whether the columnar import took every file itself."""
    fast, slow = make_services(url_of("fast"), tmp_path / "f"), make_services(url_of("slow"), tmp_path / "s")
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="judgelab.import"):
            fast_summaries = _run(fast, files, columnar=True)
        took_all = not any(ROW_BY_ROW in r.getMessage() for r in caplog.records)
        assert fast_summaries == _run(slow, files, columnar=False)
        assert _state(fast) == _state(slow)
        assert _state(fast)["labels"], "the files wrote labels"
    finally:
        fast.close()
        slow.close()
    return took_all


@pytest.fixture(params=["sqlite", "postgres"])
def url_of(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path}/{name}.db"
    cluster = request.getfixturevalue("pg_cluster")
    return lambda _name: cluster.create_database()


@pytest.mark.parametrize(("container", "int_ids"), [("jsonl", False), ("jsonl", True), ("parquet", False)])
def test_a_plain_file_goes_columnar_and_gives_what_the_row_import_gives(
    tmp_path: Path, url_of: Any, container: str, int_ids: bool, caplog: pytest.LogCaptureFixture
) -> None:
    items = _items(int_ids=int_ids)
    files = [
        _write(tmp_path / f"items.{container}", items),
        _write(tmp_path / f"labels.{container}", _labels(items)),
    ]
    assert _both_ways(tmp_path, url_of, files, caplog), "a plain file is taken by the columnar import"


AWKWARD = {
    "a conversation": ("items", 3, {"prompt": [{"role": "user", "content": "hi"}]}),
    "text that looks like a JSON list": ("items", 4, {"prompt": "[INST] a question [/INST]"}),
    "a gold answer": ("items", 5, {"gold": "A"}),
    "a decimal written as an integer": ("items", 6, {"score": 2.0}),
    "the same label twice (the later wins)": ("labels", 2, {"value": "B"}),
    "a confidence": ("labels", 7, {"confidence": 4}),
}


@pytest.mark.parametrize("case", sorted(AWKWARD))
def test_a_file_the_columnar_import_cannot_take_goes_row_by_row_with_the_same_result(
    tmp_path: Path, url_of: Any, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    which, row, change = AWKWARD[case]
    items = _items()
    labels = _labels(items)
    rows = items if which == "items" else labels
    if case.startswith("the same label"):
        rows.insert(row, {**rows[0], **change})
    else:
        rows[row] = {**rows[row], **change}
    files = [_write(tmp_path / "items.jsonl", items), _write(tmp_path / "labels.jsonl", labels)]
    assert not _both_ways(tmp_path, url_of, files, caplog)


def test_importing_the_same_labels_again_changes_nothing(
    tmp_path: Path, url_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    items = _items()
    labels = _write(tmp_path / "labels.jsonl", _labels(items))
    files = [_write(tmp_path / "items.jsonl", items), labels, labels]
    _both_ways(tmp_path, url_of, files, caplog)


def test_a_bad_row_after_written_blocks_names_its_line_and_leaves_nothing(
    tmp_path: Path, url_of: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fast_import, "BLOCK_BYTES", 2048)  # many blocks: the first ones are written
    items = _items(200)
    items[180]["prompt"] = "   "
    path = _write(tmp_path / "items.jsonl", items)
    services = make_services(url_of("one"), tmp_path / "one")
    try:
        with pytest.raises(InputError) as err, services.session() as s:
            import_file(s, path, task="t")
        assert err.value.where == f"{path}:181" and "prompt" in str(err.value)
        with services.session() as s:
            assert s.scalars(select(Item)).first() is None and s.scalars(select(Task)).first() is None
    finally:
        services.close()


def test_unknown_items_in_a_labels_file_are_named_by_line(tmp_path: Path, sqlite_services: Services) -> None:
    items = _items()
    labels = _labels(items)
    labels[40]["item_id"] = "nobody"
    with sqlite_services.session() as s:
        import_file(s, _write(tmp_path / "items.parquet", items), task="t")
    path = _write(tmp_path / "labels.jsonl", labels)
    with pytest.raises(InputError) as err, sqlite_services.session() as s:
        import_file(s, path, task="t", fmt="labels")
    assert err.value.where == f"{path}:41" and "nobody" in str(err.value)
    with sqlite_services.session() as s:
        assert s.scalars(select(Label)).first() is None


def test_bulk_written_times_read_back_as_the_orm_writes_them(tmp_path: Path, sqlite_services: Services) -> None:
    """SQLite keeps a time as text: the bulk path writes SQLAlchemy's spelling (a space, not the
    driver's 'T'), so times written either way sort and compare alike in SQL."""
    items = _items()
    with sqlite_services.session() as s:
        import_file(s, _write(tmp_path / "items.jsonl", items), task="t")
        import_file(s, _write(tmp_path / "labels.jsonl", _labels(items)), task="t", fmt="labels")
    with sqlite_services.session() as s:
        stamps = [*s.scalars(text("SELECT created_at FROM items")), *s.scalars(text("SELECT updated_at FROM labels"))]
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", v) for v in stamps)
