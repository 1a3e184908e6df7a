"""SQLAlchemy 2 typed ORM for the tables of ARCHITECTURE.md section 3.

The schema is created and changed only by Alembic migrations (annotation/migrations); tests use the
same migrations, so what is tested is what is deployed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from annotation.queue_order import bucket_of, shuffle_key
from contracts.vocab import (
    ANNOTATOR_KINDS,
    DEFAULT_QUESTION,
    LABEL_STATUSES,
    PRESENTED_ORDERS,
    PROTOCOLS,
    ROLES,
    RUN_STATUSES,
    sql_in,
)

__all__ = ["ANNOTATOR_KINDS", "LABEL_STATUSES", "PRESENTED_ORDERS", "PROTOCOLS", "ROLES", "RUN_STATUSES"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Annotator(Base):
    __tablename__ = "annotators"
    __table_args__ = (CheckConstraint(sql_in("kind", ANNOTATOR_KINDS), name="ck_annotator_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    config_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User | None] = relationship(back_populates="annotator", uselist=False)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(sql_in("role", ROLES), name="ck_user_role"),)

    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # a disabled account cannot log in; sessions started before sessions_valid_after are over
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sessions_valid_after: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    annotator: Mapped[Annotator] = relationship(back_populates="user")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(sql_in("protocol", PROTOCOLS), name="ck_task_protocol"),
        CheckConstraint("overlap >= 1", name="ck_task_overlap"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    protocol: Mapped[str] = mapped_column(String(16))
    label_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    instructions: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # kept by the write paths (annotation.queue_counts) so that the queue and the progress line read
    # them instead of counting: items, items with `overlap` human answers, and the answers that count
    # toward the overlap (sum over items of min(human answers, overlap))
    n_items: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_full: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    slots_filled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # one more on every write of any label of the task (the one write path): the dashboard keeps a
    # refresh until it changes
    labels_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def _default_shuffle_key(context: Any) -> int:
    params = context.get_current_parameters()
    return shuffle_key(params["task_id"], params["external_id"])


def _default_bucket(context: Any) -> int:
    params = context.get_current_parameters()
    key = params.get("shuffle_key")
    return bucket_of(key if key is not None else _default_shuffle_key(context))


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("task_id", "external_id", name="uq_item_task_external"),
        # the queue's walk: the open items of an annotator's next few buckets are one read of this index
        Index("ix_items_queue", "task_id", "bucket", "n_labeled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: ix_items_queue and uq_item_task_external start with it (migration 0007)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    # pairwise: the two responses; single: the response is response_a and response_b is NULL
    response_a: Mapped[str] = mapped_column(Text)
    response_b: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_a: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_b: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # multi-turn items: {"prompt": [...], "a": [...], "b": [...]} lists of {role, content}
    conversation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # a checklist (TICK): {"entries": [...], "source": "item" | "generated", "generator": name,
    # "config_hash": ...}; gold answers: {question: value}
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    gold: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # the item's place in every annotator's order (annotation.queue_order), and how many human
    # annotators submitted an answer to it (kept by the label write path)
    shuffle_key: Mapped[int] = mapped_column(BigInteger, default=_default_shuffle_key, server_default="0")
    bucket: Mapped[int] = mapped_column(Integer, default=_default_bucket, server_default="0")
    n_labeled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class JudgeRun(Base):
    __tablename__ = "judge_runs"
    __table_args__ = (CheckConstraint(sql_in("status", RUN_STATUSES), name="ck_run_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    n_total: Mapped[int] = mapped_column(Integer, default=0)
    n_done: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("item_id", "annotator_id", "question", "presented_order", "replicate", name="uq_label_key"),
        CheckConstraint(sql_in("status", LABEL_STATUSES), name="ck_label_status"),
        CheckConstraint(sql_in("presented_order", PRESENTED_ORDERS), name="ck_label_order"),
        CheckConstraint("replicate >= 0", name="ck_label_replicate"),
        Index("ix_labels_annotator_item", "annotator_id", "item_id"),
        # the labels written since a version (annotation.label_frames.label_rows(since=)): found in the index
        Index("ix_labels_item_version", "item_id", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    # the task's question this label answers (a checklist entry is NAME.K)
    question: Mapped[str] = mapped_column(String(64), default=DEFAULT_QUESTION, server_default=DEFAULT_QUESTION)
    replicate: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True)
    presented_order: Mapped[str] = mapped_column(String(2))
    rationale: Mapped[str | None] = mapped_column(Text, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    probabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    raw_output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    judge_run_id: Mapped[int | None] = mapped_column(ForeignKey("judge_runs.id", ondelete="SET NULL"), nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # the task's labels_version this label was last written at (its insert or its last change), set by
    # the one write path under the task's turn, so versions follow commit order within a task: what a
    # reader holds at version V is brought up to date by the labels above V (annotation.frame_cache)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LabelEvent(Base):
    __tablename__ = "label_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_status: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Assignment(Base):
    """An item handed to a human annotator and not yet labeled: it holds one of the item's
    ``overlap`` slots until it is labeled or expires, so two annotators opening the page at once
    cannot both take the last slot."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("item_id", "annotator_id", name="uq_assignment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class QueueState(Base):
    """One annotator's place in one task: the last item of their order that the queue walked past, as
    (place of its bucket in their order, its rank in the bucket, item id) (``position`` -1: not
    started), how many times they went through the whole order, and how many of the task's items
    they answered or skipped (kept by the label write path)."""

    __tablename__ = "queue_state"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    after_rank: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    after_item: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    passes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
