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

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from annotation.models import Annotator, Assignment, Item, Label, Task, utcnow

RESERVATION = timedelta(minutes=30)


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()[:8], "big")


def presented_order(annotator_id: int, item_id: int) -> str:
    """'ab' (A on the left) or 'ba', fixed for this annotator and item, about half each."""
    return "ab" if _digest("order", annotator_id, item_id) % 2 == 0 else "ba"


def item_rank(annotator_id: int, item_id: int, seed: int = 0) -> int:
    return _digest("rank", seed, annotator_id, item_id)


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


@dataclass(frozen=True)
class _Slots:
    """Per item, the human annotators holding a slot: by a submitted label, or by a live reservation."""

    labeled: dict[int, set[int]]
    reserved: dict[int, set[int]]

    def holders(self, item_id: int) -> set[int]:
        return self.labeled.get(item_id, set()) | self.reserved.get(item_id, set())


def _slots(session: Session, now: object, *, task_id: int | None = None, item_id: int | None = None) -> _Slots:
    """The slots of every item of ``task_id``, or of the one item ``item_id``."""
    item_filter = Item.task_id == task_id if task_id is not None else Item.id == item_id
    reserve_filter = Assignment.task_id == task_id if task_id is not None else Assignment.item_id == item_id
    labeled: dict[int, set[int]] = {}
    reserved: dict[int, set[int]] = {}
    for item, annotator in session.execute(
        select(Label.item_id, Label.annotator_id)
        .join(Item, Label.item_id == Item.id)
        .join(Annotator, Label.annotator_id == Annotator.id)
        .where(item_filter, Label.status == "submitted", Annotator.kind == "human")
    ):
        labeled.setdefault(item, set()).add(annotator)
    for item, annotator in session.execute(
        select(Assignment.item_id, Assignment.annotator_id).where(reserve_filter, Assignment.expires_at > now)
    ):
        reserved.setdefault(item, set()).add(annotator)
    return _Slots(labeled, reserved)


def _mine(session: Session, task_id: int, annotator_id: int) -> set[int]:
    return set(
        session.scalars(
            select(Label.item_id)
            .join(Item, Label.item_id == Item.id)
            .where(Item.task_id == task_id, Label.annotator_id == annotator_id)
        )
    )


@dataclass(frozen=True)
class _TaskView:
    """One read of what an annotator's next item and progress line both need."""

    done: set[int]
    item_ids: list[int]
    slots: _Slots

    def open_for(self, annotator_id: int, overlap: int) -> list[int]:
        """Items this annotator has not labeled whose other slot holders are below the overlap."""
        return [
            i for i in self.item_ids if i not in self.done and len(self.slots.holders(i) - {annotator_id}) < overlap
        ]


def _task_view(session: Session, task: Task, annotator_id: int, now: object) -> _TaskView:
    done = _mine(session, task.id, annotator_id)
    item_ids = [int(i) for i in session.scalars(select(Item.id).where(Item.task_id == task.id))]
    return _TaskView(done, item_ids, _slots(session, now, task_id=task.id))


def _progress(view: _TaskView, task: Task, annotator_id: int) -> Progress:
    # a reservation by this annotator changes neither count: holders exclude the annotator, and
    # task labels count submitted labels only
    task_labels = sum(min(len(annotators), task.overlap) for annotators in view.slots.labeled.values())
    open_for_me = len(view.open_for(annotator_id, task.overlap))
    return Progress(len(view.done), len(view.done) + open_for_me, task_labels, len(view.item_ids) * task.overlap)


def next_item_and_progress(
    session: Session, task: Task, annotator_id: int, *, seed: int = 0
) -> tuple[int | None, Progress]:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left,
    and the annotator's progress line, from one read of the task."""
    now = utcnow()
    session.execute(delete(Assignment).where(Assignment.task_id == task.id, Assignment.expires_at <= now))
    view = _task_view(session, task, annotator_id, now)
    progress_now = _progress(view, task, annotator_id)
    current = session.scalars(
        select(Assignment.item_id)
        .where(Assignment.task_id == task.id, Assignment.annotator_id == annotator_id, Assignment.expires_at > now)
        .order_by(Assignment.created_at)
    ).all()
    for item_id in current:
        if item_id not in view.done:
            return int(item_id), progress_now  # a reload shows the same item
    postgres = session.get_bind().dialect.name == "postgresql"
    for item_id in sorted(view.open_for(annotator_id, task.overlap), key=lambda i: item_rank(annotator_id, i, seed)):
        if postgres:
            # serialize the last-slot decision per item; SQLite already holds the write lock.
            # FOR NO KEY UPDATE: a plain FOR UPDATE would also wait for the key-share locks that
            # label inserts take on their item (foreign key), and deadlock against them
            session.execute(select(Item.id).where(Item.id == item_id).with_for_update(key_share=True))
            fresh = _slots(session, now, item_id=item_id).holders(item_id)
            if len(fresh - {annotator_id}) >= task.overlap:
                continue
        session.execute(
            delete(Assignment).where(Assignment.item_id == item_id, Assignment.annotator_id == annotator_id)
        )
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
    """Whether this annotator may store a label for the item (ids come from the page): they hold
    one of its slots (their label of any status, or a reservation, even one that expired while the
    page stayed open), or the item still has a free slot."""
    holders = _slots(session, utcnow(), item_id=item_id).holders(item_id)
    if annotator_id in holders or len(holders) < task.overlap:
        return True
    own_label = select(Label.id).where(Label.item_id == item_id, Label.annotator_id == annotator_id)
    own_reservation = select(Assignment.id).where(
        Assignment.item_id == item_id, Assignment.annotator_id == annotator_id
    )
    return session.scalars(own_label).first() is not None or session.scalars(own_reservation).first() is not None


def release(session: Session, item_id: int, annotator_id: int) -> None:
    session.execute(delete(Assignment).where(Assignment.item_id == item_id, Assignment.annotator_id == annotator_id))


def progress(session: Session, task: Task, annotator_id: int) -> Progress:
    return _progress(_task_view(session, task, annotator_id, utcnow()), task, annotator_id)
