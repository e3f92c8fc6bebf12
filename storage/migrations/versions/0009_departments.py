"""departments: several departments in one deployment, each with its own policy

Members, chats, tasks, roles and duties carry the key of their department; existing rows
belong to the default department.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT = "default"


def _department_column() -> sa.Column:
    return sa.Column(
        "department",
        sqlmodel.sql.sqltypes.AutoString(length=32),
        nullable=False,
        server_default=DEFAULT,
    )


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("policy_path", sa.Text(), nullable=False),
        sa.Column("policy_text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # Another department's roles and duties are stored as "<department>:<key>"
    # (storage.models.stored_key): the existing ones are the default department's.
    for table in ("members", "chats", "tasks", "roles", "duties"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_department_column())


def downgrade() -> None:
    for table in ("roles", "duties"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE department != '{DEFAULT}'"))
    for table in ("members", "chats", "tasks", "roles", "duties"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("department")
    op.drop_table("departments")
