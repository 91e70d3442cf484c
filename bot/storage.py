"""Persistence: users (language, dialogue state) and every message in and out, via SQLAlchemy 2.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) in production. The schema is
owned by the Alembic migrations in migrations/; `migrate` brings a database up to date.
"""

import datetime as dt
import functools
from dataclasses import dataclass, field, fields
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (Boolean, Date, event, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text,
                        Select, UniqueConstraint, bindparam, select, text, true, update)
import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.elements import BindParameter, TextClause

from bot.settings import PROJECT_ROOT


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    """A stored time as ISO 8601 with its offset (SQLite gives it back without one; it is UTC)."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()


class Base(DeclarativeBase):
    pass


class User(Base):
    """One person on one channel, with the state the dialogue keeps between messages.
    `channel_user_id` is the keyed hash of the channel's id for them (bot/channel_ids.py)."""

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
    # The district the user last chose or named (for the KIM team of their district, and a handoff case).
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # False once the channel says the user blocked the bot: nothing more is sent to them.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # When the user was asked to confirm deleting their data; a confirmation counts for 5 minutes.
    delete_asked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Address(Base):
    """A user's id on a channel (a phone number, a chat id), encrypted (bot/channel_ids.py): what
    sending a reply to `ref` needs. Every other table holds only `ref`, the id's keyed hash."""

    __tablename__ = "addresses"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """One message in (from the user) or out (from the bot)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "in" | "out" | "staff" (a case manager's answer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The buttons offered with an outgoing message, as JSON [{"title", "payload"}], for the history.
    buttons: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The place shown with an outgoing message, as JSON {"name", "address", "latitude", "longitude"}.
    place: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An incoming text answered with "do you mean one of these?": the NLU's best guesses, as JSON
    # [{"intent", "confidence"}], kept until the user's next message says whether they chose one.
    guesses: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Inbound(Base):
    """One message from a channel, stored before the platform is acknowledged (at-least-once in).

    `external_id` is the platform's own id for it (Telegram's update id, WhatsApp's wamid, the web
    page's message id), so a redelivery is recognised; `message` is the parsed, channel-neutral
    IncomingMessage as JSON, and `reply_to` what the channel needs to answer (its chat id...).
    """

    __tablename__ = "inbound"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_inbound_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(160))
    user_ref: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str] = mapped_column(String(128))
    platform_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Outbound(Base):
    """One channel-neutral reply (or a channel's own acknowledgement) to send to an address.

    `payload` is a Reply as JSON, rendered by the channel when it is sent; rows of one
    (channel, recipient) go out in id order.
    """

    __tablename__ = "outbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    # pending | sending | sent | failed | blocked | held (waits until the recipient writes again)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Of those, the ones that failed for a transient reason (5xx, network): after 8 it is given
    # up. Rate-limit waits are not counted: they end when the platform says.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How many of the reply's parts (messages on the platform) went out in earlier attempts.
    sent_parts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)



class Case(Base):
    """A conversation handed to the KI's case managers (handoff): waiting -> claimed -> closed.

    At most one open case per user (a partial unique index on PostgreSQL and SQLite alike);
    `recipient` is the channel's address for replies. What staff see of the user is the
    conversation they consented to share: the user's messages (`messages`), language, channel,
    topic and district."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | claimed | closed
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    consent_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the user was last told that their message reached the team (at most every 10 minutes).
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Consent(Base):
    """A user's answer to the handoff consent question: which text they saw, what, and when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(12))  # yes | no | withdrawn
    version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffUser(Base):
    """A KI case manager or admin of the staff console."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # case_manager | admin
    languages: Mapped[str] = mapped_column(String(128), default="")  # comma-separated codes
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffSession(Base):
    """A signed-in staff member: the cookie holds a random token, stored here only as its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who did what, when, in the staff console (every transcript view and every action)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Unanswered(Base):
    """A message the bot could not answer, kept for staff to improve the content and the NLU.

    Deliberately without the user's identity: no user id, chat id or exact time (only the day, for
    retention, and the ISO week), so nothing links it back to a person or their conversation. The
    text itself is personal data (people write names): retention deletes it after
    MESSAGE_RETENTION_DAYS, like the messages, and an admin may delete a row at once."""

    __tablename__ = "unanswered"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # out_of_scope | low_confidence | clarification (the user chose none of the topics offered)
    # | unknown_detail (the topic was understood, its content does not say)
    kind: Mapped[str] = mapped_column(String(24))
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    week: Mapped[str] = mapped_column(String(8), index=True)  # ISO week in Herne, "2026-W49"
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    # The NLU's best guesses, best first, as JSON [{"intent", "confidence"}].
    guesses: Mapped[str] = mapped_column(Text, default="[]")


class WeeklyCount(Base):
    """An anonymous aggregate for the statistics page: how many questions (`kind` "question", by
    the topic they were answered with) or handoffs (`kind` "handoff", by the case's topic) came
    in a week, per language and channel. Counted in the turn; no personal data, so it outlives
    message retention."""

    __tablename__ = "weekly_counts"
    __table_args__ = (Index("ix_weekly_counts_week", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64))  # "" when there is none
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=0)


def as_seen(rows: "list[Message]") -> list[str]:
    """Each message's text as the user saw it: a pressed button by its title, not its payload."""
    import json

    texts: list[str] = []
    titles: dict[str, str] = {}
    for row in rows:
        if row.direction == "in":
            texts.append(titles.get(row.text, row.text))
            titles = {}
        else:
            texts.append(row.text)
            titles.update({b["payload"]: b["title"] for b in json.loads(row.buttons or "[]")})
    return texts


class SentMessage(Base):
    """One platform message an outbox row became (a long reply may become several), by the
    platform's id (WhatsApp's wamid), with the latest delivery report on it: sent, delivered,
    read or failed (`error` then says why). A report may arrive before the send is recorded:
    the row is then made without `outbound_id`, which the send fills in."""

    __tablename__ = "sent_messages"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_sent_messages_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(160))
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound.id", ondelete="CASCADE"), nullable=True,
                                                    index=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The tables of the rows every message writes, for plain (Core) statements on the turn's path:
