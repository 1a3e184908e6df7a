"""Which item a human annotator sees next.

Each item goes to ``overlap`` distinct annotators and never twice to the same one. Every annotator
walks the items in their own seeded random order (``annotation.queue_order``: a permutation of
buckets, then a rank inside a bucket): the queue keeps their place (``queue_state``: the last
bucket place, rank and item passed) and reads the open items of the next few buckets of their
order as one read of the ``items (task_id, bucket, n_labeled)`` index, so serving an item costs the
same at a thousand items and at a million. When the walk reaches the end of the order it starts
again from the front (items whose reservation lapsed, items imported behind the annotator's place);
a request that went once around without a free item ends the task for that annotator. A read
without anything for the annotator doubles the next one (at most 64 times the first), so the end of
a task takes a few reads, not one per bucket.

Serving an item reserves one of its slots for a while (``assignments``); the slot count (human
annotators who submitted an answer, kept in ``items.n_labeled``, plus live reservations of others)
is checked and the reservation written in one transaction, under SQLite's write lock or a
PostgreSQL row lock on the item, so two annotators opening the page at once cannot both take the last
slot. The lock is taken with SKIP LOCKED (an item another writer holds right now is passed over, not
queued behind) until only such items are left: then the walk waits for them, so an annotator is
never told the task is finished while an item a writer was holding still has a slot. Which response
is shown on the left is a deterministic random function of (annotator, item), so a reload or a
second submission shows and stores the same order. The progress line reads kept counts
(``annotation.queue_counts``), never the labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, bindparam, column, delete, func, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from annotation.db import insert_for
from annotation.models import Annotator, Assignment, Item, Label, QueueState, Task, utcnow
from annotation.queue_order import BUCKETS, bucket_at, buckets_per_read, place_of, rank

RESERVATION = timedelta(minutes=30)


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()[:8], "big")


def presented_order(annotator_id: int, item_id: int) -> str:
    """'ab' (A on the left) or 'ba', fixed for this annotator and item, about half each."""
    return "ab" if _digest("order", annotator_id, item_id) % 2 == 0 else "ba"


@dataclass(frozen=True)
class Progress:
    done: int
    open_items: int
    task_labels: int
    task_needed: int

    @property
    def task_share(self) -> float:
        return self.task_labels / self.task_needed if self.task_needed else 1.0

    def line(self) -> str:
        return (
            f"{self.done} done for you; {self.open_items} items still open; task {self.task_labels}/"
            f"{self.task_needed} labels ({100 * self.task_share:.0f}%)"
        )


_DROP_EXPIRED = delete(Assignment).where(
    Assignment.task_id == bindparam("task_id"), Assignment.expires_at <= bindparam("now")
)
_RELEASE = delete(Assignment).where(
    Assignment.item_id == bindparam("item_id"), Assignment.annotator_id == bindparam("me")
)
# the first item the annotator holds a live reservation for and has not labeled (a reload shows it)
_HELD = (
    select(Assignment.item_id)
    .where(
        Assignment.task_id == bindparam("task_id"),
        Assignment.annotator_id == bindparam("me"),
        Assignment.expires_at > bindparam("now"),
        ~select(Label.id).where(Label.item_id == Assignment.item_id, Label.annotator_id == bindparam("me")).exists(),
    )
    .order_by(Assignment.created_at, Assignment.item_id)
    .limit(1)
    .scalar_subquery()
)
_STATE_AND_COUNTS = (
    select(
        QueueState.position,
        QueueState.after_rank,
        QueueState.after_item,
        QueueState.passes,
        QueueState.done,
        Task.n_items,
        Task.n_full,
        Task.slots_filled,
        Task.overlap,
        _HELD.label("held"),
    )
    .select_from(Task)
    .outerjoin(QueueState, (QueueState.task_id == Task.id) & (QueueState.annotator_id == bindparam("me")))
    .where(Task.id == bindparam("task_id"))
)
_MOVE = (
    update(QueueState)
    .where(QueueState.task_id == bindparam("task"), QueueState.annotator_id == bindparam("me"))
    .values(
        position=bindparam("pos"),
        after_rank=bindparam("rank"),
        after_item=bindparam("after"),
        passes=bindparam("passes"),
    )
)
_ME = bindparam("me", type_=Integer())
_NOW = bindparam("now", type_=DateTime())
# an open item's slots held by others: human answers (the kept count) plus others' live reservations
_HOLDERS = Item.n_labeled + (
    select(func.count())
    .where(Assignment.item_id == Item.id, Assignment.annotator_id != _ME, Assignment.expires_at > _NOW)
    .scalar_subquery()
)
_HOLDERS_OF = select(Item.id, _HOLDERS.label("held")).where(Item.id.in_(bindparam("items", expanding=True)))
# the annotator's label(s) on the item of the enclosing statement
_MY_LABEL = select(Label.id).where(Label.item_id == Item.id, Label.annotator_id == _ME)
# "not labeled by me" as a scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti
# join, and with the annotator's labels newer than the statistics it planned a nested loop over all
# of them per item (7,005 comparisons for a bucket after 30 answers, growing with every answer); a
# scalar subquery stays one (annotator_id, item_id) index probe per item
_OPEN_FOR_ME = (
    Item.task_id == bindparam("task_id"),
    Item.n_labeled < bindparam("overlap"),
    _MY_LABEL.limit(1).scalar_subquery().is_(None),
)
_ALL_OPEN = select(Item.id, Item.shuffle_key, Item.bucket, _HOLDERS.label("held")).where(*_OPEN_FOR_ME)
# the list of buckets travels as one parameter (a PostgreSQL array, a JSON array in SQLite), so the
# statement is prepared once whatever the list's length
_LISTED = func.unnest(bindparam("buckets", type_=ARRAY(Integer))).table_valued("bucket").render_derived(name="listed")
# PostgreSQL: one index lookup per listed bucket (a LATERAL subquery; its OFFSET keeps the planner
# from flattening it into a join, whose plan on stale statistics read every open item of the task:
# 9 ms at 20,000 items, and "= ANY(array)" filters them all too). Only the answers count as held
# here: the reservation's own conditional insert counts others' live reservations under the item's
# lock, so counting them for every item of the bucket as well (about 244 at a million items) only
# doubled the read's index probes
_PER_BUCKET = (
    select(Item.id, Item.shuffle_key, Item.bucket, Item.n_labeled.label("held"))
    .where(*_OPEN_FOR_ME, Item.bucket == _LISTED.c.bucket)
    .offset(0)
    .lateral("open")
)
_OPEN_IN_BUCKETS = {
    "postgresql": select(_PER_BUCKET.c.id, _PER_BUCKET.c.shuffle_key, _PER_BUCKET.c.bucket, _PER_BUCKET.c.held)
    .select_from(_LISTED)
    .join(_PER_BUCKET, true()),
    "sqlite": _ALL_OPEN.where(
        Item.bucket.in_(select(column("value", Integer)).select_from(func.json_each(bindparam("buckets"))))
    ),
}
_SLOT_COLUMNS = ["item_id", "annotator_id", "task_id", "created_at", "expires_at"]
_EXPIRES = bindparam("expires", type_=DateTime())


def _reserve(dialect: str, *, if_free: bool) -> Any:
    """An INSERT of the annotator's reservation of item ``:item`` (renewed when they held one); with
    ``if_free`` it inserts only while the slots held by others (answers plus live reservations,
    ``_HOLDERS``, counted by this statement) leave one free, and returns the item id when it did."""
    source = select(Item.id, _ME, Item.task_id, _NOW, _EXPIRES).where(Item.id == bindparam("item"))
    if if_free:
        holders = _HOLDERS  # a name, not the constant: ruff reads "CONSTANT < x" as a Yoda condition
        source = source.where(holders < bindparam("overlap"))
    stmt = insert_for(dialect, Assignment).from_select(_SLOT_COLUMNS, source)
    stmt = stmt.on_conflict_do_update(
        index_elements=["item_id", "annotator_id"],
        set_={"created_at": stmt.excluded.created_at, "expires_at": stmt.excluded.expires_at},
    )
    return stmt.returning(Assignment.item_id)


_RESERVE = {d: _reserve(d, if_free=d == "postgresql") for d in ("postgresql", "sqlite")}
_LOCK_ITEM_WAIT = select(Item.id).where(Item.id == bindparam("item")).with_for_update(key_share=True)
_LOCK_ITEM = _LOCK_ITEM_WAIT.with_for_update(key_share=True, skip_locked=True)
_PAST = (1 << 63) - 1  # after every rank and item id: a cursor (place, _PAST, _PAST) passed the bucket
LIST_AT_MOST = 256  # buckets a read names; a read of more buckets reads the task's open items
GALLOP = 6  # a read without anything for the annotator doubles the next one, up to 2**GALLOP times


def _item_holders(session: Session, item_id: int, now: object) -> set[int]:
    """The human annotators holding a slot of one item."""
    labeled = session.scalars(
        select(Label.annotator_id)
        .join(Annotator, Label.annotator_id == Annotator.id)
        .where(Label.item_id == item_id, Label.status == "submitted", Annotator.kind == "human")
    )
    reserved = session.scalars(
        select(Assignment.annotator_id).where(Assignment.item_id == item_id, Assignment.expires_at > now)
    )
    return set(labeled) | set(reserved)


@dataclass
class _Place:
    """An annotator's place in a task: the last (bucket place, rank, item id) walked past, full passes
    through the order, and the items answered or skipped."""

    position: int
    after_rank: int
    after_item: int
    passes: int
    done: int

    @property
    def cursor(self) -> tuple[int, int, int]:
        return (self.position, self.after_rank, self.after_item)


def _place_and_counts(session: Session, task_id: int, annotator_id: int, now: datetime) -> tuple[_Place, Any, Any]:
    """The annotator's place (created at the front on their first visit), the task's kept counts and
    the item the annotator holds a live reservation for and has not labeled (None: none), in one
    read."""
    conn = session.connection()
    params = {"task_id": task_id, "me": annotator_id, "now": now}
    row = conn.execute(_STATE_AND_COUNTS, params).one()
    if row.position is None:
        start = insert_for(conn.dialect.name, QueueState).values(task_id=task_id, annotator_id=annotator_id)
        conn.execute(start.on_conflict_do_nothing(index_elements=["task_id", "annotator_id"]))
        row = conn.execute(_STATE_AND_COUNTS, params).one()
    place = _Place(int(row.position), int(row.after_rank), int(row.after_item), int(row.passes), int(row.done))
    return place, (row.n_items, row.n_full, row.slots_filled, row.overlap), row.held


def _progress_of(counts: Any, place: _Place) -> Progress:
    n_items, n_full, filled, overlap = counts
    return Progress(place.done, max(0, n_items - n_full), filled, n_items * overlap)


def _free_for(
    session: Session, task: Task, annotator_id: int, rows: list[tuple[int, int]], now: datetime, *, wait: bool = False
) -> tuple[int | None, list[int]]:
    """The first of ``rows`` ((item id, slots held by others), in the annotator's order, none of them
    answered or skipped by the annotator) with a slot free, reserved, and the items passed over
    because another writer held them. SQLite holds the write lock: the counts read with the rows
    decide. PostgreSQL locks the item row first (FOR NO KEY UPDATE: a plain FOR UPDATE would also
    wait for the key-share locks of label inserts on their item, and deadlock against them), then
    reserves only if the holders counted under the lock leave a slot (a statement of its own, so its
    snapshot sees every reservation committed before the lock was granted). The lock is taken with
    SKIP LOCKED (an item another writer holds right now is passed over and returned as busy: a walk
    does not queue behind every writer it meets) unless ``wait``: the walk's last resort, when only
    busy items are left, waits for them (a wait that closes a cycle is PostgreSQL's deadlock error,
    which ``Services.transaction`` retries)."""
    conn = session.connection()
    dialect = conn.dialect.name
    lock = _LOCK_ITEM_WAIT if wait else _LOCK_ITEM
    params = {"me": annotator_id, "now": now, "expires": now + RESERVATION, "overlap": task.overlap}
    busy: list[int] = []
    for item_id, held in rows:
        if held >= task.overlap:
            continue
        if dialect == "postgresql" and conn.execute(lock, {"item": item_id}).first() is None:
            busy.append(item_id)
            continue
        if conn.execute(_RESERVE[dialect], {**params, "item": item_id}).first() is not None:
            return item_id, busy
    return None, busy


def _walk(
    session: Session, task: Task, annotator_id: int, place: _Place, n_items: int, now: datetime, seed: int
) -> int | None:
    """Walk the annotator's order from their place to the first item with a free slot for them,
    going around once at most; moves their place to it (or leaves it: nothing left for them)."""
    conn = session.connection()
    span = first = buckets_per_read(n_items)
    start = cursor = place.cursor
    passes, wrapped = place.passes, False
    postgres = conn.dialect.name == "postgresql"
    params = {"task_id": task.id, "overlap": task.overlap, "me": annotator_id, "now": now}
    busy: dict[int, tuple[int, int]] = {}  # items passed over because another writer held them: their place
    while True:
        at = max(cursor[0], 0)
        count = min(span, BUCKETS - at)
        if count > LIST_AT_MOST:  # a small task (under 512 items) or a long gallop: the task's open items
            rows = conn.execute(_ALL_OPEN, params).all()
        else:
            buckets = sorted(bucket_at(at + j, annotator_id, seed) for j in range(count))
            listed = buckets if postgres else json.dumps(buckets)
            rows = conn.execute(_OPEN_IN_BUCKETS[conn.dialect.name], {**params, "buckets": listed}).all()
        placed = []
        for row in rows:
            where = place_of(row.bucket, annotator_id, seed)
            if at <= where < at + count:
                entry = (where, rank(row.shuffle_key, annotator_id, seed), row.id, row.held)
                if entry[:3] > cursor:
                    placed.append(entry)
        placed.sort()
        item_id, passed = _free_for(session, task, annotator_id, [(p[2], p[3]) for p in placed], now)
        busy.update((p[2], p[:2]) for p in placed if p[2] in passed)
        if item_id is not None:
            found = next(p[:2] for p in placed if p[2] == item_id)
            break
        end = at + count - 1
        if not (wrapped and end >= start[0]):
            if end >= BUCKETS - 1:
                cursor, passes, wrapped = (-1, 0, 0), passes + 1, True
            else:
                cursor = (end, _PAST, _PAST)
            span = min(span * 2, first << GALLOP)
            continue
        # once around: only items other writers held (if any) may still have a slot; wait for those
        # whose committed holders still leave one (a writer that found its item full keeps the lock
        # to its end: waiting for it would only risk a deadlock)
        if not busy:
            return None  # nothing free for this annotator
        still = [(r.id, r.held) for r in conn.execute(_HOLDERS_OF, {**params, "items": sorted(busy)})]
        item_id, _ = _free_for(session, task, annotator_id, sorted(still), now, wait=True)
        if item_id is None:
            return None
        found = busy[item_id]
        break
    move = {"task": task.id, "me": annotator_id, "pos": found[0], "rank": found[1], "after": item_id}
    conn.execute(_MOVE, {**move, "passes": passes})
    return item_id


def next_item_and_progress(
    session: Session, task: Task, annotator_id: int, *, seed: int = 0, sweep: bool = False
) -> tuple[int | None, Progress]:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left,
    and the annotator's progress line. ``sweep`` first deletes the task's lapsed reservations (the
    page does it when an annotator opens the task: every count already ignores them, so this is
    housekeeping and stays off the submit path)."""
    now = utcnow()
    conn = session.connection()
    if sweep:
        conn.execute(_DROP_EXPIRED, {"task_id": task.id, "now": now})
    place, counts, held = _place_and_counts(session, task.id, annotator_id, now)
    if held is not None:
        return int(held), _progress_of(counts, place)  # a reload shows the same item
    served = _walk(session, task, annotator_id, place, counts[0], now, seed)
    return served, _progress_of(counts, place)


