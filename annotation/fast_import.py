"""The columnar import: large JSONL and Parquet files of generic items or long labels in their
common shape, read by pyarrow a block at a time, checked a column at a time and written by the
database's bulk load (:func:`annotation.db.insert_columns`, :func:`annotation.store.insert_label_columns`).

It is a fast path beside the row-wise import, never a second set of rules: it takes a file only
when every value is one the row-wise reader would take as is (plain text, whole numbers, scalar
metadata; no conversations, gold answers, checklists, judge outputs, or labels that update stored
ones), and the moment it meets anything else (a type Arrow infers differently, a blank required
field, an id twice, an unknown item, an answer the schema refuses) it raises :class:`Declined`.
:func:`annotation.ingest.import_file` then rolls back to the savepoint it took before the file and
imports it row by row, whose errors name ``file:line`` and field. A file is still one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation.catalog import ensure_annotator
from annotation.db import insert_columns
from annotation.errors import JudgelabError
from annotation.formats.generic import PAIRWISE_KEYS, SINGLE_KEYS
from annotation.formats.records import MAX_ID_CHARS
from annotation.models import Item, utcnow
from annotation.queue_order import bucket_of, shuffle_key
from annotation.readers import container_of
from annotation.store import LabelColumns, LabelsExist, insert_label_columns
from contracts.vocab import ANNOTATOR_KINDS

BLOCK_BYTES = 8 << 20  # a JSONL block pyarrow parses at once: memory stays flat with the file's size
PARQUET_ROWS = 50_000
# the label fields the columnar path writes; a file with any other field (non-null) goes row by row
LABEL_FIELDS = {"item_id", "annotator", "annotator_kind", "value", "question", "status", "presented_order"}
LABEL_FIELDS |= {"replicate", "rationale"}


class Declined(Exception):
    """The file needs the row-wise import; the message says why (for the log, not an error)."""


@dataclass
class Counts:
    rows: int = 0
    items_added: int = 0
    items_present: int = 0
    labels_inserted: int = 0


def blocks(path: Path) -> Iterator[pa.RecordBatch]:
    """The file's records as Arrow batches (JSONL in blocks of :data:`BLOCK_BYTES`, Parquet in row
    groups); a file Arrow cannot read as one table of plain columns is declined."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    try:
        if container_of(path) == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=PARQUET_ROWS)
            return
        reader = pj.open_json(path, read_options=pj.ReadOptions(block_size=BLOCK_BYTES))
        yield from reader
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Declined(f"Arrow cannot read it as plain columns ({exc})") from None


# -- columns read the way Fields reads a value (annotation.formats.records) ----------------------


