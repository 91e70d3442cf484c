"""What the bot could not answer (without the user's identity) and the weekly counts behind the
statistics page; the NLU's guesses on a message answered with a clarification question.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("guesses", sa.Text(), nullable=True))
    op.create_table(
        "unanswered",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("guesses", sa.Text(), nullable=False),
    )
    op.create_index("ix_unanswered_week", "unanswered", ["week"])
    op.create_index("ix_unanswered_day", "unanswered", ["day"])
    op.create_table(
        "weekly_counts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    # A row per counted message, summed when read: no row that every turn would lock.
    op.create_index("ix_weekly_counts_week", "weekly_counts", ["week"])


def downgrade() -> None:
    op.drop_table("weekly_counts")
    op.drop_index("ix_unanswered_day", "unanswered")
    op.drop_index("ix_unanswered_week", "unanswered")
    op.drop_table("unanswered")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("guesses")
