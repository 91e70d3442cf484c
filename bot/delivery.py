"""The delivery core every channel shares: the inbox, the conversation turn, the outbox.

In:   a channel hands each parsed message to `Delivery.receive`, which stores it (unique on the
      channel and the platform's id) before the channel acknowledges the platform.
Turn: one transaction per message: claim the inbox row, lock the user, let the dialogue answer,
      queue the replies, mark the row done. A turn that raises is retried with backoff; after
      `max_attempts` it is marked failed, logged with its traceback, and the user gets a short
      apology in their language. It never holds up other users.
Out:  the outbox worker leases due rows (oldest first, one at a time per recipient, so each
      conversation keeps its order), asks the channel to render and send them, and records what
      the channel reports: sent (with the platform's message ids, for its delivery reports),
      retry after t, recipient blocked, rejected for good, or held: the platform takes it only
      after the recipient writes again (WhatsApp's 24-hour window). A held row and everything
      queued behind it for that recipient wait, and go out when the next message from them is
      stored.

Several processes may share one PostgreSQL database: rows are claimed with
`SELECT … FOR UPDATE SKIP LOCKED`, users are row-locked for their turn, and an outbox lease that
a dead process left behind expires. SQLite serves one process (its transactions take the write
lock when they begin, see bot.storage.make_engine).
"""

import asyncio
import datetime as dt
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.channels.base import (
    Blocked,
    Channel,
    Held,
    Outgoing,
    Received,
    Rejected,
    RetryAfter,
    SendResult,
    Sent,
    message_from_json,
    message_to_json,
)
from bot.channel_ids import ChannelIds
from bot.dialogue import Dialogue, StoredContext
from bot.handoff import Notifier
from bot.messages import IncomingMessage, Outcome, Reply, reply_from_json, reply_to_json
from bot.storage import (ADDRESSES, DATABASE_ERRORS, INBOUND, OUTBOUND, USERS, Address, Inbound, Outbound, SentMessage,
                         Storage, User, unavailable, update_at_commit, utcnow, with_locked_user)

log = logging.getLogger(__name__)

# How long a channel answering a message itself (the web chat, in the request) keeps the
# workers off it; how long a process may take to send one outbox row before another may.
INLINE_LEASE = dt.timedelta(seconds=30)
SEND_LEASE = dt.timedelta(seconds=60)
MAX_SEND_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
# Delivery reports only move forward (a late "delivered" does not undo "read"); "failed" is final.
REPORT_ORDER = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
POLL_SECONDS = 1.0  # how often workers look for rows another process stored
MAX_TURNS_AT_ONCE = 20  # turns the inbox worker of one process runs at the same time
T = TypeVar("T")


# The statements every message runs, built once (building one and its cache key costs more CPU
# than running it).
_STORE_INBOUND = insert(INBOUND).returning(INBOUND.c.id)
_RELEASE_HELD = (update(OUTBOUND).where(OUTBOUND.c.channel == bindparam("held_channel"),
                                        OUTBOUND.c.recipient == bindparam("held_recipient"), OUTBOUND.c.status == "held")
                 .values(status="pending", next_attempt_at=bindparam("released_at")).returning(OUTBOUND.c.id))
# PostgreSQL: both in one statement (a round trip, and no BEGIN and COMMIT of their own). The
# values are named apart from the columns: a key that names a column would join the UPDATE too.
_RELEASED = _RELEASE_HELD.cte("released")
# The reply address, sealed (bot/channel_ids.py), kept once per (channel, reference).
_SEAL_VALUES: dict[str, Any] = {"channel": bindparam("address_channel"), "ref": bindparam("address_ref"),
                "sealed": bindparam("address_sealed"), "updated_at": bindparam("released_at")}
