"""One inbox and one outbox for every channel; buttons kept with outgoing messages (history);
when a user asked to delete their data (the confirmation must follow within 5 minutes).

The Telegram-only inbox and outbox of 0002 are dropped: rows still pending there are not carried
over (there was no production deployment yet).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_status_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbox_status", table_name="inbox")
    op.drop_table("inbox")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("delete_asked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("buttons", sa.Text(), nullable=True))
    op.create_table(
        "inbound",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(160), nullable=False),
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(128), nullable=False),
        sa.Column("platform_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "external_id", name="uq_inbound_external"),
    )
    op.create_index("ix_inbound_status_due", "inbound", ["status", "next_attempt_at"])
    op.create_index("ix_inbound_user", "inbound", ["channel", "user_ref", "status"])
    op.create_table(
        "outbound",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbound_status_due", "outbound", ["status", "next_attempt_at"])
    op.create_index("ix_outbound_recipient", "outbound", ["channel", "recipient", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_recipient", table_name="outbound")
    op.drop_index("ix_outbound_status_due", table_name="outbound")
    op.drop_table("outbound")
    op.drop_index("ix_inbound_user", table_name="inbound")
    op.drop_index("ix_inbound_status_due", table_name="inbound")
    op.drop_table("inbound")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("buttons")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("delete_asked_at")
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "bot_id", "update_id", name="uq_inbox_update"),
    )
    op.create_index("ix_inbox_status", "inbox", ["status"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"])
