"""The DataFrame readers that hand analysis its frames: :func:`labels_frame`, :func:`items_frame`,
:func:`task_frames`. Their columns are ``contracts.columns``; the writer of labels is ``store``."""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import JSON, DateTime, func, select
from sqlalchemy.orm import Session

from annotation.arrow_read import arrow_columns, start
from annotation.catalog import get_task
from annotation.models import Annotator, Item, Label, Task
from annotation.schema import Question, TaskSchema, parse_schema
from contracts.columns import (
    ANALYSIS_ITEM_COLUMNS,
    ANALYSIS_LABEL_COLUMNS,
    ITEM_COLUMNS,
    ITEM_TEXTS,
    LABEL_CODED,
    LABEL_COLUMNS,
    LEVEL_ATTR,
    QUESTION_ATTR,
    SCALE_ATTR,
    coded_column,
)

# where each column of the label frame comes from (``confidence_p`` is computed from the task's scale)
_LABEL_SOURCES: dict[str, Any] = {
    "label_id": Label.id,
    "item_id": Label.item_id,
    "external_id": Item.external_id,
    "annotator": Annotator.name,
    "kind": Annotator.kind,
    "question": Label.question,
    "status": Label.status,
    "value": Label.value,
    "value_num": Label.value_num,
    "presented_order": Label.presented_order,
    "replicate": Label.replicate,
    "rationale": Label.rationale,
    "confidence": Label.confidence,
    "probabilities": Label.probabilities,
    "raw_output": Label.raw_output,
    "error": Label.error,
    "duration_ms": Label.duration_ms,
    "judge_run_id": Label.judge_run_id,
    "config_hash": Annotator.config_hash,
    "created_at": Label.created_at,
    "updated_at": Label.updated_at,
    "metadata": Label.meta,
}
_DERIVED = ("confidence_p",)  # computed from the task's scale (:func:`_finish`)
_SELECTED = [c for c in LABEL_COLUMNS if c not in _DERIVED]
_ITEM_SOURCES: dict[str, Any] = {
    "item_id": Item.id,
    "external_id": Item.external_id,
    "prompt": Item.prompt,
    "response_a": Item.response_a,
    "response_b": Item.response_b,
    "model_a": Item.model_a,
    "model_b": Item.model_b,
    "reference": Item.reference,
    "category": Item.category,
    "gold": Item.gold,
    "checklist": Item.checklist,
    "conversation": Item.conversation,
    "metadata": Item.meta,
}


# the analysis read (:func:`task_frames`): the labels' own columns, the rater as its id (its name and
# kind are read once per rater, not joined onto every label)
_ANALYSIS_SOURCES: dict[str, Any] = {
    "item_id": Label.item_id,
    "annotator_id": Label.annotator_id,
    **{c: _LABEL_SOURCES[c] for c in ANALYSIS_LABEL_COLUMNS if c not in ("item_id", "annotator", "kind", *_DERIVED)},
}


def label_query(task_id: int) -> Any:
    """The select of a task's labels in the columns of the label frame (but ``confidence_p``)."""
    return (
        select(*(_LABEL_SOURCES[c] for c in _SELECTED))
        .join(Item, Label.item_id == Item.id)
        .join(Annotator, Label.annotator_id == Annotator.id)
        .where(Item.task_id == task_id)
        .order_by(Label.id)
    )


def item_query(task_id: int, *, texts: bool = True) -> Any:
    """The select of a task's items in the columns of the items frame (``contracts.columns``; without
    the responses' text when not ``texts``) and the responses' lengths, ``len_a`` and ``len_b``."""
    names = ITEM_COLUMNS if texts else ANALYSIS_ITEM_COLUMNS
    lengths = [func.coalesce(func.length(_ITEM_SOURCES[t]), 0).label(f"len_{t[-1]}") for t in ITEM_TEXTS]
    columns = [_ITEM_SOURCES[c].label(c) for c in names]
    # the task's items are read as a range of ids, in id order (the order they were written in), and
    # the task compared as an expression (``task_id + 0``) so that no index on it is used: through the
    # queue's index (task, bucket, shuffle key) SQLite visited the rows in shuffled order and then
    # sorted them, 8.4 s for 100,000 items from a cold disk cache (1.1 s as a range)
    first, last = (select(f(Item.id)).where(Item.task_id == task_id).scalar_subquery() for f in (func.min, func.max))
    stmt = select(*columns, *lengths).where(Item.id.between(first, last), (Item.task_id + 0) == task_id)
    return stmt.order_by(Item.id)


