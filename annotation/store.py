"""The only writer of labels (:func:`submit_labels` / :func:`submit_label`) and the readers that hand
analysis its DataFrames (:func:`labels_frame`, :func:`items_frame`).

Humans, judges and importers all write through here, so every label is validated against its task's
schema the same way, the unique key (item, annotator, question, presented_order, replicate) is
enforced, and every change of an existing label is kept in ``label_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotation import queue_counts
from annotation.db import columns_by_attribute, insert_columns, insert_for, insert_rows, loaded
from annotation.errors import LabelError, NotFoundError
from annotation.models import (
    LABEL_STATUSES,
    PRESENTED_ORDERS,
    Item,
    Label,
    LabelEvent,
    Task,
    utcnow,
)
from annotation.schema import Question, TaskSchema, checklist_entries, entry_key, parse_schema

_CHUNK = 500
# the fields a resubmission may change; a resubmission that changes none of them is a no-op
_MUTABLE = (
    "status",
    "value",
    "value_num",
    "rationale",
    "confidence",
    "probabilities",
    "raw_output",
    "error",
    "duration_ms",
    "judge_run_id",
    "meta",
)


Key = tuple[int, int, str, str, int]  # item, annotator, question, presented_order, replicate
_COLUMN_OF = {key: column.name for key, column in columns_by_attribute(Label).items()}  # meta -> metadata
_KEY_COLUMNS = (Label.item_id, Label.annotator_id, Label.question, Label.presented_order, Label.replicate)


def _key(row: dict[str, Any]) -> Key:
    return (row["item_id"], row["annotator_id"], row["question"], row["presented_order"], row["replicate"])


@dataclass(frozen=True)
class LabelIn:
    """One label to write. ``value`` is in the item's A/B frame; ``presented_order`` is what was shown.
    ``question``: the task's question it answers (``NAME.K`` for checklist entry K); ``None`` is the
    task's only question."""

    item_id: int
    annotator_id: int
    value: str | None
    question: str | None = None
    status: str = "submitted"
    presented_order: str = "ab"
    replicate: int = 0
    rationale: str | None = None
    confidence: float | None = None
    probabilities: dict[str, Any] | None = None
    raw_output: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    judge_run_id: int | None = None
    meta: dict[str, Any] | None = None

    def with_ids(self, item_id: int, annotator_id: int) -> LabelIn:
        """This label for the given item and annotator (an import resolves them after parsing);
        ``dataclasses.replace`` without its per-call field introspection, a third of a large
        import's parsing time."""
        copy = object.__new__(LabelIn)
        copy.__dict__.update(self.__dict__, item_id=item_id, annotator_id=annotator_id)
        return copy


@dataclass
class SubmitResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    label_ids: list[int] = field(default_factory=list)


def submit_label(session: Session, label: LabelIn, *, changed_by: str, max_chars: int = 1_000_000) -> int:
    """Validate and write one label; returns its id. See :func:`submit_labels`."""
    return submit_labels(session, [label], changed_by=changed_by, max_chars=max_chars).label_ids[0]


