"""Channel user ids at rest: every table refers to a user by a keyed hash (bot/channel_ids.py);
the id itself (a phone number, a chat id) is kept only encrypted, in `addresses`, for sending.

Rows written before this migration hold the ids as they are: they are turned into references
(and their addresses sealed) with the keys of the settings, ID_KEYS and ID_HASH_KEY.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        "addresses",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    _pseudonymise_existing_rows()


def _pseudonymise_existing_rows() -> None:
    from bot.channel_ids import REF_COLUMNS, REF_PREFIX, channel_ids, rewrite_refs
    from bot.settings import load_settings
    from bot.storage import utcnow

    bind = op.get_bind()
    plain: set[tuple[str, str]] = set()
    for table, channel, column in REF_COLUMNS:
        plain |= {(row[0], row[1]) for row in bind.execute(sa.text(
            f"SELECT DISTINCT {channel}, {column} FROM {table} WHERE {column} NOT LIKE :prefix"),
            {"prefix": REF_PREFIX + "%"})}
    if not plain:
        return  # a new database: nothing to convert, no key needed
    settings = load_settings()
    ids = channel_ids(settings.id_keys, settings.id_hash_key, settings.id_keys_file)
    for channel_name, user_id in sorted(plain):
        ref = ids.ref(channel_name, user_id)
        rewrite_refs(bind, channel_name, user_id, ref)
        bind.execute(sa.text("INSERT INTO addresses (channel, ref, sealed, updated_at) VALUES (:c, :r, :s, :t)"),
                     {"c": channel_name, "r": ref, "s": ids.seal(user_id), "t": utcnow()})


def downgrade() -> None:
    # The references cannot be turned back into ids without the keys; the ids stay hashed.
    op.drop_table("addresses")