def labels_frame(session: Session, task_id: int) -> pd.DataFrame:
    """Every label of a task, one row each, in the column contract (``contracts.columns``).
    ``confidence_p`` is the stated confidence on [0, 1], read from the task's declared scale."""
    return _finish(session, task_id, read_frame(session, label_query(task_id), _SELECTED), LABEL_COLUMNS)


def analysis_labels_frame(session: Session, task_id: int) -> pd.DataFrame:
    """What analysis reads of a task's labels (``contracts.columns.ANALYSIS_LABEL_COLUMNS``), in the
    order of :func:`labels_frame`, the few-valued texts coded (``LABEL_CODED``). The free text, run
    bookkeeping and timestamps are left in the database: reading them was most of a dashboard
    refresh's reading at 500,000 labels."""
    return finish_labels(session, task_id, label_rows(session, task_id))


def label_rows(
    session: Session, task_id: int, *, since: int | None = None, span: tuple[int, int] | None = None
) -> pd.DataFrame:
    """The rows behind :func:`analysis_labels_frame`, in label id order: ``label_id``, ``annotator_id``
    and the labels' own analysis columns; ``since``: only the labels written after that
    ``tasks.labels_version`` (``labels.version``; what ``annotation.frame_cache`` adds to the rows it
    holds); ``span``: see :func:`label_rows_query`."""
    stmt = label_rows_query(task_id, since=since, span=span)
    # the Arrow read is for whole tasks; a few new labels come faster row by row
    frame = read_frame(session, stmt, ["label_id", *_ANALYSIS_SOURCES], coded=LABEL_CODED, arrow=since is None)
    order = np.argsort(frame["label_id"].to_numpy(dtype=np.int64), kind="stable")
    return frame.take(order).reset_index(drop=True)


def label_rows_query(task_id: int, *, since: int | None = None, span: tuple[int, int] | None = None) -> Any:
    """The select behind :func:`label_rows`. The labels since a version are found through the index
    ``ix_labels_item_version`` (item, version). ``span``: the first and last item id of the task, when
    no other task has an item between them (:func:`task_span`): its labels are then one range of that
    index, read in one pass (SQLite: 45 ms for the labels since a version at 500,000 labels, against
    98 ms looking up each of the 100,000 items)."""
    # in the order of the labels' ids, sorted by the reader: an ORDER BY made SQLite sort every row in
    # a temporary B-tree (half the query's time at 500,000 labels)
    stmt = select(Label.id, *_ANALYSIS_SOURCES.values()).where(of_task(task_id, span))
    return stmt if since is None else stmt.where(Label.version > since)


def of_task(task_id: int, span: tuple[int, int] | None = None) -> Any:
    """The condition that a label is one of the task's: its item is the task's, or, with ``span``
    (:func:`task_span`), its item id is in the task's span."""
    if span is not None:
        return Label.item_id.between(*span)
    return Label.item_id.in_(select(Item.id).where(Item.task_id == task_id))


def task_items_key(session: Session, task_id: int) -> tuple[int, int, int]:
    """The task's item count, first and last item id (items are only ever added)."""
    n, first, last = session.execute(
        select(func.count(), func.min(Item.id), func.max(Item.id)).where(Item.task_id == task_id)
    ).one()
    return int(n), int(first or 0), int(last or 0)


def task_span(session: Session, items_key: tuple[int, int, int]) -> tuple[int, int] | None:
    """A task's span (first, last item id, from :func:`task_items_key`) when every item between them is
    the task's (items imported in one go, as is usual), else None. It stays so while the task's items
    key does: an item added later, to any task, gets a larger id than every item there is."""
    n, first, last = items_key
    if not n:
        return None
    # counting the rows between two ids reads the items' pages (120 ms at 100,000 items): asked once
    between = session.scalar(select(func.count()).select_from(Item).where(Item.id.between(first, last)))
    return (first, last) if between == n else None


def finish_labels(session: Session, task_id: int, rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`label_rows` as the analysis frame: each rater's name and kind (read once per rater, not
    joined onto every label), ``confidence_p``, the columns in contract order."""
    frame = rows.drop(columns=["label_id", "annotator_id"])
    ids = rows["annotator_id"].to_numpy(dtype=np.int64)
    present = np.unique(ids)
    raters = session.execute(
        select(Annotator.id, Annotator.name, Annotator.kind).where(Annotator.id.in_([int(i) for i in present]))
    ).all()
    at = pd.Index([r.id for r in raters]).get_indexer(ids)  # each label's rater, a row of ``raters``
    for column, per_rater in (("annotator", [r.name for r in raters]), ("kind", [r.kind for r in raters])):
        small = coded_column(per_rater)
        frame[column] = pd.Categorical.from_codes(small.codes[at], categories=small.categories, ordered=True)
    return _finish(session, task_id, frame, ANALYSIS_LABEL_COLUMNS)


def _finish(session: Session, task_id: int, frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``confidence_p`` from the task's confidence scale, ``columns`` in order, and the question's
    marks when the task asks one question."""
    task = session.get(Task, task_id)
    schema = parse_schema(task.label_schema) if task is not None else None
    low, high = schema.confidence_scale if schema is not None else (1.0, 5.0)
    stated = frame["confidence"]
    if stated.dtype == object and not stated.notna().any():  # no label states one: no per-row parse
        raw = np.full(len(frame), np.nan)
    else:
        raw = pd.to_numeric(stated, errors="coerce").to_numpy(dtype=float)
    frame["confidence_p"] = np.clip((raw - low) / (high - low), 0.0, 1.0)
    out = frame[list(columns)]
    if schema is not None and schema.single_question:
        mark_question(out, schema.first)
    return out


