"""Outbox rows remember how many parts of a reply went out (a text, then its place's pin; a long
text in pieces), so a retry sends only the rest; and count transient failures apart from
rate-limit waits, so a rate-limit storm does not use up the tries a server error gets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound") as batch:
        batch.add_column(sa.Column("sent_parts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbound") as batch:
        batch.drop_column("failures")
        batch.drop_column("sent_parts")
