"""Tasks and annotators: look up by name, create when asked. Names are the handles users type."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation.errors import JudgelabError, NotFoundError
from annotation.models import ANNOTATOR_KINDS, PROTOCOLS, Annotator, Task
from annotation.schema import check_for_protocol, default_schema, parse_schema


def config_hash(config: dict[str, Any]) -> str:
    """The identity of a judge: sha256 of its canonical JSON config."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def get_task(session: Session, name: str) -> Task:
    task = session.scalars(select(Task).where(Task.name == name)).first()
    if task is None:
        known = session.scalars(select(Task.name).order_by(Task.name)).all()
        raise NotFoundError(
            f"no task named {name!r}",
            fix=f"use one of {list(known)}" if known else "import data first: judgelab import FILE --task NAME",
        )
    return task


def ensure_task(
    session: Session,
    name: str,
    *,
    protocol: str = "pairwise",
    label_schema: dict[str, Any] | None = None,
    instructions: str | None = None,
    overlap: int | None = None,
) -> Task:
    """Return the task named ``name``, creating it with these settings when absent."""
    if protocol not in PROTOCOLS:
        raise JudgelabError(f"unknown protocol {protocol!r}", fix=f"use one of {list(PROTOCOLS)}")
    task = session.scalars(select(Task).where(Task.name == name)).first()
    if task is not None:
        if task.protocol != protocol:
            raise JudgelabError(
                f"task {name!r} exists with protocol {task.protocol!r}, not {protocol!r}",
                fix="import into another task name, or pass the task's own --protocol",
            )
        if label_schema is not None and parse_schema(label_schema) != parse_schema(task.label_schema):
            raise JudgelabError(
                f"task {name!r} exists with another label schema",
                fix="import without --schema (the task keeps its questions), or into a new task name",
            )
        return task
    schema = parse_schema(label_schema if label_schema is not None else default_schema(protocol))
    check_for_protocol(schema, protocol)
    task = Task(
        name=name,
        protocol=protocol,
        label_schema=schema.model_dump(mode="json"),
        instructions=instructions or "",
        overlap=overlap if overlap is not None else 3,
    )
    session.add(task)
    session.flush()
    return task


def get_annotator(session: Session, name: str) -> Annotator:
    annotator = session.scalars(select(Annotator).where(Annotator.name == name)).first()
    if annotator is None:
        raise NotFoundError(
            f"no annotator named {name!r}",
            fix="create it with 'judgelab users add NAME' or import labels that name it",
        )
    return annotator


def ensure_annotator(session: Session, name: str, *, kind: str, config: dict[str, Any] | None = None) -> Annotator:
    """Return the annotator named ``name``, creating it when absent; the kind must match."""
    if kind not in ANNOTATOR_KINDS:
        raise JudgelabError(f"unknown annotator kind {kind!r}", fix=f"use one of {list(ANNOTATOR_KINDS)}")
    if not name or len(name) > 200:
        raise JudgelabError("an annotator name must have 1 to 200 characters", value=name)
    annotator = session.scalars(select(Annotator).where(Annotator.name == name)).first()
    if annotator is not None:
        if annotator.kind != kind:
            raise JudgelabError(
                f"annotator {name!r} exists as kind {annotator.kind!r}, not {kind!r}",
                fix="use another name for this rater",
            )
        return annotator
    annotator = Annotator(
        name=name,
        kind=kind,
        config=config,
        config_hash=config_hash(config) if config is not None else None,
    )
    session.add(annotator)
    session.flush()
    return annotator
