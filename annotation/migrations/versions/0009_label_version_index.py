"""An index on the labels' item and version, for the labels written since a version

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 09:00:00

A running dashboard reads only the labels of a task above the version it holds
(``annotation.label_frames.label_rows(since=)``). Without this index SQLite found them by reading
every label row of the task's items (0.28 s at 500,000 labels); with it, from the index alone
(0.09 s).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_labels_item_version", "labels", ["item_id", "version"])


def downgrade() -> None:
    op.drop_index("ix_labels_item_version", table_name="labels")
