"""Counts per task, for the CLI and the demo."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotation.models import Annotator, Item, Label, Task


@dataclass(frozen=True)
class TaskCounts:
    name: str
    protocol: str
    items: int
    labels: dict[str, int]
    annotators: dict[str, int]

    def line(self) -> str:
        labels = ", ".join(f"{n} {status}" for status, n in sorted(self.labels.items())) or "no labels"
        raters = ", ".join(f"{n} {kind}" for kind, n in sorted(self.annotators.items())) or "no raters"
        return f"{self.name} ({self.protocol}): {self.items} items; labels: {labels}; raters: {raters}"


def task_counts(session: Session, task: Task) -> TaskCounts:
    items = session.scalar(select(func.count()).select_from(Item).where(Item.task_id == task.id)) or 0
    by_status = session.execute(
        select(Label.status, func.count())
        .join(Item, Label.item_id == Item.id)
        .where(Item.task_id == task.id)
        .group_by(Label.status)
    ).all()
    by_kind = session.execute(
        select(Annotator.kind, func.count(func.distinct(Annotator.id)))
        .join(Label, Label.annotator_id == Annotator.id)
        .join(Item, Label.item_id == Item.id)
        .where(Item.task_id == task.id)
        .group_by(Annotator.kind)
    ).all()
    return TaskCounts(task.name, task.protocol, items, dict(by_status), dict(by_kind))


def task_summaries(session: Session) -> list[str]:
    tasks = session.scalars(select(Task).order_by(Task.name)).all()
    if not tasks:
        return ["no tasks yet: import data with 'judgelab import FILE --task NAME'"]
    return [task_counts(session, t).line() for t in tasks]


def annotator_progress(session: Session, task: Task) -> list[list[object]]:
    """[annotator, kind, submitted, skipped, failed, median seconds per item, gold accuracy] per rater."""
    import statistics

    rows = session.execute(
        select(Annotator.name, Annotator.kind, Label.status, Label.value, Label.duration_ms, Item.gold_value)
        .join(Label, Label.annotator_id == Annotator.id)
        .join(Item, Label.item_id == Item.id)
        .where(Item.task_id == task.id)
    ).all()
    stats: dict[tuple[str, str], dict[str, list[float] | int]] = {}
    for name, kind, status, value, duration, gold in rows:
        s = stats.setdefault((name, kind), {"submitted": 0, "skipped": 0, "failed": 0, "durations": [], "gold": []})
        s[status] = int(s[status]) + 1  # type: ignore[call-overload]
        if duration is not None and status == "submitted":
            s["durations"].append(duration / 1000)  # type: ignore[union-attr]
        if gold is not None and status == "submitted":
            s["gold"].append(1.0 if value == gold else 0.0)  # type: ignore[union-attr]
    out: list[list[object]] = []
    for (name, kind), s in sorted(stats.items()):
        durations = s["durations"]
        gold = s["gold"]
        assert isinstance(durations, list) and isinstance(gold, list)
        out.append(
            [
                name,
                kind,
                s["submitted"],
                s["skipped"],
                s["failed"],
                round(statistics.median(durations), 1) if durations else None,
                f"{sum(gold) / len(gold):.2f} ({len(gold)})" if gold else None,
            ]
        )
    return out
