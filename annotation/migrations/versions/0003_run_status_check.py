"""judge_runs.status: one vocabulary, enforced (running, cancelling, finished, failed, cancelled)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:40:00

A migration is a snapshot of its day, so it spells the vocabulary out instead of reading
``contracts.vocab.RUN_STATUSES`` (which may grow later, with a migration of its own).
A row with any other status (none is written by judgelab) is marked ``failed`` first, so the
constraint can be added on an existing database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATUSES = ("running", "cancelling", "finished", "failed", "cancelled")
CHECK = f"status IN ({', '.join(repr(s) for s in STATUSES)})"


def upgrade() -> None:
    runs = sa.table("judge_runs", sa.column("status", sa.String), sa.column("error", sa.Text))
    op.execute(
        runs.update()
        .where(runs.c.status.not_in(STATUSES))
        .values(status="failed", error="status outside the vocabulary before migration 0003")
    )
    with op.batch_alter_table("judge_runs", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_run_status", CHECK)


def downgrade() -> None:
    with op.batch_alter_table("judge_runs", schema=None) as batch_op:
        batch_op.drop_constraint("ck_run_status", type_="check")
