"""Persistence: users (language, dialogue state) and every message in and out, via SQLAlchemy 2.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) in production. The schema is
owned by the Alembic migrations in migrations/; `migrate` brings a database up to date.
"""

import datetime as dt
from pathlib import Path

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.settings import PROJECT_ROOT


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class User(Base):
    """One person on one channel, with the state the dialogue keeps between messages."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id", name="uq_users_channel_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # A language seen in the previous message that differs from `language`; a second one switches.
    pending_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    context_topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    context_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    awaiting_slot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # False once the channel says the user blocked the bot: nothing more is sent to them.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Message(Base):
    """One message in (from the user) or out (from the bot)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxUpdate(Base):
    """A channel update as received, stored before the channel is acknowledged (at-least-once in)."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "bot_id", "update_id", name="uq_inbox_update"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    bot_id: Mapped[str] = mapped_column(String(64))
    update_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | done
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboxMessage(Base):
    """One call to a channel's API (a reply), retried until sent, given up, or the user blocked us."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed | blocked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def make_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        database_path = database_url.split("///", 1)[-1]
        if database_path and database_path != ":memory:":
            Path(database_path).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(database_url)


async def migrate(engine: AsyncEngine) -> None:
    """Run the Alembic migrations up to head on this engine."""
    from alembic import command
    from alembic.config import Config

    def upgrade(connection: object) -> None:
        config = Config(str(PROJECT_ROOT / "alembic.ini"))
        config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


class Storage:
    """The queries the dialogue needs, each in its own short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self._sessions()

    async def get_or_create_user(self, session: AsyncSession, channel: str, channel_user_id: str) -> User:
        user = await session.scalar(
            select(User).where(User.channel == channel, User.channel_user_id == channel_user_id)
        )
        if user is None:
            try:
                async with session.begin_nested():
                    user = User(channel=channel, channel_user_id=channel_user_id)
                    session.add(user)
            except IntegrityError:
                # Two first messages at once: the other one created the user; use that row.
                user = await session.scalar(
                    select(User).where(User.channel == channel, User.channel_user_id == channel_user_id)
                )
                assert user is not None
        elif not user.active:
            user.active = True  # they wrote to us again, so they no longer block the bot
        return user

    async def delete_user(self, user_id: int) -> None:
        """Delete a user and every message of theirs (asked for with /delete)."""
        from sqlalchemy import delete

        async with self.session() as session:
            await session.execute(delete(Message).where(Message.user_id == user_id))
            await session.execute(delete(User).where(User.id == user_id))
            await session.commit()

    async def ping(self) -> bool:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError):
            return False
