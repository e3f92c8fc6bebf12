"""outbox purpose, priority, lane and expiry; markers carry their outbox uuid; shared
rate-limit buckets

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=16), nullable=False, server_default="notice")
        )
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="2"))
        batch.add_column(sa.Column("lane", sa.String(length=80), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("expires_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    # Rows already queued: answers were replies, card updates and patches are what they say;
    # their lane is the receiver the worker used to group them by.
    op.execute(
        "UPDATE outbound_messages SET purpose = CASE kind WHEN 'reply' THEN 'answer' "
        "WHEN 'patch' THEN 'card' WHEN 'card_update' THEN 'card_update' ELSE 'notice' END, "
        "priority = CASE kind WHEN 'reply' THEN 0 WHEN 'card_update' THEN 0 "
        "WHEN 'patch' THEN 1 ELSE 2 END, "
        "lane = COALESCE(receive_id, target_message_id, target_uuid, '')"
    )
    # Rows parked 'failed' after 8 attempts by the old worker (outages): give them one more
    # life; the worker expires what is too old to matter.
    op.execute(
        "UPDATE outbound_messages SET status = 'pending' WHERE status = 'failed' AND attempts >= 8"
    )
    op.create_index(
        "ix_outbound_lane_claim", "outbound_messages", ["status", "lane", "priority", "id"]
    )
    with op.batch_alter_table("markers") as batch:
        batch.add_column(sa.Column("outbox_uuid", sa.String(length=50), nullable=True))
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    with op.batch_alter_table("markers") as batch:
        batch.drop_column("outbox_uuid")
    op.drop_index("ix_outbound_lane_claim", table_name="outbound_messages")
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("lane")
        batch.drop_column("priority")
        batch.drop_column("purpose")
