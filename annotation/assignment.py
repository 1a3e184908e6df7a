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
PostgreSQL row lock on the item (taken with SKIP LOCKED: an item another writer holds right now is
passed over, not waited for), so two annotators opening the page at once cannot both take the last
slot. Which response is shown on the left is a deterministic random function of (annotator, item),
so a reload or a second submission shows and stores the same order. The progress line reads kept
counts (``annotation.queue_counts``), never the labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, column, delete, func, select, update
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


_MY_RESERVATIONS = (
    select(Assignment.item_id)
    .where(
        Assignment.task_id == bindparam("task_id"),
        Assignment.annotator_id == bindparam("me"),
        Assignment.expires_at > bindparam("now"),
    )
    .order_by(Assignment.created_at)
)
_DROP_EXPIRED = delete(Assignment).where(
    Assignment.task_id == bindparam("task_id"), Assignment.expires_at <= bindparam("now")
)
_RELEASE = delete(Assignment).where(
    Assignment.item_id == bindparam("item_id"), Assignment.annotator_id == bindparam("me")
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
_ALL_OPEN = select(Item.id, Item.shuffle_key, Item.bucket, Item.n_labeled).where(
    Item.task_id == bindparam("task_id"), Item.n_labeled < bindparam("overlap")
)
# the list of buckets travels as one parameter (a PostgreSQL array, a JSON array in SQLite), so the
# statement is prepared once whatever the list's length
_LISTED = func.unnest(bindparam("buckets", type_=ARRAY(Integer))).table_valued("bucket").render_derived(name="listed")
_OPEN_IN_BUCKETS = {
    # a join with the unnested array: PostgreSQL's generic plan for "= ANY(array)" filters every
    # open item of the task against the array (5 ms at 1,000 items) instead of looking buckets up
    "postgresql": select(Item.id, Item.shuffle_key, Item.bucket, Item.n_labeled)
    .select_from(Item)
    .join(_LISTED, Item.bucket == _LISTED.c.bucket)
    .where(Item.task_id == bindparam("task_id"), Item.n_labeled < bindparam("overlap")),
    "sqlite": _ALL_OPEN.where(
        Item.bucket.in_(select(column("value", Integer)).select_from(func.json_each(bindparam("buckets"))))
    ),
}
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


def _place_and_counts(session: Session, task_id: int, annotator_id: int) -> tuple[_Place, Any]:
    """The annotator's place (created at the front on their first visit) and the task's kept
    counts, in one read."""
    conn = session.connection()
    params = {"task_id": task_id, "me": annotator_id}
    row = conn.execute(_STATE_AND_COUNTS, params).one()
    if row.position is None:
        start = insert_for(conn.dialect.name, QueueState).values(task_id=task_id, annotator_id=annotator_id)
        conn.execute(start.on_conflict_do_nothing(index_elements=["task_id", "annotator_id"]))
        row = conn.execute(_STATE_AND_COUNTS, params).one()
    place = _Place(int(row.position), int(row.after_rank), int(row.after_item), int(row.passes), int(row.done))
    return place, (row.n_items, row.n_full, row.slots_filled, row.overlap)


def _progress_of(counts: Any, place: _Place) -> Progress:
    n_items, n_full, filled, overlap = counts
    return Progress(place.done, max(0, n_items - n_full), filled, n_items * overlap)


def _free_for(
    session: Session, task: Task, annotator_id: int, rows: list[tuple[int, int]], now: datetime
) -> int | None:
    """The first of ``rows`` ((item id, n_labeled), in the annotator's order) with a slot free for
    this annotator: not answered or skipped by them, other holders below the overlap. Reserves it."""
    if not rows:
        return None
    ids = [item_id for item_id, _ in rows]
    conn = session.connection()
    mine = set(
        conn.execute(select(Label.item_id).where(Label.annotator_id == annotator_id, Label.item_id.in_(ids))).scalars()
    )
    reserved: dict[int, int] = dict(
        conn.execute(
            select(Assignment.item_id, func.count())
            .where(Assignment.item_id.in_(ids), Assignment.annotator_id != annotator_id, Assignment.expires_at > now)
            .group_by(Assignment.item_id)
        ).all()
    )
    postgres = conn.dialect.name == "postgresql"
    for item_id, n_labeled in rows:
        if item_id in mine or n_labeled + reserved.get(item_id, 0) >= task.overlap:
            continue
        if postgres:
            # serialize the last-slot decision per item; SQLite already holds the write lock. FOR NO
            # KEY UPDATE (a plain FOR UPDATE would also wait for the key-share locks of label inserts
            # on their item, and deadlock against them); SKIP LOCKED: an item another writer holds is
            # passed over rather than waited for (two writers each holding one item and asking for
            # the other's would deadlock). The count read under the lock is the one that decides.
            locked = conn.execute(
                select(Item.n_labeled).where(Item.id == item_id).with_for_update(key_share=True, skip_locked=True)
            ).first()
            if locked is None:
                continue
            others = conn.execute(
                select(func.count()).where(
                    Assignment.item_id == item_id, Assignment.annotator_id != annotator_id, Assignment.expires_at > now
                )
            ).scalar_one()
            if locked.n_labeled + others >= task.overlap:
                continue
        values = {"task_id": task.id, "created_at": now, "expires_at": now + RESERVATION}
        reserve = insert_for(conn.dialect.name, Assignment).values(item_id=item_id, annotator_id=annotator_id, **values)
        conn.execute(reserve.on_conflict_do_update(index_elements=["item_id", "annotator_id"], set_=values))
        return item_id
    return None


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
    while True:
        at = max(cursor[0], 0)
        count = min(span, BUCKETS - at)
        params = {"task_id": task.id, "overlap": task.overlap}
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
                entry = (where, rank(row.shuffle_key, annotator_id, seed), row.id, row.n_labeled)
                if entry[:3] > cursor:
                    placed.append(entry)
        placed.sort()
        item_id = _free_for(session, task, annotator_id, [(p[2], p[3]) for p in placed], now)
        if item_id is not None:
            at_bucket, at_rank, _, _ = next(p for p in placed if p[2] == item_id)
            conn.execute(
                _MOVE,
                {
                    "task": task.id,
                    "me": annotator_id,
                    "pos": at_bucket,
                    "rank": at_rank,
                    "after": item_id,
                    "passes": passes,
                },
            )
            return item_id
        end = at + count - 1
        if wrapped and end >= start[0]:
            return None  # once around: nothing free for this annotator
        if end >= BUCKETS - 1:
            cursor, passes, wrapped = (-1, 0, 0), passes + 1, True
        else:
            cursor = (end, _PAST, _PAST)
        span = min(span * 2, first << GALLOP)


def next_item_and_progress(
    session: Session, task: Task, annotator_id: int, *, seed: int = 0
) -> tuple[int | None, Progress]:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left,
    and the annotator's progress line."""
    now = utcnow()
    conn = session.connection()
    conn.execute(_DROP_EXPIRED, {"task_id": task.id, "now": now})
    place, counts = _place_and_counts(session, task.id, annotator_id)
    current = conn.execute(_MY_RESERVATIONS, {"task_id": task.id, "me": annotator_id, "now": now}).scalars().all()
    if current:
        answered = set(
            conn.execute(
                select(Label.item_id).where(Label.annotator_id == annotator_id, Label.item_id.in_(current))
            ).scalars()
        )
        for item_id in current:
            if item_id not in answered:
                return int(item_id), _progress_of(counts, place)  # a reload shows the same item
    served = _walk(session, task, annotator_id, place, counts[0], now, seed)
    return served, _progress_of(counts, place)


def next_item(session: Session, task: Task, annotator_id: int, *, seed: int = 0) -> int | None:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left."""
    return next_item_and_progress(session, task, annotator_id, seed=seed)[0]


def may_label(session: Session, task: Task, item_id: int, annotator_id: int) -> bool:
    """Whether this annotator may store a label for the item (ids come from the page): only an item
    served to them. They labeled it before (changing an answer, a double click), or hold a
    reservation for it; a reservation that expired while the page stayed open counts while the item
    still has a free slot. A forged id of an item never served to them is refused (it let an
    annotator choose their items, and six of them at once push an item past its overlap). On
    PostgreSQL the item row is locked first, so concurrent submits of one item are counted one after
    another (SQLite's write lock already serializes them)."""
    if session.get_bind().dialect.name == "postgresql":
        # FOR NO KEY UPDATE, as the next-item read takes it (a plain FOR UPDATE deadlocks with the
        # key-share locks of label inserts)
        session.execute(select(Item.id).where(Item.id == item_id).with_for_update(key_share=True))
    own_label = select(Label.id).where(Label.item_id == item_id, Label.annotator_id == annotator_id)
    if session.scalars(own_label).first() is not None:
        return True
    expires = session.scalars(
        select(Assignment.expires_at).where(Assignment.item_id == item_id, Assignment.annotator_id == annotator_id)
    ).first()
    if expires is None:
        return False
    now = utcnow()
    if expires > now:
        return True
    return len(_item_holders(session, item_id, now) - {annotator_id}) < task.overlap


def release(session: Session, item_id: int, annotator_id: int) -> None:
    session.execute(_RELEASE, {"item_id": item_id, "me": annotator_id})


def progress(session: Session, task: Task, annotator_id: int) -> Progress:
    place, counts = _place_and_counts(session, task.id, annotator_id)
    return _progress_of(counts, place)
