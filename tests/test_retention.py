"""Retention (bot/retention.py): message texts and finished inbox and outbox rows older than
MESSAGE_RETENTION_DAYS are deleted, by the application's scheduled job and by `python -m bot.retention`;
newer ones, and what is still to be answered or sent, stay."""

import asyncio
import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import func, select

from bot.language_detection import LanguageGuesser
from bot.retention import purge
from bot.settings import PROJECT_ROOT
from bot.storage import Address, Case, Consent, Inbound, Message, Outbound, Storage, User, make_engine, migrate, utcnow
from tests.conftest import make_settings, start_app

NOW = utcnow()
OLD, RECENT = NOW - dt.timedelta(days=31), NOW - dt.timedelta(days=29)


async def fill(storage: Storage, with_delivery_rows: bool = True) -> None:
    """One user with an old and a recent message each way, and inbox and outbox rows of every kind."""
    async with storage.session() as session, session.begin():
        user = User(channel="web", channel_user_id="amira")
        session.add(user)
        await session.flush()
        for at, text in ((OLD, "old"), (RECENT, "recent")):
            session.add_all([Message(user_id=user.id, direction=d, text=f"{text} {d}", created_at=at) for d in ("in", "out")])
        for number, (status, at) in enumerate(() if not with_delivery_rows else (("done", OLD), ("failed", OLD), ("pending", OLD), ("done", RECENT))):
            session.add(Inbound(channel="web", external_id=f"m{number}", user_ref="amira", message="{}", reply_to="amira",
                                platform_at=at, status=status, received_at=at))
            sent = {"done": "sent"}.get(status, status)
            session.add(Outbound(channel="web", recipient="amira", payload=f"{sent} {number}", created_at=at, status=sent))


async def remaining(storage: Storage) -> tuple[list[str], list[str], list[str]]:
    async with storage.session() as session:
        messages = sorted((await session.scalars(select(Message.text))).all())
        inbound = sorted((await session.scalars(select(Inbound.external_id))).all())
        outbound = sorted((await session.scalars(select(Outbound.payload))).all())
        return messages, inbound, outbound


KEPT = (["recent in", "recent out"], ["m2", "m3"], ["pending 2", "sent 3"])


async def test_purge_deletes_what_is_older_than_the_retention_time_and_nothing_else(database_url: str) -> None:
    engine = make_engine(make_settings(database_url).database_url)
    try:
        await migrate(engine)
        storage = Storage(engine)
        await fill(storage)
        purged = await purge(storage, 30, now=NOW)
        assert (purged.messages, purged.inbound, purged.outbound) == (2, 2, 2)
        assert await remaining(storage) == KEPT
        async with storage.session() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == 1  # settings stay
        assert (await purge(storage, 30, now=NOW)).messages == 0
    finally:
        await engine.dispose()


async def test_closed_cases_go_after_their_retention_time_open_ones_and_consents_stay(database_url: str) -> None:
    engine = make_engine(make_settings(database_url).database_url)
    try:
        await migrate(engine)
        storage = Storage(engine)
        async with storage.session() as session, session.begin():
            users = [User(channel="web", channel_user_id=name) for name in ("a", "b", "c")]
            session.add_all(users)
            await session.flush()
            for user, status, closed in ((users[0], "closed", NOW - dt.timedelta(days=91)),
                                         (users[1], "closed", NOW - dt.timedelta(days=89)),
                                         (users[2], "waiting", None)):
                session.add(Case(user_id=user.id, channel="web", recipient=user.channel_user_id, status=status,
                                 urgent=False, language="de", consent_version="v", created_at=NOW - dt.timedelta(days=100),
                                 closed_at=closed))
                session.add(Consent(user_id=user.id, answer="yes", version="v", created_at=NOW - dt.timedelta(days=100)))
        assert (await purge(storage, 30, now=NOW, case_days=90)).cases == 1
        async with storage.session() as session:
            left = sorted((await session.scalars(select(Case.recipient))).all())
            consents = await session.scalar(select(func.count()).select_from(Consent))
        assert (left, consents) == (["b", "c"], 3)
    finally:
        await engine.dispose()


async def test_the_application_purges_on_schedule(database_url: str, guesser: LanguageGuesser) -> None:
    """Started with a retention interval of 0.6 s: old messages written while it runs go too.
    (Only messages: the application's own workers would take up pending inbox and outbox rows.)"""
    app, http = await start_app(make_settings(database_url, retention_interval_minutes=0.01), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        storage: Storage = app.state.storage  # type: ignore[attr-defined]
        await fill(storage, with_delivery_rows=False)
        for _ in range(50):
            if (await remaining(storage))[0] == KEPT[0]:
                break
            await asyncio.sleep(0.1)
        assert (await remaining(storage))[0] == KEPT[0]


async def test_the_command_purges_now(database_url: str) -> None:
    engine = make_engine(make_settings(database_url).database_url)
    try:
        await migrate(engine)
        await fill(Storage(engine))
    finally:
        await engine.dispose()
    done = subprocess.run([sys.executable, "-m", "bot.retention"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url, "MESSAGE_RETENTION_DAYS": "30"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("deleted 2 messages, 2 inbox rows, 2 outbox rows, 0 closed cases, 0 unanswered messages, "
                                    "0 addresses of deleted users")


async def test_a_deleted_users_address_goes_once_nothing_needs_it_any_more(database_url: str) -> None:
    """The sealed phone number or chat id of a user who deleted their data goes with the next purge
    once the answer saying so is out; the addresses of users, of queued replies, and of a message
    received in the last hour (its user may not exist yet) stay."""
    engine = make_engine(make_settings(database_url).database_url)
    try:
        await migrate(engine)
        storage = Storage(engine)
        earlier = NOW - dt.timedelta(hours=2)
        async with storage.session() as session, session.begin():
            session.add_all([Address(channel="whatsapp", ref=ref, sealed="x", updated_at=earlier)
                             for ref in ("deleted", "user", "queued", "writing", "deleted-long-ago")])
            session.add(User(channel="whatsapp", channel_user_id="user"))
            session.add(Outbound(channel="whatsapp", recipient="queued", payload="{}", status="pending"))
            session.add(Outbound(channel="whatsapp", recipient="deleted", payload="{}", status="sent"))
            session.add(Inbound(channel="whatsapp", external_id="w1", user_ref="writing", message="{}",
                                reply_to="writing", platform_at=NOW, status="done", received_at=NOW))
            session.add(Inbound(channel="whatsapp", external_id="w2", user_ref="deleted-long-ago", message="",
                                reply_to="deleted-long-ago", platform_at=earlier, status="done", received_at=earlier))
        assert (await purge(storage, 30, now=NOW)).addresses == 2
        async with storage.session() as session:
            left = sorted((await session.scalars(select(Address.ref))).all())
        assert left == ["queued", "user", "writing"]
    finally:
        await engine.dispose()