def submit_labels(
    session: Session,
    labels: Sequence[LabelIn],
    *,
    changed_by: str,
    max_chars: int = 1_000_000,
    where: Sequence[str] | None = None,
    label_ids: bool = True,
    keep_counts: bool = True,
) -> SubmitResult:
    """Validate and write labels in the caller's transaction.

    A label whose key already exists updates that row when anything differs (and a ``label_events``
    row records old and new value and who changed it), and is a no-op when nothing differs, so a
    double submission stores one label. ``where`` optionally names each label's source (file:line)
    for error messages. Raises :class:`LabelError` naming the label and the fix; nothing is written
    by this call when any label is invalid. ``label_ids=False`` leaves ``SubmitResult.label_ids``
    empty (an import does not need them); ``keep_counts=False`` leaves the queue's kept counts to
    the caller, who must call ``queue_counts.recount_task`` for the task before committing (an
    import of many labels recounts once at its end).
    """
    result = SubmitResult()
    if not labels:
        return result
    item_ids = sorted({lab.item_id for lab in labels})
    schemas = _schemas_for_items(session, item_ids)
    rows: list[dict[str, Any]] = []
    memo: _Memo = {}
    for i, lab in enumerate(labels):
        place = where[i] if where is not None else f"label for item {lab.item_id}"
        rows.append(_validated_row(lab, schemas, place, max_chars, memo))

    # human answers change the counts the queue reads: take the task's turn before reading what exists
    task_ids = sorted({schemas[row["item_id"]].task_id for row in rows})
    people = queue_counts.humans(session, {row["annotator_id"] for row in rows}) if keep_counts else set()
    # each task's new labels_version, which every label this call inserts or changes carries
    versions: dict[int, int] = {}
    if people:
        # takes the count writers' turn on the tasks and moves their labels_version in one statement
        versions = queue_counts.claim_tasks(session, task_ids)
    existing = _existing_labels(session, rows)
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    changed: list[Label] = []
    key_index: dict[Key, int] = {}
    for row in rows:
        key = _key(row)
        if key in key_index:
            # the same key twice in one call: the later one wins, as if submitted after
            prior = key_index[key]
            if prior < 0:
                new_rows[-prior - 1] = {**new_rows[-prior - 1], **row}
                continue
        current = existing.get(key)
        if current is None:
            new_rows.append({**row, "created_at": now, "updated_at": now})
            key_index[key] = -len(new_rows)
            continue
        key_index[key] = current.id
        if all(getattr(current, f) == row[f] for f in _MUTABLE):
            result.unchanged += 1
            continue
        _record_event(session, current, row, changed_by, now)
        for f in _MUTABLE:
            setattr(current, f, row[f])
        current.updated_at = now
        changed.append(current)
        result.updated += 1
    if (new_rows or changed) and not people:
        versions = queue_counts.claim_tasks(session, task_ids)
    for label in changed:
        label.version = versions[schemas[label.item_id].task_id]
    if new_rows:
        for row in new_rows:
            row["version"] = versions[schemas[row["item_id"]].task_id]
        _insert_new(session, new_rows, changed_by)
        result.inserted = len(new_rows)
    session.flush()
    if people:
        queue_counts.after_write(
            session,
            {(row["item_id"], row["annotator_id"]) for row in rows if row["annotator_id"] in people},
            {(key[0], key[1]) for key in existing if key[1] in people},
        )
    if label_ids:
        ids = _existing_ids(session, rows)
        result.label_ids = [ids[_key(r)] for r in rows]
    return result


@dataclass
class LabelColumns:
    """Labels of one task given column by column (a list per field, all of one length), as the
    columnar import reads them: ids resolved, answers not yet checked."""

    item_id: list[int]
    annotator_id: list[int]
    question: list[str | None]
    status: list[str]
    value: list[str | None]
    presented_order: list[str]
    replicate: list[int]
    rationale: list[str | None]


class LabelsExist(Exception):
    """:func:`insert_label_columns` found labels of its annotators on the task already: whether each
    is an update, a repeat or new is :func:`submit_labels`' question, row by row."""


