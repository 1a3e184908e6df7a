"""The counts the queue and the progress line read instead of counting labels.

- ``items.n_labeled``: human annotators with a submitted answer to the item (the slots their
  labels hold; a skip holds none);
- ``tasks.n_items``, ``tasks.n_full`` (items with ``overlap`` such answers) and
  ``tasks.slots_filled`` (sum over items of min(n_labeled, overlap));
- ``queue_state.done``: items an annotator answered or skipped in the task.

The label write path (``annotation.store``) calls :func:`after_write` in the same transaction, the
item import calls :func:`items_added`; :func:`recount_task` recomputes everything from the labels
(the migration that introduced the counts, a large import, and the tests that check the kept counts
against a recount). On PostgreSQL the task row is locked (``FOR UPDATE``) before the counts are
read, so writers of one task's counts take turns and no change is counted twice or lost; SQLite's
write lock already does that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from annotation.db import insert_for, loaded
from annotation.models import Annotator, Item, Label, QueueState, Task

# above this many touched items, one recount of each task is cheaper than counting item by item
RECOUNT_ABOVE = 20_000
_CHUNK = 900

Pair = tuple[int, int]  # (item_id, annotator_id)
_ITEMS = cast(Table, Item.__table__)
_TASKS = cast(Table, Task.__table__)


_HUMANS = select(Annotator.id).where(Annotator.id.in_(bindparam("ids", expanding=True)), Annotator.kind == "human")


def humans(session: Session, annotator_ids: Iterable[int]) -> set[int]:
    """Which of these annotators are human (from the session's loaded rows when it holds them all:
    the page's submit loaded its annotator with the account)."""
    ids = sorted(set(annotator_ids))
    rows = [loaded(session, Annotator, i) for i in ids]
    if all(row is not None for row in rows):
        return {i for i, row in zip(ids, rows, strict=True) if row is not None and row.kind == "human"}
    return set(session.connection().execute(_HUMANS, {"ids": ids}).scalars())


def lock_tasks(session: Session, task_ids: Iterable[int]) -> None:
    """Take the count writers' turn on these tasks (PostgreSQL; SQLite's write lock is one already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Task.id).where(Task.id.in_(sorted(set(task_ids)))).order_by(Task.id).with_for_update())


_CLAIM = (
    update(_TASKS)
    .where(_TASKS.c.id.in_(bindparam("ids", expanding=True)))
    .values(labels_version=_TASKS.c.labels_version + 1)
    .returning(_TASKS.c.id, _TASKS.c.labels_version)
)


def claim_tasks(session: Session, task_ids: Iterable[int]) -> dict[int, int]:
    """Move the tasks' ``labels_version`` (the dashboard's cache key) and, on PostgreSQL, take the
    count writers' turn on them: the update locks the task rows, in id order. Returns each task's new
    version, which the labels written in this transaction carry (``labels.version``): the task row
    stays locked (SQLite: the database) until the commit, so a task's versions commit in order."""
    rows = session.connection().execute(_CLAIM, {"ids": sorted(set(task_ids))})
    return {int(task): int(version) for task, version in rows}


_NOW_LABELED = (
    select(func.count(func.distinct(Label.annotator_id)))
    .join(Annotator, Label.annotator_id == Annotator.id)
    .where(Label.item_id == Item.id, Label.status == "submitted", Annotator.kind == "human")
    .scalar_subquery()
)


_COUNTS_NOW = (
    select(Item.id, Item.task_id, Item.n_labeled, Task.overlap, _NOW_LABELED)
    .join(Task, Item.task_id == Task.id)
    .where(Item.id.in_(bindparam("ids", expanding=True)))
)
_SET_LABELED = update(_ITEMS).where(_ITEMS.c.id == bindparam("item")).values(n_labeled=bindparam("n"))
_ADD_FILLED = (
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("task"))
    .values(
        slots_filled=_TASKS.c.slots_filled + bindparam("filled", type_=Integer()),
        n_full=_TASKS.c.n_full + bindparam("full", type_=Integer()),
    )
)


