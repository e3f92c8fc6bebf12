"""tasks.next_action_at: when the reminder ladder next needs a task

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows start at "look now" (1970): the first tick computes each exact value.
    # The literal matches how each dialect stores UTCDateTime, so comparisons hold.
    epoch = (
        "1970-01-01 00:00:00.000000"
        if op.get_bind().dialect.name == "sqlite"
        else "1970-01-01 00:00:00+00"
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_action_at",
                storage.models.UTCDateTime(timezone=True),
                nullable=True,
                server_default=sa.text(f"'{epoch}'"),
            )
        )
        batch_op.create_index(
            "ix_tasks_status_next_action", ["status", "next_action_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_next_action")
        batch_op.drop_column("next_action_at")
