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


def next_item(session: Session, task: Task, annotator_id: int, *, seed: int = 0) -> int | None:
    """The next item for this annotator (reserving a slot for it), or None when nothing is left."""
    now = utcnow()
    session.execute(delete(Assignment).where(Assignment.task_id == task.id, Assignment.expires_at <= now))
    done = _mine(session, task.id, annotator_id)
    current = session.scalars(
        select(Assignment.item_id)
        .where(Assignment.task_id == task.id, Assignment.annotator_id == annotator_id, Assignment.expires_at > now)
        .order_by(Assignment.created_at)
    ).all()
    for item_id in current:
        if item_id not in done:
            return int(item_id)  # a reload shows the same item
    item_ids = session.scalars(select(Item.id).where(Item.task_id == task.id)).all()
    slots = _slots(session, now, task_id=task.id)
    postgres = session.get_bind().dialect.name == "postgresql"
    for item_id in sorted((i for i in item_ids if i not in done), key=lambda i: item_rank(annotator_id, i, seed)):
        if len(slots.holders(item_id) - {annotator_id}) >= task.overlap:
            continue
        if postgres:
            # serialize the last-slot decision per item; SQLite already holds the write lock
            session.execute(select(Item.id).where(Item.id == item_id).with_for_update())
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
        return int(item_id)
    return None


def release(session: Session, item_id: int, annotator_id: int) -> None:
    session.execute(delete(Assignment).where(Assignment.item_id == item_id, Assignment.annotator_id == annotator_id))


def progress(session: Session, task: Task, annotator_id: int) -> Progress:
    now = utcnow()
    done = _mine(session, task.id, annotator_id)
    item_ids = session.scalars(select(Item.id).where(Item.task_id == task.id)).all()
    slots = _slots(session, now, task_id=task.id)
    open_for_me = sum(1 for i in item_ids if i not in done and len(slots.holders(i) - {annotator_id}) < task.overlap)
    task_labels = sum(min(len(annotators), task.overlap) for annotators in slots.labeled.values())
    return Progress(len(done), len(done) + open_for_me, task_labels, len(item_ids) * task.overlap)