def read_frame(
    session: Session,
    stmt: Any,
    names: list[str],
    *,
    coded: tuple[str, ...] = (),
    arrow: bool = False,
    started: Future[list[pa.Array] | None] | None = None,
) -> pd.DataFrame:
    """The rows of ``stmt`` (a select of plain columns) as a frame with columns ``names``, read from
    the driver's cursor and converted a column at a time: SQLAlchemy's per-row result processing
    (on SQLite a JSON parse and a timestamp parse for every row) was two thirds of reading half a
    million labels. JSON columns hold what SQLAlchemy would give (an object, or None for JSON null),
    time columns pandas datetimes, as a frame built from the ORM's rows holds them; the ``coded``
    columns ordered categoricals (``contracts.columns.coded_column``). ``arrow``: read column by
    column through ADBC where it applies (``annotation.arrow_read``; the same frame); ``started``: that
    read, begun already (``arrow_read.start``)."""
    kinds = [column.type for column in stmt.selected_columns]
    arrays = started.result() if started is not None else arrow_columns(session, stmt) if arrow else None
    columns: list[Any]
    if arrays is not None:
        columns = [_from_arrow(a, kind, name in coded) for a, kind, name in zip(arrays, kinds, names, strict=True)]
    else:
        result = session.connection().execute(stmt)
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data: dict[str, Any] = {}
    for name, kind, values in zip(names, kinds, columns, strict=True):
        if isinstance(values, (np.ndarray, pd.Categorical)):
            data[name] = values  # read as a column already (:func:`_from_arrow`)
        elif name in coded:
            data[name] = coded_column(values)
        elif isinstance(kind, JSON) and values.count(None) + values.count("null") == len(values):
            # SQL NULLs and JSON nulls only (most labels' probabilities and metadata, most items' metadata)
            data[name] = [None] * len(values)
        elif isinstance(kind, JSON):
            data[name] = [_json(v) for v in values]
        elif isinstance(kind, DateTime):
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").astype("datetime64[us]")
        else:
            data[name] = list(values)
    return pd.DataFrame(data, columns=names)


def _from_arrow(array: pa.Array, kind: Any, coded: bool) -> Any:
    """One column read by ADBC as :func:`read_frame` holds it: a coded column as its categorical, a
    number column as a numpy array (a missing value NaN, as pandas makes of a list of numbers with
    None), anything else, and a column of nothing but NULLs, as the list of Python values the row
    read gives."""
    if array.null_count == len(array) and not coded:
        return [None] * len(array)
    if coded:
        encoded = array.dictionary_encode()
        small = coded_column(encoded.dictionary.to_pylist())  # the few distinct texts, sorted
        at = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        rank = np.append(small.codes, -1)  # a missing value (-1) stays missing
        return pd.Categorical.from_codes(rank[at], categories=small.categories, ordered=True)
    if (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)) and not isinstance(kind, JSON):
        # as wide as pandas makes Python's numbers (PostgreSQL's integer arrives as int32)
        whole = pa.types.is_integer(array.type) and array.null_count == 0
        return array.to_numpy(zero_copy_only=False).astype(np.int64 if whole else np.float64, copy=False)
    return array.to_pylist()


def _json(value: Any) -> Any:
    """A JSON column's stored text as SQLAlchemy would give it (JSON null: None)."""
    if not isinstance(value, (str, bytes)):
        return value
    return None if value == "null" else json.loads(value)


def mark_question(frame: pd.DataFrame, question: Question) -> pd.DataFrame:
    """Tell analysis what a frame of one question's labels holds (``contracts.columns``): its level of
    measurement, its categories in order (a scale's points, an ordered choice's options), its name."""
    frame.attrs[LEVEL_ATTR] = question.level
    frame.attrs[QUESTION_ATTR] = {"name": question.name, "kind": question.kind}
    if question.kind == "scale" or (question.kind == "choice" and question.level == "ordinal"):
        frame.attrs[SCALE_ATTR] = list(question.choices)
    return frame


