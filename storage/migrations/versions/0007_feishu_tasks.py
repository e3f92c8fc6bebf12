"""feishu_tasks: tasks mirrored in Feishu Tasks v2 (guid, what was last queued)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feishu_tasks",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=64), nullable=True),
        sa.Column("assignee_open_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_feishu_tasks_closed", "feishu_tasks", ["closed"])


def downgrade() -> None:
    op.drop_index("ix_feishu_tasks_closed", table_name="feishu_tasks")
    op.drop_table("feishu_tasks")