def _column(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    """The column, or None when the file lacks it or it holds only nulls."""
    if name not in batch.schema.names:
        return None
    col = batch.column(name)
    return None if pa.types.is_null(col.type) or col.null_count == len(col) else col


def _texts(col: pa.Array | None, name: str, n: int, *, numbers: bool = False) -> list[Any]:
    """The column's values as Python text (a whole number as its digits when ``numbers``)."""
    if col is None:
        return [None] * n
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.to_pylist()
    if numbers and pa.types.is_integer(col.type):
        return [None if v is None else str(v) for v in col.to_pylist()]
    raise Declined(f"column {name!r} is {col.type}")


def _ids(batch: pa.RecordBatch, name: str, max_chars: int) -> list[str]:
    values = _texts(_column(batch, name), name, batch.num_rows, numbers=True)
    out = [v.strip() if v is not None else "" for v in values]
    if not all(out) or max(map(len, out), default=0) > min(MAX_ID_CHARS, max_chars):
        raise Declined(f"a blank or long {name!r}")
    return out


def _required(batch: pa.RecordBatch, name: str, max_chars: int, *, allow_empty: bool) -> list[str]:
    """A required text field that could also be a conversation (a JSON list written as text)."""
    values = _texts(_column(batch, name), name, batch.num_rows)
    for v in values:
        if v is None or (not allow_empty and v.strip() == ""):
            raise Declined(f"a missing {name!r}")
        if v.lstrip()[:1] == "[":
            raise Declined(f"{name!r} may hold a conversation written as JSON text")
    if max(map(len, values), default=0) > max_chars:
        raise Declined(f"a long {name!r}")
    return values


def _optional(batch: pa.RecordBatch, name: str, max_chars: int, *, numbers: bool = False) -> list[str | None]:
    values = _texts(_column(batch, name), name, batch.num_rows, numbers=numbers)
    out = [v if v and not v.isspace() else None for v in values]  # blank (strip() == "") as None
    if max((len(v) for v in out if v is not None), default=0) > max_chars:
        raise Declined(f"a long {name!r}")
    return out


def _extras(batch: pa.RecordBatch, known: set[str]) -> list[dict[str, Any] | None]:
    """Each row's other fields as its metadata (absent, null and empty text left out), scalar
    columns only: a nested column's rows would carry keys Arrow added, a float column may hold
    numbers the file wrote as integers."""
    columns: list[tuple[str, list[Any]]] = []
    for name in batch.schema.names:
        col = _column(batch, name)
        if name in known or col is None:
            continue
        t = col.type
        if not (pa.types.is_string(t) or pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t)):
            raise Declined(f"metadata column {name!r} is {t}")
        values = col.to_pylist()
        if pa.types.is_floating(t) and any(v is not None and (not math.isfinite(v) or v.is_integer()) for v in values):
            raise Declined(f"metadata column {name!r} mixes integers and decimals")
        columns.append((name, values))
    if not columns:
        return [None] * batch.num_rows
    metas: list[dict[str, Any] | None] = []
    for row in zip(*(values for _, values in columns), strict=True):
        meta = {name: v for (name, _), v in zip(columns, row, strict=True) if v is not None and v != ""}
        metas.append(meta or None)
    return metas


# -- items ---------------------------------------------------------------------------------------


def present_ids(session: Session, task_id: int, external_ids: list[str]) -> set[str]:
    """Which of these external ids the task holds already (asked 1,000 at a time)."""
    found: set[str] = set()
    for start in range(0, len(external_ids), 1000):
        part = external_ids[start : start + 1000]
        found.update(
            session.scalars(select(Item.external_id).where(Item.task_id == task_id, Item.external_id.in_(part))).all()
        )
    return found


def write_items(
    session: Session,
    batch: pa.RecordBatch,
    *,
    task_id: int,
    protocol: str,
    max_chars: int,
    seen: set[str],
    check_existing: bool,
) -> tuple[int, int]:
    """One batch of generic items: (added, already present)."""
    pairwise = protocol == "pairwise"
    for name in ("gold", "checklist"):
        if _column(batch, name) is not None:
            raise Declined(f"the file has {name!r} (checked per item against the schema)")
    ids = _ids(batch, "id", max_chars)
    if len(set(ids)) != len(ids) or not seen.isdisjoint(ids):
        raise Declined("an item id twice")
    seen.update(ids)
    columns: dict[str, Any] = {
        "prompt": _required(batch, "prompt", max_chars, allow_empty=False),
        "response_a": _required(batch, "response_a" if pairwise else "response", max_chars, allow_empty=True),
        "model_a": _optional(batch, "model_a" if pairwise else "model", max_chars, numbers=True),
        "reference": _optional(batch, "reference", max_chars),
        "category": _optional(batch, "category", max_chars, numbers=True),
        "meta": _extras(batch, PAIRWISE_KEYS if pairwise else SINGLE_KEYS),
    }
    if pairwise:
        columns["response_b"] = _required(batch, "response_b", max_chars, allow_empty=True)
        columns["model_b"] = _optional(batch, "model_b", max_chars, numbers=True)
    keep = list(range(len(ids)))
    if check_existing:
        existing = present_ids(session, task_id, ids)
        keep = [i for i, external_id in enumerate(ids) if external_id not in existing]
    if len(keep) < len(ids):
        columns = {name: [values[i] for i in keep] for name, values in columns.items()}
        ids = [ids[i] for i in keep]
    keys = [shuffle_key(task_id, external_id) for external_id in ids]
    columns.update(
        task_id=task_id,
        external_id=ids,
        shuffle_key=keys,
        bucket=[bucket_of(key) for key in keys],
        n_labeled=0,
        created_at=utcnow(),
    )
    insert_columns(session, Item, columns, len(ids))
    return len(ids), batch.num_rows - len(ids)