def question_frames(labels: pd.DataFrame, schema: TaskSchema) -> dict[str, pd.DataFrame]:
    """A task's labels split by question, each frame marked (:func:`mark_question`). A checklist's
    entries (``tick.1``, ``tick.2``, ...) are one frame, ``tick``, whose ``item_id`` stays the item's
    and whose ``entry`` column numbers the entry."""
    out: dict[str, pd.DataFrame] = {}
    codes, asked = pd.factorize(labels["question"])  # each distinct question text is split once
    parts = [str(a).rpartition(".") for a in asked]
    for q in schema.questions:
        if q.kind == "checklist":
            ours = [i for i, (base, _, _) in enumerate(parts) if base == q.name]
            rows = np.isin(codes, ours)
            mine = labels[rows].copy()
            entries = np.array([int(p[2]) if i in ours else -1 for i, p in enumerate(parts)], dtype=np.int64)
            mine["entry"] = entries[codes[rows]]
        else:
            mask = np.isin(codes, [i for i, a in enumerate(asked) if a == q.name])
            # a task of one question: every label is its (a lazy copy, not a copy of every column)
            mine = labels.copy(deep=False) if mask.all() else labels[mask].copy()
        mine.attrs = {}
        out[q.name] = mark_question(mine, q)
    return out


def items_frame(
    session: Session, task_id: int, *, texts: bool = True, started: Future[list[pa.Array] | None] | None = None
) -> pd.DataFrame:
    """Every item of a task, with response lengths (``len_a``, ``len_b``: characters, counted by the
    database) and each metadata key as its own column; ``texts=False``: without the responses' text
    (``contracts.columns.ANALYSIS_ITEM_COLUMNS``, what analysis reads); ``started``: the Arrow read of
    ``item_query(task_id, texts=texts)``, begun already."""
    stmt = item_query(task_id, texts=texts)
    frame = read_frame(session, stmt, [c.name for c in stmt.selected_columns], arrow=True, started=started)
    meta_keys: list[str] = []
    for meta in frame["metadata"]:
        if isinstance(meta, dict):
            meta_keys.extend(k for k in meta if k not in meta_keys)
    for key in meta_keys:
        column = key if key not in frame.columns else f"meta_{key}"
        frame[column] = [m.get(key) if isinstance(m, dict) else None for m in frame["metadata"]]
    return frame


def task_frames(session: Session, task_name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """What analysis needs of a task: its labels (:func:`analysis_labels_frame`), its items without
    the responses' text and its judges' model families."""
    task = get_task(session, task_name)
    rows, items = whole_read(session, task.id)
    labels, models = _labels_and_models(session, task.id, rows)
    return labels, items, models


def whole_read(session: Session, task_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A task's :func:`label_rows` and its items without the responses' text, the items read while
    the labels are (on PostgreSQL)."""
    reading = start(session, item_query(task_id, texts=False))
    rows = label_rows(session, task_id)
    return rows, items_frame(session, task_id, texts=False, started=reading)


def _labels_and_models(session: Session, task_id: int, rows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`label_rows` as the analysis frame (:func:`finish_labels`) and its judges' model families."""
    labels = finish_labels(session, task_id, rows)
    raters = [str(name) for name in labels["annotator"].cat.categories] if len(labels) else []
    return labels, judge_models(session, raters)


def task_question_frames(
    session: Session, task_name: str
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, str]]:
    """What analysis needs of a task, question by question (:func:`question_frames`): each
    question's labels, the items and the judges' model families."""
    task = get_task(session, task_name)
    return per_question(session, task, *whole_read(session, task.id))


def per_question(
    session: Session, task: Task, rows: pd.DataFrame, items: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, str]]:
    """:func:`task_question_frames` of a task whose :func:`label_rows` and items are read."""
    labels, models = _labels_and_models(session, task.id, rows)
    return question_frames(labels, parse_schema(task.label_schema)), items, models


def judge_models(session: Session, raters: list[str]) -> dict[str, str]:
    """Judge name -> model family (the ``model`` of its stored config), for the judges among
    ``raters`` (the names of a task's raters, as its labels frame holds them)."""
    rows = session.execute(
        select(Annotator.name, Annotator.config).where(Annotator.kind == "llm_judge", Annotator.name.in_(raters))
    ).all()
    out: dict[str, str] = {}
    for name, config in rows:
        model = config.get("model") if isinstance(config, dict) else None
        out[name] = str(model) if model else name.split("@")[0]
    return out
