"""``judgelab import``: read a file in any supported format and write its items and labels in ONE
transaction. Every row is parsed and checked before anything is written; a bad row raises an
:class:`InputError` naming file, line and field, and the database is left as it was.
Re-importing the same file adds nothing (items are keyed by (task, external id), labels by their key).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from annotation.catalog import ensure_annotator, ensure_task
from annotation.errors import InputError, JudgelabError
from annotation.formats.generic import parse_generic
from annotation.formats.labels import parse_labels
from annotation.formats.mtbench import parse_mtbench
from annotation.formats.pandalm import parse_pandalm
from annotation.formats.records import ItemRecord, Parsed
from annotation.models import Item, Task, utcnow
from annotation.readers import Row, read_rows
from annotation.store import LabelIn, submit_labels

FORMATS = ("auto", "jsonl", "csv", "parquet", "json", "labels", "mtbench", "pandalm")


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
    _no_duplicate_ids(parsed.items)
    return kind, parsed, len(rows)


def _no_duplicate_ids(items: list[ItemRecord]) -> None:
    seen: dict[str, str] = {}
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
) -> ImportSummary:
    """Import ``path`` into ``task`` within the caller's transaction (roll back on error)."""
    kind, parsed, n_rows = parse_file(
        path, fmt=fmt, protocol=protocol, max_chars=max_chars, max_bytes=max_bytes, judge=judge
    )
    existing_task = session.scalars(select(Task).where(Task.name == task)).first()
    if existing_task is None and not parsed.items:
        raise InputError(
            str(path),
            f"holds only labels, and there is no task {task!r} for them",
            fix="import the items first (same --task), then this file",
        )
    task_row = ensure_task(
        session,
        task,
        protocol=existing_task.protocol if existing_task and kind == "labels" else parsed.protocol,
        instructions=instructions,
        overlap=overlap,
        label_schema=label_schema,
    )
    added, present = _write_items(session, task_row.id, parsed.items, batch_size)
    ids = dict(session.execute(select(Item.external_id, Item.id).where(Item.task_id == task_row.id)).all())
    annotators: dict[str, int] = {}
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
        if rec.annotator not in annotators:
            try:
                annotators[rec.annotator] = ensure_annotator(
                    session, rec.annotator, kind=rec.kind, config=rec.annotator_config
                ).id
            except JudgelabError as exc:
                raise InputError(rec.where, exc.what, field="annotator", fix=exc.fix) from None
        labels.append(dataclasses.replace(rec.label, item_id=item_id, annotator_id=annotators[rec.annotator]))
        where.append(rec.where)
    # a label that does not fit the task's schema raises LabelError naming file:line and field
    result = submit_labels(session, labels, changed_by=f"import:{path.name}", max_chars=max_chars, where=where)
    return ImportSummary(
        task=task,
        format=kind,
        rows=n_rows,
        items_added=added,
        items_present=present,
        labels_inserted=result.inserted,
        labels_updated=result.updated,
        labels_unchanged=result.unchanged,
        labels_failed=sum(1 for lab in labels if lab.status == "failed"),
        annotators=sorted(annotators),
    )


def _write_items(session: Session, task_id: int, items: list[ItemRecord], batch_size: int) -> tuple[int, int]:
    existing = set(session.scalars(select(Item.external_id).where(Item.task_id == task_id)).all())
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
            "gold_value": it.gold_value,
            "meta": it.meta,
            "created_at": now,
        }
        for it in items
        if it.external_id not in existing
    ]
    for start in range(0, len(new), batch_size):
        session.execute(insert(Item), new[start : start + batch_size])
    return len(new), len(items) - len(new)
