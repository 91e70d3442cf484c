"""Retention: what users wrote, and what the bot answered them, is deleted when its time is up.

Message texts (the conversation, `messages`) older than MESSAGE_RETENTION_DAYS go, and so do the
inbox and outbox rows that carry texts (`inbound`, `outbound`) once they are finished and as old,
and the messages the bot could not answer (`unanswered`, kept by day: on the day the period ends).
A user's settings (language, the topic of the moment) stay until the user deletes them (/delete).
The application purges at start and then every RETENTION_INTERVAL_MINUTES; with several
processes, one purges at a time (a PostgreSQL advisory lock; the others skip that round).

    python -m bot.retention    # purge now, with the settings from the environment
"""

import asyncio
import datetime as dt
import logging
import sys
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Delete

from bot.errors import ConfigError
from bot.settings import load_settings
from bot.storage import (Address, Case, Inbound, Message, Outbound, Storage, Unanswered, User, make_engine, migrate,
                         utcnow)
from bot.unanswered import week_of

log = logging.getLogger(__name__)
RETENTION_LOCK = 482_023_2024  # beside storage.MIGRATION_LOCK
# A sealed id outlives its user (/delete) by at most this plus a purge interval: the answer that
# says the data is deleted must still reach them.
ADDRESS_GRACE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind a purge deleted; `skipped` when another process was purging."""

    messages: int = 0
    inbound: int = 0
    outbound: int = 0
    cases: int = 0
    unanswered: int = 0
    addresses: int = 0
    skipped: bool = False


async def purge(storage: Storage, message_days: int, now: dt.datetime | None = None, case_days: int = 90) -> Purged:
    """Delete messages older than `message_days`, finished inbox and outbox rows as old, and handoff
    cases closed more than `case_days` ago, in one transaction. Consent records stay (they prove
    what a user agreed to; deleted with the user on /delete)."""
    cutoff = (now or utcnow()) - dt.timedelta(days=message_days)
    case_cutoff = (now or utcnow()) - dt.timedelta(days=case_days)
    async with storage.session() as session, session.begin():
        if storage.engine.dialect.name == "postgresql":
            locked = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK})
            if not locked:
                return Purged(skipped=True)
        counts = []
        for statement in (
            delete(Message).where(Message.created_at < cutoff),
            delete(Inbound).where(Inbound.status != "pending", Inbound.received_at < cutoff),
            delete(Outbound).where(Outbound.status != "pending", Outbound.created_at < cutoff),
            delete(Case).where(Case.status == "closed", Case.closed_at < case_cutoff),
            delete(Unanswered).where(Unanswered.day <= week_of(cutoff)[1]),
            _unused_addresses((now or utcnow()) - ADDRESS_GRACE),
        ):
            result = await session.execute(statement)
            counts.append(result.rowcount if isinstance(result, CursorResult) else 0)
    return Purged(messages=counts[0], inbound=counts[1], outbound=counts[2], cases=counts[3], unanswered=counts[4],
                  addresses=counts[5])


def _unused_addresses(quiet_since: dt.datetime) -> Delete:
    """The sealed ids nothing needs any more: no user has them (deleted with /delete), nothing is
    queued for them, and no message came from them lately (one being received right now may not
    have its user yet)."""
    queued = exists().where(and_(Outbound.channel == Address.channel, Outbound.recipient == Address.ref,
                                 Outbound.status.in_(("pending", "sending", "held"))))
    user = exists().where(and_(User.channel == Address.channel, User.channel_user_id == Address.ref))
    recent = exists().where(and_(Inbound.channel == Address.channel, Inbound.reply_to == Address.ref,
                                 or_(Inbound.status == "pending", Inbound.received_at >= quiet_since)))
    return delete(Address).where(~user, ~queued, ~recent)


async def purge_every(storage: Storage, message_days: int, interval_seconds: float, case_days: int = 90) -> None:
    """The scheduled job: purge, then wait `interval_seconds`, for ever (run under `supervise`)."""
    while True:
        purged = await purge(storage, message_days, case_days=case_days)
        if purged.messages or purged.inbound or purged.outbound or purged.cases or purged.unanswered \
                or purged.addresses:
            log.info("retention: deleted %d messages, %d inbox and %d outbox rows, %d unanswered messages older "
                     "than %d days, %d cases closed more than %d days ago, %d addresses of deleted users",
                     purged.messages, purged.inbound, purged.outbound, purged.unanswered, message_days, purged.cases,
                     case_days, purged.addresses)
        await asyncio.sleep(interval_seconds)


async def _purge_now() -> Purged:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        return await purge(Storage(engine), settings.message_retention_days, case_days=settings.case_retention_days)
    finally:
        await engine.dispose()


def main() -> int:
    try:
        purged = asyncio.run(_purge_now())
    except ConfigError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    if purged.skipped:
        print("another process is purging right now; nothing done")
        return 1
    print(f"deleted {purged.messages} messages, {purged.inbound} inbox rows, {purged.outbound} outbox rows, "
          f"{purged.cases} closed cases, {purged.unanswered} unanswered messages, "
          f"{purged.addresses} addresses of deleted users")
    return 0


if __name__ == "__main__":
    sys.exit(main())
