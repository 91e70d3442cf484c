"""The messages an outbox row became on the platform (WhatsApp's wamids) and their delivery
reports; an outbox row may now also be `held` (status is a plain string: no schema change).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(160), nullable=False),
        sa.Column("outbound_id", sa.Integer(), sa.ForeignKey("outbound.id", ondelete="CASCADE"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="uq_sent_messages_external"),
    )
    op.create_index("ix_sent_messages_outbound_id", "sent_messages", ["outbound_id"])
    # The 24-hour window is read off the user's last message: their newest inbound row.
    op.create_index("ix_inbound_reply_to", "inbound", ["channel", "reply_to", "platform_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_reply_to", table_name="inbound")
    op.drop_index("ix_sent_messages_outbound_id", table_name="sent_messages")
    op.drop_table("sent_messages")
