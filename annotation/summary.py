"""Counts per task, for the CLI and the demo."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotation.models import Annotator, Item, Label, Task
from annotation.schema import parse_schema


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


@dataclass
class _RaterTally:
    counts: dict[str, int] = field(default_factory=lambda: {"submitted": 0, "skipped": 0, "failed": 0})
    seconds: list[float] = field(default_factory=list)
    gold_hits: list[float] = field(default_factory=list)


def annotator_progress(session: Session, task: Task) -> list[list[object]]:
    """[annotator, kind, submitted, skipped, failed, median seconds per item, gold accuracy (n)] per rater.
    Items are counted by the labels of the task's first question (a skip is stored there); gold
    accuracy counts every question with a gold answer."""
    first = parse_schema(task.label_schema).first.name
    rows = session.execute(
        select(Annotator.name, Annotator.kind, Label.question, Label.status, Label.value, Label.duration_ms, Item.gold)
        .join(Label, Label.annotator_id == Annotator.id)
        .join(Item, Label.item_id == Item.id)
        .where(Item.task_id == task.id)
    ).all()
    tallies: dict[tuple[str, str], _RaterTally] = {}
    for name, kind, question, status, value, duration, gold in rows:
        tally = tallies.setdefault((name, kind), _RaterTally())
        if question in (first, f"{first}.1"):
            tally.counts[status] += 1
            if status == "submitted" and duration is not None:
                tally.seconds.append(duration / 1000)
        if status == "submitted" and isinstance(gold, dict) and question in gold:
            tally.gold_hits.append(1.0 if value == gold[question] else 0.0)
    out: list[list[object]] = []
    for (name, kind), t in sorted(tallies.items()):
        median = round(statistics.median(t.seconds), 1) if t.seconds else None
        gold = f"{sum(t.gold_hits) / len(t.gold_hits):.2f} ({len(t.gold_hits)})" if t.gold_hits else None
        out.append([name, kind, t.counts["submitted"], t.counts["skipped"], t.counts["failed"], median, gold])
    return out
