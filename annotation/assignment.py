"""Which item a human annotator sees next.

Each item goes to ``overlap`` distinct annotators and never twice to the same one. Every annotator
walks the items in their own seeded random order. Serving an item reserves one of its slots for a
while (``assignments``); the slot count (annotators who submitted a label, plus live reservations)
is checked and the reservation written in one transaction, under SQLite's write lock or a
PostgreSQL row lock on the item, so two annotators opening the page at once cannot both take the
last slot. Which response is shown on the left is a deterministic random function of
(annotator, item), so a reload or a second submission shows and stores the same order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, case, delete, func, literal, select, union_all
from sqlalchemy.orm import Session

from annotation.models import Annotator, Assignment, Item, Label, Task, utcnow

RESERVATION = timedelta(minutes=30)


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()[:8], "big")


def presented_order(annotator_id: int, item_id: int) -> str:
    """'ab' (A on the left) or 'ba', fixed for this annotator and item, about half each."""
    return "ab" if _digest("order", annotator_id, item_id) % 2 == 0 else "ba"


_MASK = (1 << 64) - 1


def item_rank(annotator_id: int, item_id: int, seed: int = 0) -> int:
    """Where the item comes in this annotator's order: a 64-bit mix (splitmix64's finalizer) of
    (seed, annotator, item). Integer arithmetic rather than a hash of text: every submit ranks every
    open item of the task, so at 10,000 items this is most of the next-item read."""
    x = (seed * 0x9E3779B97F4A7C15 + annotator_id * 0xD6E8FEB86659FD93 + item_id * 0xA0761D6478BD642F) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True)
class Progress:
    done: int
    assigned: int
    task_labels: int
    task_needed: int

    @property
    def task_share(self) -> float:
        return self.task_labels / self.task_needed if self.task_needed else 1.0

    def line(self) -> str:
        return (
            f"{self.done} done of {self.assigned} for you; task {self.task_labels}/{self.task_needed} "
            f"labels ({100 * self.task_share:.0f}%)"
        )


# The statements of the next-item read, built once (they are constants; the values are bound per
# call). A slot of an item is held by a human annotator with a submitted label or a live reservation.
_HUMAN_LABELED = (
    select(Label.item_id.label("item_id"), Label.annotator_id.label("annotator_id"), literal(1).label("labeled"))
    .join(Item, Label.item_id == Item.id)
    .join(Annotator, Label.annotator_id == Annotator.id)
    .where(Item.task_id == bindparam("task_id"), Label.status == "submitted", Annotator.kind == "human")
)
_RESERVED = select(Assignment.item_id, Assignment.annotator_id, literal(0)).where(
    Assignment.task_id == bindparam("task_id"), Assignment.expires_at > bindparam("now")
)
_PAIRS = union_all(_HUMAN_LABELED, _RESERVED).subquery("pairs")
_HOLDERS = (
    select(_PAIRS.c.item_id, _PAIRS.c.annotator_id, func.max(_PAIRS.c.labeled).label("labeled"))
    .group_by(_PAIRS.c.item_id, _PAIRS.c.annotator_id)
    .subquery("holders")
)
# per item with any holder: how many hold a slot, how many by a submitted label, whether "me" is one
_SLOTS_PER_ITEM = select(
    _HOLDERS.c.item_id,
    func.count().label("holders"),
    func.sum(_HOLDERS.c.labeled).label("labeled"),
    func.max(case((_HOLDERS.c.annotator_id == bindparam("me"), 1), else_=0)).label("mine"),
).group_by(_HOLDERS.c.item_id)
_ITEM_IDS = select(Item.id).where(Item.task_id == bindparam("task_id"))
_MINE = (
    select(Label.item_id)
    .join(Item, Label.item_id == Item.id)
    .where(Item.task_id == bindparam("task_id"), Label.annotator_id == bindparam("me"))
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


@dataclass(frozen=True)
class _TaskView:
    """One read of what an annotator's next item and progress line both need: the task's items, the
    annotator's own labels, and per item the slot holders other than the annotator and the human
    labels. Counted by the database: the rows read grow with the items, not with the labels."""

    done: set[int]
    item_ids: list[int]
    others: dict[int, int]
    labeled: dict[int, int]

    def open_for(self, overlap: int) -> list[int]:
        """Items this annotator has not labeled whose other slot holders are below the overlap."""
        return [i for i in self.item_ids if i not in self.done and self.others.get(i, 0) < overlap]


def _task_view(session: Session, task: Task, annotator_id: int, now: object) -> _TaskView:
    # plain rows on the session's connection: the ORM's row loading would cost more than the query
    conn = session.connection()
    done = set(conn.execute(_MINE, {"task_id": task.id, "me": annotator_id}).scalars().all())
    item_ids = list(conn.execute(_ITEM_IDS, {"task_id": task.id}).scalars().all())
    others: dict[int, int] = {}
    labeled: dict[int, int] = {}
    for item_id, holders, n_labeled, mine in conn.execute(
        _SLOTS_PER_ITEM, {"task_id": task.id, "now": now, "me": annotator_id}
    ).all():
        others[item_id] = int(holders) - int(mine)
        labeled[item_id] = int(n_labeled)
    return _TaskView(done, item_ids, others, labeled)


def _progress(view: _TaskView, task: Task, open_items: list[int]) -> Progress:
    # a reservation by this annotator changes neither count: "others" excludes the annotator, and
    # task labels count submitted labels only
    overlap = task.overlap
    task_labels = sum(min(n, overlap) for n in view.labeled.values())
    return Progress(len(view.done), len(view.done) + len(open_items), task_labels, len(view.item_ids) * overlap)


def next_item_and_progress(
    session: Session, task: Task, annotator_id: int, *, seed: int = 0
) -> tuple[int | None, Progress]:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left,
    and the annotator's progress line, from one read of the task."""
    now = utcnow()
    session.execute(_DROP_EXPIRED, {"task_id": task.id, "now": now})
    view = _task_view(session, task, annotator_id, now)
    open_items = view.open_for(task.overlap)
    progress_now = _progress(view, task, open_items)
    current = session.scalars(_MY_RESERVATIONS, {"task_id": task.id, "me": annotator_id, "now": now}).all()
    for item_id in current:
        if item_id not in view.done:
            return int(item_id), progress_now  # a reload shows the same item
    postgres = session.get_bind().dialect.name == "postgresql"
    for item_id in sorted(open_items, key=lambda i: item_rank(annotator_id, i, seed)):
        if postgres:
            # serialize the last-slot decision per item; SQLite already holds the write lock.
            # FOR NO KEY UPDATE: a plain FOR UPDATE would also wait for the key-share locks that
            # label inserts take on their item (foreign key), and deadlock against them
            session.execute(select(Item.id).where(Item.id == item_id).with_for_update(key_share=True))
            if len(_item_holders(session, item_id, now) - {annotator_id}) >= task.overlap:
                continue
        session.execute(_RELEASE, {"item_id": item_id, "me": annotator_id})
        session.add(
            Assignment(
                item_id=item_id,
                annotator_id=annotator_id,
                task_id=task.id,
                created_at=now,
                expires_at=now + RESERVATION,
            )
        )
        session.flush()
        return item_id, progress_now
    return None, progress_now


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
    view = _task_view(session, task, annotator_id, utcnow())
    return _progress(view, task, view.open_for(task.overlap))