def after_write(session: Session, pairs_written: set[Pair], pairs_before: set[Pair]) -> None:
    """Bring the counts up to date after human annotators' labels were written in this transaction:
    ``pairs_written`` are the (item, annotator) pairs of the written labels, ``pairs_before`` the
    writers' pairs that had a label before the write (read after :func:`lock_tasks`). One read per
    900 items gives each item's kept count and its count now."""
    touched = sorted({item_id for item_id, _ in pairs_written})
    if not touched:
        return
    if len(touched) > RECOUNT_ABOVE:
        tasks: set[int] = set()
        for start in range(0, len(touched), _CHUNK):
            tasks.update(session.scalars(select(Item.task_id).where(Item.id.in_(touched[start : start + _CHUNK]))))
        for task_id in sorted(tasks):
            recount_task(session, task_id)
        return
    task_of: dict[int, int] = {}
    filled: dict[int, int] = defaultdict(int)
    full: dict[int, int] = defaultdict(int)
    changed: list[dict[str, int]] = []
    conn = session.connection()
    for start in range(0, len(touched), _CHUNK):
        for item_id, task_id, n_before, overlap, n_after in conn.execute(
            _COUNTS_NOW, {"ids": touched[start : start + _CHUNK]}
        ):
            task_of[item_id] = task_id
            if n_after == n_before:
                continue
            changed.append({"item": item_id, "n": n_after})
            filled[task_id] += min(n_after, overlap) - min(n_before, overlap)
            full[task_id] += int(n_after >= overlap) - int(n_before >= overlap)
    if changed:
        conn.execute(_SET_LABELED, changed)
    for task_id in sorted(set(filled) | set(full)):
        if filled[task_id] or full[task_id]:
            conn.execute(_ADD_FILLED, {"task": task_id, "filled": filled[task_id], "full": full[task_id]})
    done: dict[Pair, int] = defaultdict(int)  # (task, annotator) -> items newly answered or skipped
    for item_id, annotator_id in pairs_written - pairs_before:
        done[(task_of[item_id], annotator_id)] += 1
    _add_done(session, done)


def _add_done_statement(dialect: str) -> Any:
    stmt = insert_for(dialect, QueueState)
    return stmt.on_conflict_do_update(
        index_elements=["task_id", "annotator_id"], set_={"done": QueueState.done + stmt.excluded.done}
    )


_ADD_DONE = {d: _add_done_statement(d) for d in ("postgresql", "sqlite")}


def _add_done(session: Session, done: dict[Pair, int]) -> None:
    """Add to ``queue_state.done`` (creating the rows that are missing), in (task, annotator) order so
    that two writers never wait for each other's rows in opposite orders."""
    if not done:
        return
    conn = session.connection()
    rows = [{"task_id": t, "annotator_id": a, "done": n} for (t, a), n in sorted(done.items()) if n]
    if rows:
        conn.execute(_ADD_DONE[conn.dialect.name], rows)


def items_added(session: Session, task_id: int, n: int) -> None:
    """``n`` new items in the task (the import's one item write path)."""
    if n:
        session.execute(update(Task).where(Task.id == task_id).values(n_items=Task.n_items + n))


def recount_task(session: Session, task_id: int) -> None:
    """Recompute every kept count of the task from its items and labels."""
    lock_tasks(session, [task_id])
    task = session.get(Task, task_id)
    if task is None:
        return
    overlap = task.overlap
    # each item's count by the same correlated count the label writes use (one probe of the labels'
    # item index per item; a correlated read of a task-wide grouping was quadratic on SQLite)
    session.execute(
        update(Item).where(Item.task_id == task_id).values(n_labeled=_NOW_LABELED),
        execution_options={"synchronize_session": False},
    )
    n_items, n_full, filled = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Item.n_labeled >= overlap, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Item.n_labeled >= overlap, overlap), else_=Item.n_labeled)), 0),
        ).where(Item.task_id == task_id)
    ).one()
    task.n_items, task.n_full, task.slots_filled = int(n_items), int(n_full), int(filled)
    # each human's items with any label of theirs: one pass over the task's labels (grouping them by
    # (item, annotator) first and counting the groups took 0.42 s at 107,676 labels; this 0.1 s)
    labeled = (
        select(Label.annotator_id, func.count(func.distinct(Label.item_id)))
        .join(Item, Label.item_id == Item.id)
        .join(Annotator, Label.annotator_id == Annotator.id)
        .where(Item.task_id == task_id, Annotator.kind == "human")
        .group_by(Label.annotator_id)
    )
    done: dict[int, int] = {int(a): int(n) for a, n in session.execute(labeled)}
    session.execute(update(QueueState).where(QueueState.task_id == task_id).values(done=0))
    _add_done(session, {(task_id, a): n for a, n in done.items()})
    session.flush()
