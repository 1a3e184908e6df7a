"""``judgelab import``: read a file in any supported format and write its items and labels in ONE
transaction. A bad row raises an :class:`InputError` naming file, line and field, and the
transaction rolls back: the database is left as it was. Generic and label files in JSONL are read as
a stream, ``batch_size`` rows at a time (memory stays flat with the file's size; each batch is
checked, then written inside the one transaction); other files are read whole.
Re-importing the same file adds nothing (items are keyed by (task, external id), labels by their key).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotation import fast_import, queue_counts
from annotation.catalog import ensure_annotator, ensure_task
from annotation.db import insert_rows, refresh_statistics
from annotation.errors import InputError, JudgelabError, LabelError
from annotation.formats.generic import parse_generic
from annotation.formats.labels import parse_labels
from annotation.formats.mtbench import parse_mtbench
from annotation.formats.pandalm import parse_pandalm
from annotation.formats.records import ItemRecord, Parsed
from annotation.models import Item, Task, utcnow
from annotation.queue_order import queue_columns
from annotation.readers import Row, check_file, container_of, iter_jsonl_rows, read_rows
from annotation.schema import TaskSchema, parse_schema
from annotation.store import LabelIn, submit_labels

log = logging.getLogger("judgelab.import")

FORMATS = ("auto", "jsonl", "csv", "parquet", "json", "labels", "mtbench", "pandalm")

# a file that writes this many items and labels has the planner's statistics refreshed (db.refresh_statistics)
ANALYZE_AFTER = 10_000


@dataclass
class ImportSummary:
    task: str
    format: str
    rows: int
    items_added: int
    items_present: int
    labels_inserted: int
    labels_updated: int
    labels_unchanged: int
    labels_failed: int
    annotators: list[str]

    def describe(self) -> str:
        return (
            f"{self.rows} rows read as '{self.format}' into task '{self.task}': "
            f"{self.items_added} items added, {self.items_present} already present; "
            f"labels: {self.labels_inserted} added, {self.labels_updated} updated, "
            f"{self.labels_unchanged} unchanged ({self.labels_failed} of them 'failed' judge outputs kept)"
            + (f"; annotators: {', '.join(self.annotators)}" if self.annotators else "")
        )


def detect_format(rows: list[Row], path: Path) -> str:
    if not rows:
        raise InputError(str(path), "holds no rows", fix="check that you passed the right file")
    keys = set(rows[0].data)
    if {"question_id", "winner", "judge"} <= keys:
        return "mtbench"
    if "idx" in keys and ({"response1", "response2"} <= keys or any(k.endswith("_result") for k in keys)):
        return "pandalm"
    if {"annotator", "item_id"} <= keys:
        return "labels"
    if {"id", "prompt"} <= keys and ({"response_a", "response_b"} & keys or "response" in keys):
        return "generic"
    raise InputError(
        rows[0].where,
        f"cannot tell the import format from the columns {sorted(keys)[:12]}",
        fix="pass --format, or use columns id, prompt, response_a, response_b (see data/README.md)",
    )


def parse_file(
    path: Path,
    *,
    fmt: str = "auto",
    protocol: str | None = None,
    max_chars: int = 1_000_000,
    max_bytes: int = 2_000_000_000,
    judge: str | None = None,
) -> tuple[str, Parsed, int]:
    """Read and check a whole file; returns (format, parsed records, row count). Writes nothing."""
    if fmt not in FORMATS:
        raise JudgelabError(f"unknown import format {fmt!r}", fix=f"use one of {list(FORMATS)}")
    rows = read_rows(path, max_bytes=max_bytes)
    return parse_rows(rows, path, fmt=fmt, protocol=protocol, max_chars=max_chars, judge=judge)


def parse_rows(
    rows: list[Row], path: Path, *, fmt: str, protocol: str | None, max_chars: int, judge: str | None
) -> tuple[str, Parsed, int]:
    """Check the rows of a whole file (see :func:`parse_file`)."""
    kind = detect_format(rows, path) if fmt in ("auto", "jsonl", "csv", "parquet", "json") else fmt
    if kind == "mtbench":
        parsed = parse_mtbench(rows, max_chars=max_chars)
    elif kind == "pandalm":
        parsed = parse_pandalm(rows, path=path, max_chars=max_chars, judge=judge)
    elif kind == "labels":
        parsed = parse_labels(rows, protocol=protocol or "pairwise", max_chars=max_chars)
    else:
        if protocol is None:
            keys = set(rows[0].data) if rows else set()
            protocol = "single" if "response" in keys and "response_a" not in keys else "pairwise"
        parsed = parse_generic(rows, protocol=protocol, max_chars=max_chars)
    _no_duplicate_ids(parsed.items, {})
    return kind, parsed, len(rows)


def _no_duplicate_ids(items: list[ItemRecord], seen: dict[str, str]) -> None:
    """Refuse an item id seen before in this file (``seen``: id -> where, kept across batches)."""
    for item in items:
        if item.external_id in seen:
            raise InputError(
                item.where,
                f"duplicate item id {item.external_id!r} (first at {seen[item.external_id]})",
                field="id",
                fix="give every item its own id",
            )
        seen[item.external_id] = item.where


def import_file(
    session: Session,
    path: Path,
    *,
    task: str,
    fmt: str = "auto",
    protocol: str | None = None,
    instructions: str | None = None,
    overlap: int | None = None,
    label_schema: dict[str, Any] | None = None,
    max_chars: int = 1_000_000,
    max_bytes: int = 2_000_000_000,
    batch_size: int = 5_000,
    judge: str | None = None,
    columnar: bool = True,
) -> ImportSummary:
    """Import ``path`` into ``task`` within the caller's transaction (roll back on error).
    ``columnar``: try the columnar import first (JSONL and Parquet files of generic items or long
    labels, :mod:`annotation.fast_import`); False reads the file row by row (same result)."""
    if fmt not in FORMATS:
        raise JudgelabError(f"unknown import format {fmt!r}", fix=f"use one of {list(FORMATS)}")
    writer = _Writer(session, path, task, instructions, overlap, label_schema, max_chars, batch_size)
    container = container_of(path)
    if columnar and container in ("jsonl", "parquet") and fmt in ("auto", container, "labels"):
        check_file(path, max_bytes)
        head = _first_row(path, container, max_bytes)
        kind = "labels" if fmt == "labels" else detect_format([head], path)
        if kind == "generic" and protocol is None:
            protocol = "single" if "response" in head.data and "response_a" not in head.data else "pairwise"
        if kind in ("generic", "labels"):
            summary = _columnar(writer, kind, protocol or "pairwise")
            if summary is not None:
                return summary
            writer.forget()
    if container == "jsonl" and fmt in ("auto", "jsonl", "labels"):
        rows = iter_jsonl_rows(path, max_bytes=max_bytes)
        first = list(itertools.islice(rows, batch_size))
        kind = detect_format(first, path) if fmt != "labels" else "labels"
        if kind in ("generic", "labels"):
            if protocol is None and kind == "generic":
                keys = set(first[0].data)
                protocol = "single" if "response" in keys and "response_a" not in keys else "pairwise"
            chunk, n_rows = first, 0
            while chunk:
                n_rows += len(chunk)
                if kind == "labels":
                    parsed = parse_labels(chunk, protocol=protocol or "pairwise", max_chars=max_chars)
                else:
                    parsed = parse_generic(chunk, protocol=protocol or "pairwise", max_chars=max_chars)
                writer.write(kind, parsed)
                chunk = list(itertools.islice(rows, batch_size))
            return writer.summary(kind, n_rows)
        rows_all = first + list(rows)  # MT-Bench and PandaLM read across rows: whole file
        kind, parsed, n_rows = parse_rows(rows_all, path, fmt=fmt, protocol=protocol, max_chars=max_chars, judge=judge)
    else:
        kind, parsed, n_rows = parse_file(
            path, fmt=fmt, protocol=protocol, max_chars=max_chars, max_bytes=max_bytes, judge=judge
        )
    writer.write(kind, parsed)
    return writer.summary(kind, n_rows)


def _first_row(path: Path, container: str, max_bytes: int) -> Row:
    """The file's first record, read as the row-wise import reads it (its keys tell the format)."""
    if container == "jsonl":
        first = next(iter_jsonl_rows(path, max_bytes=max_bytes), None)
        if first is None:
            raise InputError(str(path), "holds no rows", fix="check that you passed the right file")
        return first
    import pyarrow.parquet as pq

    try:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=1), None)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(str(path), f"is not a readable Parquet file ({exc})", fix="re-export the file") from None
    if batch is None or batch.num_rows == 0:
        raise InputError(str(path), "holds no rows", fix="check that you passed the right file")
    return Row(f"{path}: row 1", batch.to_pylist()[0])


