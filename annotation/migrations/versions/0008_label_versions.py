"""Each label carries the task's labels_version it was last written at

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:00:00

``labels.version``: set by the one write path (``annotation.store``) to the task's new
``labels_version`` on every insert and change of a label, under the task's turn, so that within a
task the versions follow the order of the commits. The dashboard keeps a task's frames and reads
only the labels above the version it holds (``annotation.frame_cache``). Labels written before this
revision hold 0: the first read after it reads them all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("labels", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("version")