# -- labels --------------------------------------------------------------------------------------


@dataclass
class LabelReader:
    """Reads label batches of one task into :class:`LabelColumns`, resolving external item ids
    and annotator names (created on first sight, as the row-wise import does)."""

    session: Session
    task_id: int
    max_chars: int
    annotators: dict[str, int]
    item_ids: dict[str, int] | None = None
    looked: set[int] = field(default_factory=set)  # annotators whose stored labels were looked for

    def columns(self, batch: pa.RecordBatch) -> LabelColumns:
        n = batch.num_rows
        for name in batch.schema.names:
            if name not in LABEL_FIELDS and _column(batch, name) is not None:
                raise Declined(f"the file has {name!r}")
        external = _ids(batch, "item_id", self.max_chars)
        names = _ids(batch, "annotator", self.max_chars)
        kinds = [k or "human" for k in _optional(batch, "annotator_kind", self.max_chars)]
        status = [s or "submitted" for s in _optional(batch, "status", self.max_chars)]
        if not set(status) <= {"submitted", "skipped"}:
            raise Declined("a status other than submitted or skipped")
        value = _optional(batch, "value", self.max_chars, numbers=True)
        if any(v is None for v, s in zip(value, status, strict=True) if s == "submitted"):
            raise Declined("a submitted label without a value")
        order = [o or "ab" for o in _texts(_column(batch, "presented_order"), "presented_order", n)]
        replicate_col = _column(batch, "replicate")
        if replicate_col is not None and not pa.types.is_integer(replicate_col.type):
            raise Declined(f"column 'replicate' is {replicate_col.type}")
        replicate = [r or 0 for r in replicate_col.to_pylist()] if replicate_col is not None else [0] * n
        return LabelColumns(
            item_id=self._items(external),
            annotator_id=self._annotators(names, kinds),
            question=_optional(batch, "question", self.max_chars),
            status=status,
            value=value,
            presented_order=order,
            replicate=replicate,
            rationale=_optional(batch, "rationale", self.max_chars),
        )

    def _items(self, external: list[str]) -> list[int]:
        if self.item_ids is None:
            self.item_ids = dict(
                self.session.execute(select(Item.external_id, Item.id).where(Item.task_id == self.task_id)).all()
            )
        ids = self.item_ids
        try:
            return list(map(ids.__getitem__, external))
        except KeyError as exc:
            raise Declined(f"item {exc.args[0]!r} is not in the task") from None

    def _annotators(self, names: list[str], kinds: list[str]) -> list[int]:
        first_kind: dict[str, str] = {}
        for name, kind in dict.fromkeys(zip(names, kinds, strict=True)):  # distinct pairs, in file order
            first_kind.setdefault(name, kind)
        for name, kind in first_kind.items():
            if name in self.annotators:
                continue
            if kind not in ANNOTATOR_KINDS:
                raise Declined(f"annotator kind {kind!r}")
            try:
                self.annotators[name] = ensure_annotator(self.session, name, kind=kind).id
            except JudgelabError as exc:
                raise Declined(exc.what) from None
        return list(map(self.annotators.__getitem__, names))


def write_labels(session: Session, reader: LabelReader, batch: pa.RecordBatch) -> int:
    columns = reader.columns(batch)
    unchecked = set(columns.annotator_id) - reader.looked
    try:
        written = insert_label_columns(
            session, reader.task_id, columns, unchecked=unchecked, max_chars=reader.max_chars
        )
    except (JudgelabError, LabelsExist) as exc:
        raise Declined(str(exc)) from None
    reader.looked |= unchecked
    return written
