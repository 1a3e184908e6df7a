"""users: an account can be disabled, and every session of a user started before
``sessions_valid_after`` is over (a password change, a disable or a removal ends them)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("sessions_valid_after", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("sessions_valid_after")
        batch_op.drop_column("disabled")