def _columnar(writer: _Writer, kind: str, protocol: str) -> ImportSummary | None:
    """The file by the columnar import (:mod:`annotation.fast_import`), or None when it declines:
    everything it wrote is rolled back to the savepoint before the file, and the caller imports
    the file row by row."""
    session = writer.session
    # the task first, outside the savepoint: the row-wise import would make the same one (and on
    # PostgreSQL a task made and rolled back would leave the next its id, and other shuffle keys)
    writer.open_task(kind, protocol, has_items=kind != "labels")
    assert writer.task_id is not None
    try:
        with session.begin_nested():
            n_rows = 0
            if kind == "labels":
                reader = fast_import.LabelReader(session, writer.task_id, writer.max_chars, writer.annotators)
                for batch in fast_import.blocks(writer.path):
                    n_rows += batch.num_rows
                    writer.counts["inserted"] += fast_import.write_labels(session, reader, batch)
            else:
                seen: set[str] = set()
                for batch in fast_import.blocks(writer.path):
                    n_rows += batch.num_rows
                    added, present = fast_import.write_items(
                        session,
                        batch,
                        task_id=writer.task_id,
                        protocol=protocol,
                        max_chars=writer.max_chars,
                        seen=seen,
                        check_existing=not writer.fresh,
                    )
                    writer.counts["added"] += added
                    writer.counts["present"] += present
                queue_counts.items_added(session, writer.task_id, writer.counts["added"])
            if n_rows == 0:
                raise fast_import.Declined("no rows")
            return writer.summary(kind, n_rows)
    except (fast_import.Declined, IntegrityError) as exc:
        log.info("importing %s row by row: %s", writer.path, exc)
        return None
    except Exception as exc:  # bytes Arrow takes and Python does not (bad UTF-8 in a name), ...
        # the row-wise import reads the same file and names what is wrong with it, or imports it
        log.warning("importing %s row by row after %s: %s", writer.path, type(exc).__name__, exc)
        return None


