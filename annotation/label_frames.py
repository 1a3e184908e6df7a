"""The DataFrame readers that hand analysis its frames: :func:`labels_frame`, :func:`items_frame`,
:func:`task_frames`. Their columns are ``contracts.columns``; the writer of labels is ``store``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, DateTime, select
from sqlalchemy.orm import Session

from annotation.catalog import get_task
from annotation.models import Annotator, Item, Label, Task
from annotation.schema import Question, TaskSchema, parse_schema
from contracts.columns import ITEM_COLUMNS, LABEL_COLUMNS, LEVEL_ATTR, QUESTION_ATTR, SCALE_ATTR

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
_SELECTED = [c for c in LABEL_COLUMNS if c != "confidence_p"]
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


def label_query(task_id: int) -> Any:
    """The select of a task's labels in the columns of the label frame (but ``confidence_p``)."""
    return (
        select(*(_LABEL_SOURCES[c] for c in _SELECTED))
        .join(Item, Label.item_id == Item.id)
        .join(Annotator, Label.annotator_id == Annotator.id)
        .where(Item.task_id == task_id)
        .order_by(Label.id)
    )


def item_query(task_id: int) -> Any:
    """The select of a task's items in the columns of the items frame (``contracts.columns``)."""
    return select(*(_ITEM_SOURCES[c] for c in ITEM_COLUMNS)).where(Item.task_id == task_id).order_by(Item.id)


def labels_frame(session: Session, task_id: int) -> pd.DataFrame:
    """Every label of a task, one row each, in the column contract (``contracts.columns``).
    ``confidence_p`` is the stated confidence on [0, 1], read from the task's declared scale."""
    frame = read_frame(session, label_query(task_id), _SELECTED)
    task = session.get(Task, task_id)
    schema = parse_schema(task.label_schema) if task is not None else None
    low, high = schema.confidence_scale if schema is not None else (1.0, 5.0)
    raw = pd.to_numeric(frame["confidence"], errors="coerce").to_numpy(dtype=float)
    frame["confidence_p"] = np.clip((raw - low) / (high - low), 0.0, 1.0)
    out = frame[list(LABEL_COLUMNS)]
    if schema is not None and schema.single_question:
        mark_question(out, schema.first)
    return out


def read_frame(session: Session, stmt: Any, names: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` (a select of plain columns) as a frame with columns ``names``, read from
    the driver's cursor and converted a column at a time: SQLAlchemy's per-row result processing
    (on SQLite a JSON parse and a timestamp parse for every row) was two thirds of reading half a
    million labels. JSON columns hold what SQLAlchemy would give (an object, or None for JSON null),
    time columns pandas datetimes, as a frame built from the ORM's rows holds them."""
    kinds = [column.type for column in stmt.selected_columns]
    result = session.connection().execute(stmt)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data: dict[str, Any] = {}
    for name, kind, values in zip(names, kinds, columns, strict=True):
        if isinstance(kind, JSON):
            data[name] = [json.loads(v) if isinstance(v, (str, bytes)) else v for v in values]
        elif isinstance(kind, DateTime):
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").astype("datetime64[us]")
        else:
            data[name] = list(values)
    return pd.DataFrame(data, columns=names)


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
    base = labels["question"].astype(str).str.rpartition(".")
    for q in schema.questions:
        if q.kind == "checklist":
            mine = labels[(base[0] == q.name).to_numpy()].copy()
            mine["entry"] = pd.to_numeric(base.loc[mine.index, 2]).astype(int)
        else:
            mine = labels[(labels["question"] == q.name).to_numpy()].copy()
        mine.attrs = {}
        out[q.name] = mark_question(mine, q)
    return out


def items_frame(session: Session, task_id: int) -> pd.DataFrame:
    """Every item of a task, with response lengths and each metadata key as its own column."""
    frame = read_frame(session, item_query(task_id), list(ITEM_COLUMNS))
    frame["len_a"] = frame["response_a"].fillna("").str.len()
    frame["len_b"] = frame["response_b"].fillna("").str.len()
    meta_keys: list[str] = []
    for meta in frame["metadata"]:
        if isinstance(meta, dict):
            meta_keys.extend(k for k in meta if k not in meta_keys)
    for key in meta_keys:
        column = key if key not in frame.columns else f"meta_{key}"
        frame[column] = [m.get(key) if isinstance(m, dict) else None for m in frame["metadata"]]
    return frame


def task_frames(session: Session, task_name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """What analysis needs of a task: its labels, its items and its judges' model families."""
    task = get_task(session, task_name)
    return labels_frame(session, task.id), items_frame(session, task.id), judge_models(session, task.id)


def task_question_frames(
    session: Session, task_name: str
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, str]]:
    """What analysis needs of a task, question by question (:func:`question_frames`): each
    question's labels, the items and the judges' model families."""
    task = get_task(session, task_name)
    labels = labels_frame(session, task.id)
    frames = question_frames(labels, parse_schema(task.label_schema))
    return frames, items_frame(session, task.id), judge_models(session, task.id)


def judge_models(session: Session, task_id: int) -> dict[str, str]:
    """Judge name -> model family (the ``model`` of its stored config), for judges with labels here."""
    rows = session.execute(
        select(Annotator.name, Annotator.config)
        .where(Annotator.kind == "llm_judge")
        .where(
            Annotator.id.in_(
                select(Label.annotator_id).join(Item, Label.item_id == Item.id).where(Item.task_id == task_id)
            )
        )
    ).all()
    out: dict[str, str] = {}
    for name, config in rows:
        model = config.get("model") if isinstance(config, dict) else None
        out[name] = str(model) if model else name.split("@")[0]
    return out
