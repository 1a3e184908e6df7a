"""The queue at any size: each item's random key and answer count, the task's kept counts, and each
annotator's place in their order (``queue_state``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 11:30:00

``items.shuffle_key`` and ``items.bucket`` place an item in every annotator's order
(annotation.queue_order); the key is a hash of (task id, external id), the bucket its top bits,
computed here for every existing item with the same formula.
``items.n_labeled``, ``tasks.n_items``, ``tasks.n_full``, ``tasks.slots_filled`` and
``queue_state.done`` are counted from the labels here, once; the write paths keep them from then on.
``tasks.labels_version`` counts writes of the task's labels from here on (the dashboard's cache key).
An annotator who labeled before this migration starts their order from the front: the items they
answered are passed over (never served twice), so nothing but the order of what is left changes.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KEY_BITS = 62  # annotation.queue_order's KEY_BITS and BUCKET_BITS on this migration's day
BUCKET_BITS = 12


def _shuffle_key(task_id: int, external_id: str) -> int:
    digest = hashlib.sha256(f"queue:{task_id}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - KEY_BITS)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("items", sa.Column("shuffle_key", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("items", sa.Column("bucket", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("items", sa.Column("n_labeled", sa.Integer(), nullable=False, server_default="0"))
    for name in ("n_items", "n_full", "slots_filled", "labels_version"):
        op.add_column("tasks", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "queue_state",
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("annotators.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False, server_default="-1"),
        sa.Column("after_rank", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("after_item", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("passes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
    )
    items = sa.table(
        "items",
        sa.column("id", sa.Integer),
        sa.column("task_id", sa.Integer),
        sa.column("external_id", sa.String),
        sa.column("shuffle_key", sa.BigInteger),
        sa.column("bucket", sa.Integer),
    )
    rows = bind.execute(sa.select(items.c.id, items.c.task_id, items.c.external_id)).all()
    keys = [{"item": i, "key": _shuffle_key(t, e)} for i, t, e in rows]
    for row in keys:
        row["bucket"] = row["key"] >> (KEY_BITS - BUCKET_BITS)
    for start in range(0, len(keys), 10_000):
        bind.execute(
            items.update()
            .where(items.c.id == sa.bindparam("item"))
            .values(shuffle_key=sa.bindparam("key"), bucket=sa.bindparam("bucket")),
            keys[start : start + 10_000],
        )
    # who holds a slot: human annotators with a submitted label (any question) on the item
    op.execute(
        """
        UPDATE items SET n_labeled = (
            SELECT COUNT(DISTINCT l.annotator_id) FROM labels l JOIN annotators a ON a.id = l.annotator_id
            WHERE l.item_id = items.id AND l.status = 'submitted' AND a.kind = 'human')
        """
    )
    op.execute(
        """
        UPDATE tasks SET
            n_items = (SELECT COUNT(*) FROM items i WHERE i.task_id = tasks.id),
            n_full = (SELECT COUNT(*) FROM items i WHERE i.task_id = tasks.id AND i.n_labeled >= tasks.overlap),
            slots_filled = COALESCE((SELECT SUM(CASE WHEN i.n_labeled >= tasks.overlap THEN tasks.overlap
                                               ELSE i.n_labeled END)
                                     FROM items i WHERE i.task_id = tasks.id), 0)
        """
    )
    op.execute(
        """
        INSERT INTO queue_state (task_id, annotator_id, done)
        SELECT i.task_id, l.annotator_id, COUNT(DISTINCT l.item_id)
        FROM labels l JOIN items i ON i.id = l.item_id JOIN annotators a ON a.id = l.annotator_id
        WHERE a.kind = 'human'
        GROUP BY i.task_id, l.annotator_id
        """
    )
    op.create_index("ix_items_queue", "items", ["task_id", "bucket", "n_labeled"])


def downgrade() -> None:
    op.drop_index("ix_items_queue", table_name="items")
    op.drop_table("queue_state")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        for name in ("labels_version", "slots_filled", "n_full", "n_items"):
            batch_op.drop_column(name)
    with op.batch_alter_table("items", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("n_labeled")
        batch_op.drop_column("bucket")
        batch_op.drop_column("shuffle_key")