_SEAL_POSTGRES = postgres_insert(ADDRESSES).values(_SEAL_VALUES).on_conflict_do_nothing()
_SEALED = _SEAL_POSTGRES.cte("sealed")
_SEAL_SQLITE = sqlite_insert(ADDRESSES).values(_SEAL_VALUES).on_conflict_do_nothing()
_STORE_INBOUND_POSTGRES = (
    insert(INBOUND).values({name: bindparam(f"inbound_{name}") for name in (
        "channel", "external_id", "user_ref", "message", "reply_to", "platform_at", "status", "attempts",
        "next_attempt_at", "received_at")})
    .add_cte(_RELEASED).add_cte(_SEALED).returning(
        INBOUND.c.id, select(func.count()).select_from(_RELEASED).scalar_subquery(),
        *(select(column).where(USERS.c.channel == bindparam("inbound_channel"),
                               USERS.c.channel_user_id == bindparam("inbound_user_ref")).scalar_subquery()
          for column in (USERS.c.context_topic, USERS.c.context_at, USERS.c.language))))
_PENDING_MESSAGE = select(INBOUND.c.message).where(INBOUND.c.id == bindparam("row_id"), INBOUND.c.status == "pending")
_USER_CONTEXT = select(USERS.c.context_topic, USERS.c.context_at, USERS.c.language).where(
    USERS.c.channel == bindparam("channel"), USERS.c.channel_user_id == bindparam("channel_user_id"))
_CLAIM = select(INBOUND.c.channel, INBOUND.c.reply_to, INBOUND.c.message).where(
    INBOUND.c.id == bindparam("row_id"), INBOUND.c.status == "pending")
# PostgreSQL: the row claimed (skipped if another process has it) and its user locked, in one statement.
_CLAIM_POSTGRES = with_locked_user(_CLAIM).with_for_update(of=INBOUND, skip_locked=True)
_STORE_OUTBOUND = insert(OUTBOUND)


@dataclass(frozen=True)
class _Inline:
    """A message a channel answers itself, and its user's context (topic, when, language) as it was stored."""

    message: IncomingMessage
    context: StoredContext


@dataclass(frozen=True)
class Retries:
    """Inbound turns: attempts before giving up, and the first backoff (doubled each time)."""

    max_attempts: int = 3
    first_backoff_seconds: float = 2.0


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


async def supervise(name: str, run: Callable[[], Awaitable[None]], max_backoff: float = 30.0) -> None:
    """Run a background loop forever: when it crashes, log the traceback and start it again."""
    delay = 0.5
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await run()
            log.error("%s stopped by itself; starting it again in %.1f s", name, delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; starting it again in %.1f s", name, delay)
        if asyncio.get_running_loop().time() - started > 60:
            delay = 0.5  # it ran fine for a while: this is a new fault, not the same one again
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_backoff)


