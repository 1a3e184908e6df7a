"""Label schemas with several questions: ``labels.question`` (in the unique key), the item's
``checklist`` (TICK) and its ``gold`` answers per question

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 08:30:00

Every existing label answers the task's one question, which every older schema calls ``verdict``
(the server default fills the column). The unique key becomes (item, annotator, question,
presented_order, replicate). ``items.gold_value`` (one answer) becomes ``items.gold`` (question ->
answer), ``{"verdict": value}`` for every existing gold item.

SQLite cannot change a table's constraint in place: Alembic's batch mode copies ``labels`` into a new
table and drops the old one, and with foreign keys on, dropping ``labels`` cascades to
``label_events``. The events are copied aside first and put back with their ids, inside the same
transaction, so nothing is lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULT_QUESTION = "verdict"  # contracts.vocab.DEFAULT_QUESTION on this migration's day
EVENT_COLUMNS = "id, label_id, old_status, new_status, old_value, new_value, changed_by, changed_at"


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.add_column("items", sa.Column("checklist", sa.JSON(), nullable=True))
    op.add_column("items", sa.Column("gold", sa.JSON(), nullable=True))
    items = sa.table(
        "items", sa.column("id", sa.Integer), sa.column("gold_value", sa.String), sa.column("gold", sa.JSON)
    )
    for item_id, value in bind.execute(
        sa.select(items.c.id, items.c.gold_value).where(items.c.gold_value.is_not(None))
    ):
        bind.execute(items.update().where(items.c.id == item_id).values(gold={DEFAULT_QUESTION: value}))
    with op.batch_alter_table("items", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("gold_value")

    if sqlite:
        op.execute(f"CREATE TEMPORARY TABLE judgelab_events_kept AS SELECT {EVENT_COLUMNS} FROM label_events")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("question", sa.String(length=64), nullable=False, server_default=DEFAULT_QUESTION)
        )
        batch_op.drop_constraint("uq_label_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_label_key", ["item_id", "annotator_id", "question", "presented_order", "replicate"]
        )
    if sqlite:
        op.execute("DELETE FROM label_events")
        op.execute(f"INSERT INTO label_events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM judgelab_events_kept")
        op.execute("DROP TABLE judgelab_events_kept")


def downgrade() -> None:
    raise NotImplementedError("0005 moves data into per-question labels; restore a backup to go back")