def next_item(session: Session, task: Task, annotator_id: int, *, seed: int = 0) -> int | None:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left."""
    return next_item_and_progress(session, task, annotator_id, seed=seed)[0]


_OWN_AND_RESERVED = select(
    _MY_LABEL.exists(),
    select(Assignment.expires_at)
    .where(Assignment.item_id == Item.id, Assignment.annotator_id == _ME)
    .scalar_subquery(),
).where(Item.id == bindparam("item"))
_OWN_AND_RESERVED_LOCKED = _OWN_AND_RESERVED.with_for_update(key_share=True)


def may_label(session: Session, task: Task, item_id: int, annotator_id: int) -> bool:
    """Whether this annotator may store a label for the item (ids come from the page): only an item
    served to them. They labeled it before (changing an answer, a double click), or hold a
    reservation for it; a reservation that expired while the page stayed open counts while the item
    still has a free slot. A forged id of an item never served to them is refused (it let an
    annotator choose their items, and six of them at once push an item past its overlap). One read;
    on PostgreSQL it locks the item row (FOR NO KEY UPDATE, as the next-item read takes it: a plain
    FOR UPDATE deadlocks with the key-share locks of label inserts), so concurrent submits of one
    item are counted one after another (SQLite's write lock already serializes them). What it reads
    besides the lock is the annotator's own: only their own requests change it."""
    conn = session.connection()
    stmt = _OWN_AND_RESERVED_LOCKED if conn.dialect.name == "postgresql" else _OWN_AND_RESERVED
    row = conn.execute(stmt, {"item": item_id, "me": annotator_id}).first()
    if row is None:
        return False
    own, expires = row
    if own:
        return True
    if expires is None:
        return False
    now = utcnow()
    if expires > now:
        return True
    return len(_item_holders(session, item_id, now) - {annotator_id}) < task.overlap


def release(session: Session, item_id: int, annotator_id: int) -> None:
    session.execute(_RELEASE, {"item_id": item_id, "me": annotator_id})


def progress(session: Session, task: Task, annotator_id: int) -> Progress:
    place, counts, _ = _place_and_counts(session, task.id, annotator_id, utcnow())
    return _progress_of(counts, place)