class _Writer:
    """Writes parsed batches of one file into one task, within the caller's transaction, and counts."""

    def __init__(
        self,
        session: Session,
        path: Path,
        task: str,
        instructions: str | None,
        overlap: int | None,
        label_schema: dict[str, Any] | None,
        max_chars: int,
        batch_size: int,
    ) -> None:
        self.session, self.path, self.task = session, path, task
        self.instructions, self.overlap, self.label_schema = instructions, overlap, label_schema
        self.max_chars, self.batch_size = max_chars, batch_size
        self.task_id: int | None = None
        self.fresh = False
        self.schema: TaskSchema | None = None
        self.seen: dict[str, str] = {}
        self.annotators: dict[str, int] = {}
        self.counts = {"added": 0, "present": 0, "inserted": 0, "updated": 0, "unchanged": 0, "failed": 0}

    def open_task(self, kind: str, protocol: str, has_items: bool = True) -> None:
        """Find or create the task the file goes into (once per file)."""
        if self.task_id is not None:
            return
        session, task = self.session, self.task
        existing_task = session.scalars(select(Task).where(Task.name == task)).first()
        if existing_task is None and not has_items:
            raise InputError(
                str(self.path),
                f"holds only labels, and there is no task {task!r} for them",
                fix="import the items first (same --task), then this file",
            )
        task_row = ensure_task(
            session,
            task,
            protocol=existing_task.protocol if existing_task and kind == "labels" else protocol,
            instructions=self.instructions,
            overlap=self.overlap,
            label_schema=self.label_schema,
        )
        self.task_id, self.schema = task_row.id, parse_schema(task_row.label_schema)
        # a task without items before this file: none of the file's items can exist already
        # (the file's own repeats are refused), so no batch asks the database which do; on
        # PostgreSQL that question, planned for the empty table the import started from, scanned
        # the growing table for every batch (250 s for 100,000 items)
        self.fresh = task_row.n_items == 0

    def forget(self) -> None:
        """Forget what a rolled-back columnar attempt counted and created (the task stays)."""
        self.seen, self.annotators = {}, {}
        self.counts = dict.fromkeys(self.counts, 0)

    def write(self, kind: str, parsed: Parsed) -> None:
        session, task = self.session, self.task
        _no_duplicate_ids(parsed.items, self.seen)
        self.open_task(kind, parsed.protocol, has_items=bool(parsed.items))
        assert self.schema is not None and self.task_id is not None
        added, present = _write_items(
            session, self.task_id, self.schema, parsed.items, self.batch_size, check_existing=not self.fresh
        )
        self.counts["added"] += added
        self.counts["present"] += present
        if not parsed.labels:
            return
        wanted = sorted({rec.external_id for rec in parsed.labels})
        ids: dict[str, int] = {}
        for start in range(0, len(wanted), 1000):
            part = wanted[start : start + 1000]
            ids.update(
                session.execute(
                    select(Item.external_id, Item.id).where(Item.task_id == self.task_id, Item.external_id.in_(part))
                ).all()
            )
        labels: list[LabelIn] = []
        where: list[str] = []
        for rec in parsed.labels:
            item_id = ids.get(rec.external_id)
            if item_id is None:
                raise InputError(
                    rec.where,
                    f"refers to item {rec.external_id!r}, which task {task!r} does not have",
                    field="item_id" if kind == "labels" else "idx",
                    fix="import the items first, or check the --task name",
                )
            if rec.annotator not in self.annotators:
                try:
                    self.annotators[rec.annotator] = ensure_annotator(
                        session, rec.annotator, kind=rec.kind, config=rec.annotator_config
                    ).id
                except JudgelabError as exc:
                    raise InputError(rec.where, exc.what, field="annotator", fix=exc.fix) from None
            labels.append(rec.label.with_ids(item_id, self.annotators[rec.annotator]))
            where.append(rec.where)
        # a label that does not fit the task's schema raises LabelError naming file:line and field
        # the queue's counts are recounted once at the end of the file (summary), not per batch
        result = submit_labels(
            session,
            labels,
            changed_by=f"import:{self.path.name}",
            max_chars=self.max_chars,
            where=where,
            label_ids=False,
            keep_counts=False,
        )
        self.counts["inserted"] += result.inserted
        self.counts["updated"] += result.updated
        self.counts["unchanged"] += result.unchanged
        self.counts["failed"] += sum(1 for lab in labels if lab.status == "failed")

    def summary(self, kind: str, n_rows: int) -> ImportSummary:
        """The file's counts, after bringing the queue's kept counts up to date (one recount of the
        task when labels were written)."""
        c = self.counts
        if self.task_id is not None and (c["inserted"] or c["updated"]):
            queue_counts.recount_task(self.session, self.task_id)
        if c["added"] + c["inserted"] >= ANALYZE_AFTER:
            refresh_statistics(self.session)
        return ImportSummary(
            task=self.task,
            format=kind,
            rows=n_rows,
            items_added=c["added"],
            items_present=c["present"],
            labels_inserted=c["inserted"],
            labels_updated=c["updated"],
            labels_unchanged=c["unchanged"],
            labels_failed=c["failed"],
            annotators=sorted(self.annotators),
        )