class Delivery:
    """Inbox, turns and outbox, with their two background workers."""

    def __init__(self, storage: Storage, dialogue: Dialogue, ids: ChannelIds, retries: Retries = Retries(),
                 notifier: Notifier | None = None) -> None:
        # How channel ids are stored: every row holds `ids.ref(...)`, the addresses table the id sealed.
        self.ids = ids
        self._storage = storage
        self._dialogue = dialogue
        self._notifier = notifier or Notifier(None)
        self._retries = retries
        self._channels: dict[str, Channel] = {}
        self._inbound_ready = asyncio.Event()
        self._outbound_ready = asyncio.Event()
        self._busy: set[int] = set()  # inbox rows this process is answering right now
        self._inline: dict[int, _Inline] = {}  # of those, the ones a channel answers itself
        self._tasks: list[asyncio.Task[None]] = []
        self._postgres = storage.engine.dialect.name == "postgresql"

    def add_channel(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(supervise("inbox worker", self._inbound_worker), name="inbox-worker"),
            asyncio.create_task(supervise("outbox worker", self._outbound_worker), name="outbox-worker"),
        ]
        self._inbound_ready.set()  # answer what a previous run left pending
        self._outbound_ready.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- in ------------------------------------------------------------------------------

    async def receive(self, received: Received, inline: bool = False) -> int | None:
        """Store a message; its row id, or None when the platform delivered it before.

        The channel's ids are stored as their references (bot/channel_ids.py): the message's user
        and its reply address, whose id is sealed in the address book for sending.
        `inline`: the channel answers it at once itself (`answer_now`); the workers leave it
        alone for a while, and take over if that fails. The same statement reads the user's
        conversation context, for the turn to ask the NLU with (a round trip fewer)."""
        channel = received.message.channel
        message = replace(received.message, user_ref=self.ids.ref(channel, received.message.user_ref))
        reply_to = self.ids.ref(channel, received.reply_to)
        now = utcnow()
        row = {"channel": channel, "external_id": received.external_id, "user_ref": message.user_ref,
               "message": message_to_json(message), "reply_to": reply_to,
               "platform_at": received.platform_at, "status": "pending", "attempts": 0,
               "next_attempt_at": now + INLINE_LEASE if inline else now, "received_at": now}
        # They wrote: what waited for that (outside WhatsApp's 24-hour window) goes out now.
        held = {"held_channel": channel, "held_recipient": reply_to, "released_at": now}
        sealed = {"address_channel": channel, "address_ref": reply_to, "address_sealed": self.ids.seal(received.reply_to)}
        try:
            if self._postgres:  # one statement, committed by itself
                async with self._storage.autocommit() as connection:
                    row_id, released, *context = (await connection.execute(_STORE_INBOUND_POSTGRES, held | sealed | {
                        f"inbound_{name}": value for name, value in row.items()})).one()
            else:
                async with self._storage.engine.begin() as connection:
                    row_id = (await connection.execute(_STORE_INBOUND, row)).scalar_one()
                    await connection.execute(_SEAL_SQLITE, held | sealed)
                    released = len((await connection.execute(_RELEASE_HELD, held)).all())
                    context = [None, None, None]
                    if inline:
                        found = (await connection.execute(_USER_CONTEXT, {
                            "channel": channel, "channel_user_id": message.user_ref})).first()
                        context = list(found) if found is not None else context
        except IntegrityError:
            log.info("%s message %s delivered again; already stored", message.channel, received.external_id)
            return None
        if message.user_ref != reply_to:
            # The user's own id too when it is not the reply address (so `make rotate-id-keys` can
            # recompute every reference from the sealed ids).
            await self._seal(channel, message.user_ref, received.message.user_ref)
        if released:
            self._outbound_ready.set()
        if inline:
            self._busy.add(row_id)
            self._inline[row_id] = _Inline(message, (context[0], context[1], context[2]))
        else:
            self._inbound_ready.set()
        return row_id

    async def _seal(self, channel: str, ref: str, user_id: str) -> None:
        async with self._storage.engine.begin() as connection:
            await connection.execute(_SEAL_POSTGRES if self._postgres else _SEAL_SQLITE, {"address_channel": channel, "address_ref": ref,
                                            "address_sealed": self.ids.seal(user_id), "released_at": utcnow()})

    async def last_message_at(self, channel: str, reply_to: str) -> dt.datetime | None:
        """When the platform says the newest stored message from this address (its reference,
        `Outgoing.ref`) was sent."""
        async with self._storage.session() as session:
            last = await session.scalar(select(func.max(Inbound.platform_at)).where(
                Inbound.channel == channel, Inbound.reply_to == reply_to))
        return _aware(last) if last is not None else None

    async def record_report(self, channel: str, external_id: str, status: str, error: str | None = None,
                            unreachable: bool = False, hold: bool = False) -> None:
        """A platform's delivery report on a message we sent (sent, delivered, read, failed).
        `unreachable`: the platform says the recipient cannot get messages; nothing more goes to them.
        `hold`: the platform refused it until the recipient writes again (WhatsApp's 131047,
        reported after the send): the reply is held again and goes out when they write."""
        async with self._storage.session() as session, session.begin():
            report = await self._report_row(session, channel, external_id, status, error)
            if REPORT_ORDER.get(status, 0) > REPORT_ORDER.get(report.status, 0):
                report.status, report.error, report.status_at = status, error, utcnow()
            outbound = await session.get(Outbound, report.outbound_id) if report.outbound_id is not None else None
            if status == "failed":
                log.error("%s: message %s (outbox row %s) failed: %s", channel, external_id,
                          report.outbound_id, error)
            if unreachable and outbound is not None:
                await self._unreachable(session, channel, outbound.recipient)
            elif hold and outbound is not None and outbound.status == "sent":
                outbound.status, outbound.last_error = "held", error

    @staticmethod
    async def _report_row(session: AsyncSession, channel: str, external_id: str, status: str,
                          error: str | None = None) -> SentMessage:
        """The row of a platform message, made now if its report came before its send was recorded."""
        query = select(SentMessage).where(SentMessage.channel == channel, SentMessage.external_id == external_id)
        report = await session.scalar(query)
        if report is None:
            try:
                async with session.begin_nested():
                    report = SentMessage(channel=channel, external_id=external_id, status=status, error=error,
                                         status_at=utcnow())
                    session.add(report)
            except IntegrityError:  # recorded meanwhile by the send, or by another report
                report = await session.scalar(query)
                assert report is not None
        return report

    @staticmethod
    async def _unreachable(session: AsyncSession, channel: str, recipient: str) -> None:
        await session.execute(update(Outbound).where(Outbound.channel == channel, Outbound.recipient == recipient,
                                                     Outbound.status.in_(("pending", "held"))).values(status="blocked"))
        await session.execute(update(User).where(User.channel == channel, User.channel_user_id == recipient)
                              .values(active=False))

    async def answer_now(self, row_id: int) -> Outcome | None:
        """Answer a stored message in the caller's request; its replies are returned, not queued.
        None when it failed (the worker retries it, and its replies then go through the outbox)."""
        try:
            return await self._attempt(row_id, inline=True)
        finally:
            self._busy.discard(row_id)
            self._inline.pop(row_id, None)

    async def _database_away(self, worker: str, error: Exception) -> None:
        """A worker found the database away: say so (without a traceback: it is no fault of
        ours) and look again after a poll, so the worker goes on as soon as it is back."""
        log.warning("%s: the database is unavailable (%s: %s); trying again in %.0f s", worker,
                    type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "", POLL_SECONDS)
        await asyncio.sleep(POLL_SECONDS)

    async def _inbound_worker(self) -> None:
        """Start a turn for each message due as soon as it is seen, up to MAX_TURNS_AT_ONCE: a
        turn waiting on a slow NLU does not hold up the messages that arrive meanwhile."""
        turns: set[asyncio.Task[Outcome | None]] = set()
        try:
            while True:
                self._inbound_ready.clear()
                try:
                    due = await self._due_inbound(MAX_TURNS_AT_ONCE - len(turns))
                except DATABASE_ERRORS as error:
                    if not unavailable(error):
                        raise
                    await self._database_away("inbox worker", error)
                    continue
                for row_id in due:
                    self._busy.add(row_id)  # from now on, the next look skips it
                    turn = asyncio.create_task(self._attempt(row_id, inline=False), name=f"turn-{row_id}")
                    turns.add(turn)
                    turn.add_done_callback(self._turn_ended)
                    turn.add_done_callback(turns.discard)
                try:
                    await asyncio.wait_for(self._inbound_ready.wait(), timeout=POLL_SECONDS)
                except TimeoutError:
                    pass
        finally:
            for turn in turns:
                turn.cancel()
            await asyncio.gather(*turns, return_exceptions=True)

    def _turn_ended(self, turn: "asyncio.Task[Outcome | None]") -> None:
        """A turn answered: the user's next message may be due now. (Taken by another process,
        or failed: not at once, the next poll looks again, so as not to spin on it.)"""
        if turn.cancelled():
            return
        error = turn.exception()
        if error is not None:
            log.error("inbox turn %s raised", turn.get_name(), exc_info=error)
        elif turn.result() is not None:
            self._inbound_ready.set()

    async def _due_inbound(self, limit: int = 20) -> list[int]:
        """Rows due now that this process is not answering yet, each the oldest pending one of its
        user (a user's messages keep their order)."""
        if limit <= 0:
            return []
        earlier = aliased(Inbound)
        query = (
            select(Inbound.id, Inbound.channel, Inbound.user_ref)
            .where(Inbound.status == "pending", Inbound.next_attempt_at <= utcnow(),
                   Inbound.id.not_in(list(self._busy)),
                   ~exists().where(and_(earlier.channel == Inbound.channel, earlier.user_ref == Inbound.user_ref,
                                        earlier.status == "pending", earlier.id < Inbound.id)))
            .order_by(Inbound.id).limit(limit)
        )
        async with self._storage.session() as session:
            rows = (await session.execute(query)).all()
        return [row.id for row in rows if row.id not in self._busy]

    async def _attempt(self, row_id: int, inline: bool) -> Outcome | None:
        self._busy.add(row_id)
        try:
            try:
                return await self._turn(row_id, inline)
            except Exception as error:
                if unavailable(error):
                    raise
                await self._failed_turn(row_id, traceback.format_exc())
                return None
        except DATABASE_ERRORS as error:
            if not unavailable(error):
                raise
            # Not an attempt that counts: the row stays pending and is answered once the database is back.
            log.warning("inbox row %s waits: the database is unavailable (%s)", row_id, type(error).__name__)
            return None
        finally:
            if not inline:
                self._busy.discard(row_id)

    async def _turn(self, row_id: int, inline: bool) -> Outcome | None:
        """One message, one transaction: nothing of it is kept unless all of it is. The NLU is
        asked before the transaction begins, so no lock waits on it."""
        inline_message = self._inline.get(row_id)
        if inline_message is not None:
            message, context = inline_message.message, inline_message.context
        else:
            async with self._storage.reading() as connection:
                pending = await connection.scalar(_PENDING_MESSAGE, {"row_id": row_id})
                if pending is None:
                    return None
                message = message_from_json(pending)
                found = (await connection.execute(_USER_CONTEXT, {"channel": message.channel,
                                                                  "channel_user_id": message.user_ref})).first()
                context = (found[0], found[1], found[2]) if found is not None else (None, None, None)
        nlu = await self._dialogue.understand_ahead(message, context)
        async with self._storage.session() as session, session.begin():
            claim = {"row_id": row_id, "channel": message.channel, "channel_user_id": message.user_ref}
            row = (await session.execute(_CLAIM_POSTGRES if self._postgres else _CLAIM, claim)).first()
            if row is None:
                return None  # answered meanwhile (by another process, or a worker)
            message = message_from_json(row.message)
            if self._postgres:
                user = await self._storage.locked_user(session, row[3:], message.channel, message.user_ref)
            else:
                user = await self._storage.lock_user(session, message.channel, message.user_ref)
            # A user whose conversation is with the case-management team (an open case) is
            # answered by a person: the dialogue then keeps the message for the case and stays silent.
            outcome = await self._dialogue.respond(session, user, message, nlu, row.reply_to)
            if not inline and outcome.replies:
                await session.execute(_STORE_OUTBOUND, [self._outbound_row(row.channel, row.reply_to, reply)
                                                         for reply in outcome.replies])  # one statement, in order
            # Done; the text is kept in the conversation (messages), not twice.
            update_at_commit(session, INBOUND, row_id, status="done", message="", processed_at=utcnow())
        if not inline and outcome.replies:
            self._outbound_ready.set()
        if outcome.opened_case is not None:
            self._notifier.case_opened(outcome.opened_case)
        return outcome

    async def _failed_turn(self, row_id: int, trace: str) -> None:
        """Count a failed attempt; give up after the last one, and tell the user."""
        async with self._storage.session() as session, session.begin():
            row = await session.get(Inbound, row_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_error = trace[-4000:]
            if row.attempts < self._retries.max_attempts:
                delay = self._retries.first_backoff_seconds * 2 ** (row.attempts - 1)
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
                log.warning("%s message %s failed (attempt %d of %d), retrying in %.1f s:\n%s", row.channel,
                            row.external_id, row.attempts, self._retries.max_attempts, delay, trace)
                return
            row.status = "failed"
            log.error("%s message %s failed %d times; given up, the user gets an apology:\n%s", row.channel,
                      row.external_id, row.attempts, trace)
            message = message_from_json(row.message)
            user = await session.scalar(select(User).where(User.channel == row.channel,
                                                           User.channel_user_id == message.user_ref))
            apology = self._dialogue.apology(user.language if user is not None else None, message.language_hint)
            for reply in apology.replies:
                session.add(self._outbound(row.channel, row.reply_to, reply))
        self._outbound_ready.set()
        self._inbound_ready.set()  # the user's next message is no longer held up by this one

    # -- out -----------------------------------------------------------------------------

    @staticmethod
    def _outbound(channel: str, recipient: str, reply: Reply) -> Outbound:
        return Outbound(**Delivery._outbound_row(channel, recipient, reply))

    @staticmethod
    def _outbound_row(channel: str, recipient: str, reply: Reply) -> dict[str, object]:
        now = utcnow()
        return {"channel": channel, "recipient": recipient, "status": "pending", "attempts": 0, "failures": 0,
                "sent_parts": 0, "payload": json.dumps(reply_to_json(reply), ensure_ascii=False),
                "next_attempt_at": now, "created_at": now}

    async def enqueue(self, channel: str, recipient: str, replies: tuple[Reply, ...]) -> None:
        """Queue replies that do not answer an incoming message (a case manager's answer...)."""
        async with self._storage.session() as session, session.begin():
            self.queue(session, channel, recipient, replies)
        self.wake()

    def queue(self, session: AsyncSession, channel: str, recipient: str, replies: tuple[Reply, ...]) -> None:
        """Queue replies in the caller's transaction; call `wake` once it is committed."""
        for reply in replies:
            session.add(self._outbound(channel, recipient, reply))

    def wake(self) -> None:
        """Tell the outbox worker that rows were queued."""
        self._outbound_ready.set()

    async def _outbound_worker(self) -> None:
        while True:
            self._outbound_ready.clear()
            try:
                leased, wait = await self._lease_outbound()
            except DATABASE_ERRORS as error:
                if not unavailable(error):
                    raise
                await self._database_away("outbox worker", error)
                continue
            if leased:
                await asyncio.gather(*(self._send(row) for row in leased))
                continue
            try:
                await asyncio.wait_for(self._outbound_ready.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def _lease_outbound(self) -> tuple[list[Outbound], float]:
        """Due rows of channels this process runs, the oldest unsent one per recipient, leased
        to this process (a lease left by a dead process runs out and the row is due again)."""
        now = utcnow()
        earlier = aliased(Outbound)
        unsent = ("pending", "sending")
        query = (
            select(Outbound)
            .where(Outbound.status.in_(unsent), Outbound.next_attempt_at <= now,
                   Outbound.channel.in_(list(self._channels)),
                   ~exists().where(and_(earlier.channel == Outbound.channel, earlier.recipient == Outbound.recipient,
                                        earlier.status.in_(unsent), earlier.id < Outbound.id)))
            .order_by(Outbound.id).limit(20)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=Outbound)
        async with self._storage.session() as session, session.begin():
            rows = list((await session.scalars(query)).all())
            for row in rows:
                row.status, row.next_attempt_at = "sending", now + SEND_LEASE
            if rows:
                return rows, 0.0
            next_due = await session.scalar(
                select(func.min(Outbound.next_attempt_at)).where(Outbound.status.in_(unsent),
                                                                 Outbound.channel.in_(list(self._channels))))
        wait = POLL_SECONDS if next_due is None else (_aware(next_due) - now).total_seconds()
        return [], min(max(wait, 0.01), POLL_SECONDS)

    async def _while_database_away(self, work: Callable[[], Awaitable[T]], until: dt.datetime) -> T:
        """`work`, tried again while the database is away, until shortly before `until` (the lease)."""
        while True:
            try:
                return await work()
            except DATABASE_ERRORS as error:
                if not unavailable(error) or utcnow() + dt.timedelta(seconds=POLL_SECONDS) >= until:
                    raise
                await self._database_away("outbox worker", error)

    async def _send(self, row: Outbound) -> None:
        """Send a leased row. What is read and written around the send is tried again while the
        database is away: a reply the platform took but whose send was not recorded would go
        out a second time once its lease ran out."""
        lease_ends = _aware(row.next_attempt_at) - dt.timedelta(seconds=5)
        if not await self._while_database_away(lambda: self._may_send(row), lease_ends):
            return
        channel = self._channels[row.channel]
        sealed = await self._while_database_away(lambda: self._address(row.channel, row.recipient), lease_ends)
        if sealed is None:
            result: SendResult = Rejected("no address: the user's data was deleted")
        else:
            item = Outgoing(row.id, self.ids.open(sealed), reply_from_json(json.loads(row.payload)),
                            attempts=row.attempts, sent_parts=row.sent_parts, ref=row.recipient)
            result = await self._send_item(channel, item)
        await self._while_database_away(lambda: self._record_send(row, result), lease_ends)
        self._outbound_ready.set()

    async def _address(self, channel: str, ref: str) -> str | None:
        async with self._storage.session() as session:
            return await session.scalar(select(Address.sealed).where(Address.channel == channel, Address.ref == ref))

    @staticmethod
    async def _send_item(channel: Channel, item: Outgoing) -> SendResult:
        try:
            return await channel.send(item)
        except Exception as error:  # a fault in the channel's code: keep the row, try again later
            log.exception("%s: sending outbox row %s raised", channel.name, item.id)
            return RetryAfter(None, f"{type(error).__name__}: {error}")

    async def _may_send(self, row: Outbound) -> bool:
        """False when the row waits: behind a held reply, or for the platform's pace (rescheduled)."""
        channel = self._channels[row.channel]
        async with self._storage.session() as session, session.begin():
            waiting = await session.scalar(select(Outbound.id).where(
                Outbound.channel == row.channel, Outbound.recipient == row.recipient, Outbound.status == "held").limit(1))
            if waiting is not None:
                # An earlier reply waits for the recipient to write again: this one waits behind it.
                await session.execute(update(Outbound).where(Outbound.id == row.id).values(status="held"))
                return False
        if channel.pace_seconds > 0:
            # The platform's pace, also for a row queued after the previous one went out.
            async with self._storage.session() as session, session.begin():
                last = await session.scalar(select(func.max(Outbound.sent_at)).where(
                    Outbound.channel == row.channel, Outbound.recipient == row.recipient, Outbound.status == "sent"))
                due = _aware(last) + dt.timedelta(seconds=channel.pace_seconds) if last is not None else None
                if due is not None and due > utcnow():
                    await session.execute(update(Outbound).where(Outbound.id == row.id).values(
                        status="pending", next_attempt_at=due))
                    self._outbound_ready.set()
                    return False
        return True

    async def _record_send(self, row: Outbound, result: SendResult) -> None:
        now = utcnow()
        values: dict[str, object] = {"attempts": Outbound.attempts + 1}
        if isinstance(result, Sent):
            values |= {"status": "sent", "sent_at": now, "last_error": None}
        elif isinstance(result, RetryAfter):
            # Rate limits wait as long as the platform says, however often; transient failures
            # back off (2, 4, 8 … s) and are given up after the 8th.
            failures = row.failures + (result.seconds is None)
            wait = result.seconds if result.seconds is not None else min(2.0 ** failures, MAX_BACKOFF_SECONDS)
            given_up = result.seconds is None and failures >= MAX_SEND_ATTEMPTS
            values |= {"status": "failed" if given_up else "pending", "last_error": result.reason,
                       "next_attempt_at": now + dt.timedelta(seconds=wait), "failures": failures,
                       "sent_parts": result.sent_parts}
            if given_up:  # (no recipient in logs: on WhatsApp it is a phone number)
                log.error("%s: outbox row %s not sent after %d failures: %s", row.channel, row.id,
                          failures, result.reason)
        elif isinstance(result, Blocked):
            values |= {"status": "blocked", "last_error": result.reason}
            log.info("%s: outbox row %s: the recipient blocked the bot or cannot be reached: %s", row.channel, row.id,
                     result.reason)
        elif isinstance(result, Rejected):
            values |= {"status": "failed", "last_error": result.reason}
            log.error("%s: outbox row %s rejected: %s", row.channel, row.id, result.reason)
        elif isinstance(result, Held):
            values |= {"status": "held", "last_error": result.reason, "sent_parts": result.sent_parts}
            log.info("%s: outbox row %s held until the recipient writes again: %s", row.channel, row.id, result.reason)
        async with self._storage.session() as session, session.begin():
            await session.execute(update(Outbound).where(Outbound.id == row.id).values(**values))
            mine = (Outbound.channel == row.channel, Outbound.recipient == row.recipient, Outbound.status == "pending")
            if isinstance(result, Blocked):
                # The user blocked the bot: drop what is queued for them and remember it.
                await self._unreachable(session, row.channel, row.recipient)
            elif isinstance(result, Held):
                await session.execute(update(Outbound).where(*mine).values(status="held"))
            if isinstance(result, (Sent, RetryAfter, Held)):
                for external_id in result.external_ids:
                    report = await self._report_row(session, row.channel, external_id, "sent")
                    report.outbound_id = row.id