# they skip the ORM's unit of work and entity loading (see BENCHMARKS.md, "CPU per message").
USERS = cast(Table, User.__table__)
ADDRESSES = cast(Table, Address.__table__)
MESSAGES = cast(Table, Message.__table__)
INBOUND = cast(Table, Inbound.__table__)
OUTBOUND = cast(Table, Outbound.__table__)
CASES = cast(Table, Case.__table__)
UNANSWERED = cast(Table, Unanswered.__table__)
WEEKLY_COUNTS = cast(Table, WeeklyCount.__table__)




@dataclass
class UserState:
    """A user's row as a turn reads and changes it (plain values; `Storage.save_user` writes them)."""

    id: int
    channel: str
    channel_user_id: str
    language: str | None
    pending_language: str | None
    context_topic: str | None
    context_at: dt.datetime | None
    awaiting_slot: str | None
    district: str | None
    active: bool
    delete_asked_at: dt.datetime | None
    _as_read: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._as_read = self._state()

    def _state(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _USER_STATE)

    @property
    def changed(self) -> bool:
        return self._state() != self._as_read


# The columns a turn may change, and the statements on a user's row every turn runs (built once:
# building a statement and its cache key costs more CPU than running it).
_USER_STATE = ("language", "pending_language", "context_topic", "context_at", "awaiting_slot", "district", "active",
               "delete_asked_at")
_SELECT_USER = select(*(USERS.c[f.name] for f in fields(UserState) if f.init)).where(
    USERS.c.channel == bindparam("channel"), USERS.c.channel_user_id == bindparam("channel_user_id"))
_LOCK_USER = _SELECT_USER.with_for_update()
_LOCKED_USER = _LOCK_USER.lateral("locked_user")


def with_locked_user(query: Select[Any]) -> Select[Any]:
    """PostgreSQL: `query` with the user's row (parameters `channel`, `channel_user_id`) locked
    and added as its last columns, NULL for a new user: one round trip instead of two. Give the
    columns to `Storage.locked_user`."""
    return query.outerjoin(_LOCKED_USER, true()).add_columns(*_LOCKED_USER.c)


# What a database call raises when the database cannot be reached; `unavailable` tells which of
# these mean "try again in a moment" (the rest are faults of ours and stay errors).
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TimeoutError, asyncpg.InterfaceError,
                                                asyncpg.PostgresConnectionError)


def unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is away for now (stopped, restarting, the network to it
    broken, every connection busy): nothing was stored, and the caller asks to be tried again."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    away = (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError, asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError)
    # A connection lost while it was being made comes as a plain DBAPIError whose cause is
    # the driver's connection error (asyncpg's "closed in the middle of operation").
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, away):
            return True
        seen = seen.__cause__ or (getattr(seen, "orig", None) if isinstance(seen, DBAPIError) else None)
    return False