def _gold(schema: TaskSchema, it: ItemRecord) -> dict[str, str] | None:
    """The item's gold answers as {question: value}, each checked against its question."""
    if it.gold is None:
        return None
    given = it.gold if isinstance(it.gold, dict) else {schema.first.name: it.gold}
    out: dict[str, str] = {}
    for name, value in given.items():
        try:
            question = schema.question(name)
            if question.kind == "checklist":
                raise LabelError(f"question {name!r} is a checklist", fix="give gold answers for other questions")
            out[name] = question.canonical(value)
            question.to_number(out[name])
        except LabelError as exc:
            raise InputError(it.where, exc.what, field="gold", value=value, fix=exc.fix) from None
    return out


def _checklist(schema: TaskSchema, it: ItemRecord) -> dict[str, Any] | None:
    if it.checklist is None:
        return None
    if schema.first_of("checklist") is None:
        raise InputError(
            it.where,
            "has a checklist, but the task asks no checklist question",
            field="checklist",
            fix="import with --schema naming a question of kind checklist, or drop the field",
        )
    return {"entries": it.checklist, "source": "item"}


def _write_items(
    session: Session,
    task_id: int,
    schema: TaskSchema,
    items: list[ItemRecord],
    batch_size: int,
    *,
    check_existing: bool = True,
) -> tuple[int, int]:
    if not items:
        return 0, 0
    existing = fast_import.present_ids(session, task_id, [it.external_id for it in items]) if check_existing else set()
    now = utcnow()
    new = [
        {
            "task_id": task_id,
            "external_id": it.external_id,
            "prompt": it.prompt,
            "response_a": it.response_a,
            "response_b": it.response_b,
            "model_a": it.model_a,
            "model_b": it.model_b,
            "reference": it.reference,
            "category": it.category,
            "conversation": it.conversation,
            "gold": _gold(schema, it),
            "checklist": _checklist(schema, it),
            "meta": it.meta,
            "created_at": now,
            **queue_columns(task_id, it.external_id),
        }
        for it in items
        if it.external_id not in existing
    ]
    for start in range(0, len(new), batch_size):
        insert_rows(session, Item, new[start : start + batch_size])
    queue_counts.items_added(session, task_id, len(new))
    return len(new), len(items) - len(new)
