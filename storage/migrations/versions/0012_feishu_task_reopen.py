"""feishu_tasks: look a mirrored task up by its guid (Feishu's change events name it), and
`reopen` (ticked off in Feishu while it still waits for a report here)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "feishu_tasks",
        sa.Column("reopen", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_feishu_tasks_guid", "feishu_tasks", ["guid"])


def downgrade() -> None:
    op.drop_index("ix_feishu_tasks_guid", table_name="feishu_tasks")
    with op.batch_alter_table("feishu_tasks") as batch:
        batch.drop_column("reopen")