def make_engine(database_url: str) -> AsyncEngine:
    """The engine for a URL.

    SQLite serves one process through one connection: its transactions queue for it in order
    (SQLite's own lock would make them sleep and poll, which gave waits of seconds under load).
    Every transaction takes the write lock when it begins (BEGIN IMMEDIATE), so that a second
    process on the same file (a test, a command) waits instead of failing with "database is
    locked"; the journal is a write-ahead log, synced at checkpoints (a power cut may lose the
    last commits, never corrupt the file)."""
    if not database_url.startswith("sqlite"):
        # A database that does not answer a connection within 10 s counts as away (asyncpg's own default is 60 s).
        return create_async_engine(database_url, pool_size=10, max_overflow=10, connect_args={"timeout": 10})
    database_path = database_url.split("///", 1)[-1]
    if database_path and database_path != ":memory:":
        Path(database_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(database_url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0,
                                 pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN would be deferred
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# Any constant shared by every process of this application: the key of the migration lock.
MIGRATION_LOCK = 482_023_2023


async def migrate(engine: AsyncEngine) -> None:
    """Run the Alembic migrations up to head on this engine, once even when several processes
    start together: on PostgreSQL under a transaction-scoped advisory lock (the second process
    waits, then finds nothing to do); SQLite serves one process."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    def upgrade(connection: object) -> None:
        config = Config(str(PROJECT_ROOT / "alembic.ini"))
        config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(upgrade)


_LATER = "writes at commit"


@dataclass(frozen=True)
class _Write:
    """An INSERT of `rows` (in order), or with `row_id` an UPDATE of that row to `rows[0]`."""

    table: Table
    rows: tuple[dict[str, Any], ...]
    row_id: int | None = None

    @property
    def shape(self) -> "_Shape":
        return self.table, self.row_id is None, tuple(tuple(row) for row in self.rows)


_Shape = tuple[Table, bool, tuple[tuple[str, ...], ...]]  # the table, inserting?, each row's columns


def insert_at_commit(session: AsyncSession, table: Table, *rows: dict[str, Any]) -> None:
    """Rows nothing in the transaction reads back (a count, the turn's messages): kept and
    written when `session` commits, with the other such writes in one statement on PostgreSQL (a
    round trip each saved). Rolled back, they are dropped with the rest."""
    _keep(session, _Write(table, rows))


def update_at_commit(session: AsyncSession, table: Table, row_id: int, **values: Any) -> None:
    """New values for the row `row_id` of `table`, written when `session` commits (see `insert_at_commit`)."""
    _keep(session, _Write(table, (values,), row_id))


def _keep(session: AsyncSession, write: _Write) -> None:
    assert isinstance(session.sync_session, _TurnSession), "a session from Storage.session() writes these"
    session.sync_session.info.setdefault(_LATER, []).append(write)


@functools.lru_cache(maxsize=512)
def _statements(shape: tuple[_Shape, ...], together: bool) -> tuple[TextClause, ...]:
    """The SQL for writes of this shape, built once (SQLAlchemy would compile a many-row INSERT
    anew each time): one statement each, or `together` one statement whose data-modifying WITH
    queries run once each on one snapshot (so no row may be written twice, and none reads
    another's rows)."""
    parts: list[tuple[str, list[BindParameter[Any]]]] = []
    for n, (table, inserting, rows) in enumerate(shape):
        binds: list[BindParameter[Any]] = []

        def bound(column: str, row: int = 0) -> str:
            binds.append(bindparam(f"w{n}_{row}_{column}", type_=table.c[column].type))
            return f":w{n}_{row}_{column}"
        if inserting:
            assert all(row == rows[0] for row in rows), "every row with the same columns"
            values = ", ".join("(" + ", ".join(bound(column, r) for column in row) + ")" for r, row in enumerate(rows))
            parts.append((f"INSERT INTO {table.name} ({', '.join(rows[0])}) VALUES {values}", binds))
        else:
            settings = ", ".join(f"{column} = {bound(column)}" for column in rows[0])
            parts.append((f"UPDATE {table.name} SET {settings} WHERE id = {bound('id')}", binds))
    if together:
        sql = "WITH " + ", ".join(f"w{n} AS ({part})" for n, (part, _) in enumerate(parts)) + " SELECT 1"
        return (text(sql).bindparams(*(bind for _, binds in parts for bind in binds)),)
    return tuple(text(part).bindparams(*binds) for part, binds in parts)


def _parameters(writes: list[_Write]) -> dict[str, Any]:
    return {f"w{n}_{r}_{column}": value for n, write in enumerate(writes) for r, row in enumerate(write.rows)
            for column, value in (row.items() if write.row_id is None else [*row.items(), ("id", write.row_id)])}


class _TurnSession(Session):
    """A session that sends the writes kept by `insert_at_commit` and `update_at_commit` when it commits."""


@event.listens_for(_TurnSession, "before_commit")
def _write_kept(session: Session) -> None:
    writes: list[_Write] = session.info.pop(_LATER, [])
    if not writes:
        return
    updated = [write.table for write in writes if write.row_id is not None]
    together = len(writes) > 1 and session.get_bind().dialect.name == "postgresql" and len(set(updated)) == len(updated)
    statements = _statements(tuple(write.shape for write in writes), together)
    parameters = _parameters(writes)
    for statement in statements:
        session.execute(statement, parameters)  # each takes its own


@event.listens_for(_TurnSession, "after_soft_rollback")
def _drop_kept(session: Session, previous_transaction: object) -> None:
    session.info.pop(_LATER, None)


class Storage:
    """The queries the dialogue needs, each in its own short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_TurnSession)

    def session(self) -> AsyncSession:
        return self._sessions()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that need no transaction of their own (each statement sees what is
        committed when it runs): `autocommit` on PostgreSQL; SQLite's one connection keeps its
        BEGIN IMMEDIATE (see `make_engine`)."""
        if self.engine.dialect.name == "postgresql":
            async with self.autocommit() as connection:
                yield connection
        else:
            async with self.engine.connect() as connection:
                yield connection

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: a connection on which each statement is a transaction by itself, which spares
        the round trips for BEGIN and COMMIT (or ROLLBACK): for reads, and writes of one statement."""
        assert self.engine.dialect.name == "postgresql", "SQLite: use a transaction"
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

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

    async def locked_user(self, session: AsyncSession, columns: Sequence[Any], channel: str,
                          channel_user_id: str) -> "UserState":
        """The user of `with_locked_user`'s columns; created (and locked) if there were none."""
        if columns[0] is None:
            return await self.lock_user(session, channel, channel_user_id)
        user = UserState(*columns)
        user.active = True  # they wrote to us (again), so they no longer block the bot
        return user

    async def lock_user(self, session: AsyncSession, channel: str, channel_user_id: str) -> "UserState":
        """The user, created if new, and locked for the rest of `session`'s transaction (PostgreSQL:
        a row lock, so two turns of one user in any processes run one after the other). A plain
        copy of the row: `save_user` writes what the turn changed."""
        mine = {"channel": channel, "channel_user_id": channel_user_id}
        lock = _LOCK_USER if self.engine.dialect.name == "postgresql" else _SELECT_USER
        row = (await session.execute(lock, mine)).first()
        if row is None:
            await self.get_or_create_user(session, channel, channel_user_id)
            row = (await session.execute(lock, mine)).first()
            assert row is not None
        user = UserState(*row)
        user.active = True  # they wrote to us (again), so they no longer block the bot
        return user

    @staticmethod
    def save_user(session: AsyncSession, user: "UserState") -> None:
        """Write what changed of a locked user's row, when `session`'s transaction commits."""
        if user.changed:
            update_at_commit(session, USERS, user.id, updated_at=utcnow(),
                             **{name: getattr(user, name) for name in _USER_STATE})

    @staticmethod
    async def delete_user(session: AsyncSession, user: "UserState") -> None:
        """Delete a user and everything kept about them (asked for with /delete), in `session`:
        their messages, cases, consents, the inbox rows of their earlier messages, the replies to
        them in the outbox (sent or still queued) and the platform's delivery reports on those.
        Kept: the inbox row of the message being answered now (its text is emptied when the turn
        ends; retention removes the row) and the answer that says the data is deleted."""
        from sqlalchemy import delete

        for table in (Message, Case, Consent):
            await session.execute(delete(table).where(table.user_id == user.id))  # type: ignore[attr-defined]
        await session.execute(delete(Inbound).where(Inbound.channel == user.channel,
                                                    Inbound.user_ref == user.channel_user_id,
                                                    Inbound.status != "pending"))
        replies = select(Outbound.id).where(Outbound.channel == user.channel, Outbound.recipient == user.channel_user_id)
        await session.execute(delete(SentMessage).where(SentMessage.outbound_id.in_(replies)))
        await session.execute(delete(Outbound).where(Outbound.id.in_(replies)))
        await session.execute(delete(User).where(User.id == user.id))

    async def ping(self) -> bool:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError):
            return False
