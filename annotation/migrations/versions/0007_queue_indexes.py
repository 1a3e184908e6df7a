"""Indexes the query planner cannot take for the wrong ones

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 17:55:00

``ix_items_task_id`` (task_id) repeated the first column of ``ix_items_queue`` (task_id, bucket,
n_labeled) and of ``uq_item_task_external`` (task_id, external_id). On statistics that lag an import,
PostgreSQL's planner took it for the queue's read of a few buckets and filtered every item of the
task per bucket (32 ms a submit at 1,000 items): dropped, every query it served starts with task_id
in the other two. ``ix_labels_annotator`` (annotator_id) becomes (annotator_id, item_id): "has this
annotator labeled this item" is one index probe whichever index the planner picks, instead of a walk
through all of the annotator's labels.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_items_task_id", table_name="items")
    op.drop_index("ix_labels_annotator", table_name="labels")
    op.create_index("ix_labels_annotator_item", "labels", ["annotator_id", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_labels_annotator_item", table_name="labels")
    op.create_index("ix_labels_annotator", "labels", ["annotator_id"])
    op.create_index("ix_items_task_id", "items", ["task_id"])