def insert_label_columns(
    session: Session, task_id: int, columns: LabelColumns, *, unchecked: Iterable[int], max_chars: int = 1_000_000
) -> int:
    """Write new labels of one task given as columns, the bulk form of :func:`submit_labels` for
    large imports: each distinct answer (question, status, value, order, replicate) is checked once
    by the same check as a single label's, then all rows go in by the database's bulk load.
    Raises :class:`LabelError` for an answer the schema refuses (without the row's place: the caller
    falls back to the row-wise write to name it), :class:`LabelsExist` when any of these annotators
    has a label on the task, and ``IntegrityError`` when one key appears twice. It writes no
    ``label_events`` (nothing is updated) and leaves the queue's counts to the caller
    (``queue_counts.recount_task``). ``unchecked``: the annotators whose labels on the task were not
    looked for yet (a file's later batches need not look again for its own). Returns the number of
    labels written."""
    n = len(columns.item_id)
    if n == 0:
        return 0
    schema = parse_schema(session.execute(select(Task.label_schema).where(Task.id == task_id)).scalar_one())
    if schema.first_of("checklist") is not None:
        raise LabelError("a task with a checklist question takes labels row by row (entries depend on the item)")
    annotators = sorted(set(unchecked))
    holder = (
        session.execute(
            select(Label.id)
            .join(Item, Item.id == Label.item_id)
            .where(Item.task_id == task_id, Label.annotator_id.in_(annotators))
            .limit(1)
        ).first()
        if annotators
        else None
    )
    if holder is not None:
        raise LabelsExist(f"task {task_id} holds labels of these annotators")
    known = {0: _ItemSchema(schema, 0, task_id)}
    memo: _Memo = {}
    answers = list(
        zip(columns.question, columns.status, columns.value, columns.presented_order, columns.replicate, strict=True)
    )
    checked: dict[tuple[Any, ...], dict[str, Any]] = {}
    for answer in set(answers):
        question, status, value, order, replicate = answer
        lab = LabelIn(0, 0, value, question=question, status=status, presented_order=order, replicate=replicate)
        checked[answer] = _validated_row(lab, known, "label", max_chars, memo)
    longest = max((len(text) for text in columns.rationale if text is not None), default=0)
    if longest > max_chars:
        raise LabelError(f"a rationale has {longest:,} characters, over the limit of {max_chars:,}")
    rows = [checked[answer] for answer in answers]
    now = utcnow()
    version = queue_counts.claim_tasks(session, [task_id])[task_id]
    insert_columns(
        session,
        Label,
        {
            "item_id": columns.item_id,
            "annotator_id": columns.annotator_id,
            "question": [row["question"] for row in rows],
            "replicate": columns.replicate,
            "status": columns.status,
            "value": [row["value"] for row in rows],
            "value_num": [row["value_num"] for row in rows],
            "presented_order": columns.presented_order,
            "rationale": columns.rationale,
            "created_at": now,
            "updated_at": now,
            "version": version,
        },
        n,
    )
    return n


_INSERT_NEW = insert_for("postgresql", Label).on_conflict_do_nothing(constraint="uq_label_key").returning(*_KEY_COLUMNS)


def _insert_new(session: Session, new_rows: list[dict[str, Any]], changed_by: str) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # a SQLite writer holds the database's write lock from BEGIN IMMEDIATE: nobody inserted
        # these keys since we looked
        insert_rows(session, Label, new_rows)
        return
    # PostgreSQL: another writer may have inserted one of these keys since we looked. Rows whose key
    # exists are left out by the insert itself and come back as an update of the winner's row
    # (still one label per key); no savepoint to roll back to
    conn = session.connection()
    lost: list[dict[str, Any]] = []
    for start in range(0, len(new_rows), _CHUNK):
        chunk = new_rows[start : start + _CHUNK]
        params = [{_COLUMN_OF[key]: value for key, value in row.items()} for row in chunk]
        written = {tuple(row) for row in conn.execute(_INSERT_NEW, params)}
        lost.extend(row for row in chunk if _key(row) not in written)
    if not lost:
        return
    existing = _existing_labels(session, lost)
    for row in lost:
        current = existing[_key(row)]
        if any(getattr(current, f) != row[f] for f in _MUTABLE):
            _record_event(session, current, row, changed_by, utcnow())
            for f in _MUTABLE:
                setattr(current, f, row[f])
            current.version = row["version"]


def _record_event(session: Session, current: Label, row: dict[str, Any], who: str, now: Any) -> None:
    session.add(
        LabelEvent(
            label_id=current.id,
            old_status=current.status,
            new_status=row["status"],
            old_value=current.value,
            new_value=row["value"],
            changed_by=who,
            changed_at=now,
        )
    )


@dataclass(frozen=True)
class _ItemSchema:
    schema: TaskSchema
    checklist_length: int  # entries of the item's checklist (0: none)
    task_id: int


def _schemas_for_items(session: Session, item_ids: list[int]) -> dict[int, _ItemSchema]:
    """Each item's task schema (read and parsed once per task) and the length of its checklist (read
    only for tasks that ask a checklist question: parsing every item's JSON cost a large import a
    fifth of its time)."""
    schemas: dict[int, _ItemSchema] = {}
    by_task: dict[int, TaskSchema] = {}
    plain: dict[int, _ItemSchema] = {}  # per task without a checklist question: one shared entry
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start : start + _CHUNK]
        held = [loaded(session, Item, item_id) for item_id in chunk]
        if all(item is not None for item in held):  # the page's submit: its item is loaded already
            rows = [(item.id, item.task_id) for item in held]
        else:
            rows = [(r.id, r.task_id) for r in session.execute(select(Item.id, Item.task_id).where(Item.id.in_(chunk)))]
        for task_id in {task_id for _, task_id in rows} - set(by_task):
            task = loaded(session, Task, task_id)
            text = (
                task.label_schema
                if task is not None
                else session.execute(select(Task.label_schema).where(Task.id == task_id)).scalar_one()
            )
            by_task[task_id] = parse_schema(text)
            if by_task[task_id].first_of("checklist") is None:
                plain[task_id] = _ItemSchema(by_task[task_id], 0, task_id)
        listed = [item_id for item_id, task_id in rows if task_id not in plain]
        checklists: dict[int, Any] = {}
        if listed:
            checklists = {i: c for i, c in session.execute(select(Item.id, Item.checklist).where(Item.id.in_(listed)))}
        for item_id, task_id in rows:
            schemas[item_id] = plain.get(task_id) or _ItemSchema(
                by_task[task_id], len(checklist_entries(checklists.get(item_id))), task_id
            )
    missing = set(item_ids) - set(schemas)
    if missing:
        raise NotFoundError(
            f"no item with id {min(missing)} ({len(missing)} unknown item ids)",
            fix="submit labels only for items that exist (import the items first)",
        )
    return schemas


def _question(lab: LabelIn, known: _ItemSchema, place: str) -> tuple[Question, str]:
    """The question a label answers and its stored key; a checklist entry must exist on the item."""
    try:
        question, entry = known.schema.resolve(lab.question, whole_item=lab.status == "skipped")
    except LabelError as exc:
        raise LabelError(f"{place}: field 'question': {exc.what}", value=lab.question, fix=exc.fix) from None
    if entry is None:
        return question, question.name
    if entry > known.checklist_length:
        raise LabelError(
            f"{place}: field 'question': {lab.question!r} names checklist entry {entry}, but item {lab.item_id} "
            f"has {known.checklist_length} entries",
            fix="answer the entries the item's checklist has (import or generate the checklist first)",
        )
    return question, entry_key(question.name, entry)


# What a label's question and value resolve to depends only on the task's schema, the item's
# checklist length, the question named, the status and the value: a large import asks the same few
# questions thousands of times, so one call of submit_labels remembers the answers
_Memo = dict[tuple[Any, ...], Any]


def _validated_row(
    lab: LabelIn, schemas: dict[int, _ItemSchema], place: str, max_chars: int, memo: _Memo
) -> dict[str, Any]:
    known = schemas[lab.item_id]
    asked = (id(known.schema), known.checklist_length, lab.question, lab.status == "skipped")
    resolved = memo.get(asked)
    if resolved is None:
        resolved = memo[asked] = _question(lab, known, place)
    question, question_key = resolved
    if lab.status not in LABEL_STATUSES:
        raise LabelError(f"{place}: unknown status {lab.status!r}", fix=f"use one of {list(LABEL_STATUSES)}")
    if lab.presented_order not in PRESENTED_ORDERS:
        raise LabelError(
            f"{place}: unknown presented_order {lab.presented_order!r}",
            fix="use 'ab' (A shown first/left) or 'ba'",
        )
    if not isinstance(lab.replicate, int) or lab.replicate < 0:
        raise LabelError(f"{place}: replicate must be a whole number >= 0", value=lab.replicate)
    value_num: float | None = None
    value = lab.value
    if lab.status == "submitted":
        answer = (id(question), value)
        known_value = memo.get(answer)
        if known_value is None:
            if value is None or str(value).strip() == "":
                raise LabelError(
                    f"{place}: a submitted label needs a value", fix="give a value, or use status 'skipped'"
                )
            canonical = question.canonical(str(value).strip())
            try:
                known_value = memo[answer] = (canonical, question.to_number(canonical))
            except LabelError as exc:
                raise LabelError(f"{place}: field 'value': {exc.what}", fix=exc.fix) from None
        value, value_num = known_value
    elif lab.status == "failed":
        if not (lab.raw_output or lab.error):
            raise LabelError(
                f"{place}: a failed label must keep its raw output or its error", fix="pass raw_output or error"
            )
        value = None
    else:
        value = None
    if lab.confidence is not None:
        if isinstance(lab.confidence, bool) or not isinstance(lab.confidence, (int, float)):
            raise LabelError(f"{place}: field 'confidence' must be a number", value=lab.confidence)
        try:
            known.schema.check_confidence(float(lab.confidence))
        except LabelError as exc:
            raise LabelError(f"{place}: field 'confidence': {exc.what}", fix=exc.fix) from None
    for name in ("rationale", "raw_output", "error"):
        text = getattr(lab, name)
        if text is not None and len(text) > max_chars:
            raise LabelError(
                f"{place}: field '{name}' has {len(text):,} characters, over the limit of {max_chars:,}",
                fix="shorten it, or raise JUDGELAB_MAX_FIELD_CHARS",
            )
    return {
        "item_id": lab.item_id,
        "annotator_id": lab.annotator_id,
        "question": question_key,
        "replicate": lab.replicate,
        "status": lab.status,
        "value": value,
        "value_num": value_num,
        "presented_order": lab.presented_order,
        "rationale": lab.rationale,
        "confidence": None if lab.confidence is None else float(lab.confidence),
        "probabilities": lab.probabilities,
        "raw_output": lab.raw_output,
        "error": lab.error,
        "duration_ms": lab.duration_ms,
        "judge_run_id": lab.judge_run_id,
        "meta": lab.meta,
    }


_KEYS_OF = select(*_KEY_COLUMNS, Label.id).where(
    Label.annotator_id == bindparam("who"), Label.item_id.in_(bindparam("items", expanding=True))
)


def _existing_ids(session: Session, rows: Iterable[dict[str, Any]]) -> dict[Key, int]:
    """The ids of the labels these rows' annotators have on these rows' items, by key (plain columns:
    no label is loaded); a row whose key is absent has no label yet."""
    pairs: dict[int, set[int]] = {}
    for row in rows:
        pairs.setdefault(row["annotator_id"], set()).add(row["item_id"])
    found: dict[Key, int] = {}
    conn = session.connection()
    for annotator_id, items in pairs.items():
        ordered = sorted(items)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            for *key, label_id in conn.execute(_KEYS_OF, {"who": annotator_id, "items": chunk}):
                found[tuple(key)] = label_id  # type: ignore[index]
    return found


def _existing_labels(session: Session, rows: Iterable[dict[str, Any]]) -> dict[Key, Label]:
    """The labels that already have these rows' keys, loaded whole (to compare and update); an import
    of new labels finds none and loads nothing."""
    ids = _existing_ids(session, rows)
    if not ids:
        return {}
    wanted = sorted(ids.values())
    found: dict[Key, Label] = {}
    for start in range(0, len(wanted), _CHUNK):
        for lab in session.scalars(select(Label).where(Label.id.in_(wanted[start : start + _CHUNK]))):
            found[(lab.item_id, lab.annotator_id, lab.question, lab.presented_order, lab.replicate)] = lab
    return found
