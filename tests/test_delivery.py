"""The delivery core: exactly-once answers across processes, poison messages, crashing workers,
Telegram's pace, one transaction per turn. Real Rasa, real databases, the FAKE Bot API."""

import asyncio
import copy
import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from bot.content import load_content
from bot.delivery import Delivery
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.settings import PROJECT_ROOT
from bot.storage import Inbound, Outbound, Storage, User, make_engine, migrate
from tests.conftest import Chat, free_port, make_settings, start_app, stored, users
from tests.fakes import FakeNlu, reachable, sqlite_delivery, web_message
from tests.fake_telegram import TOKEN, FakeTelegram, sample, serve
from tests.test_telegram import CHAT, SECRET, Telegram, running, text_update

# The user's stored language is gone, so the apology is in the language Telegram reports (uk).
APOLOGY = load_languages(PROJECT_ROOT / "locales")["uk"].gettext(
    "Sorry, something went wrong on our side with your last message. Please send it again, or choose a topic:")


def update_from(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    update = copy.deepcopy(sample("update_text"))
    update["update_id"] = update_id
    update["message"].update(message_id=update_id, text=text)
    update["message"]["from"]["id"] = user_id
    update["message"]["chat"]["id"] = user_id
    return update


async def post(port: int, update: dict[str, Any]) -> int:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=30)
        return response.status_code


@pytest.fixture
async def two_processes(database_url: str, rasa_server: tuple[str, str]) -> AsyncIterator[tuple[FakeTelegram, list[int]]]:
    """Two application processes (`python -m bot.main`) on one database, Telegram by webhook."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL (SQLite serves one process)")
    fake = FakeTelegram()
    async with serve(fake, free_port()) as base_url:
        ports = [free_port(), free_port()]
        env = dict(os.environ, DATABASE_URL=database_url, RASA_URL=rasa_server[0], RASA_TOKEN=rasa_server[1],
                   TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_MODE="webhook", TELEGRAM_API_BASE_URL=base_url,
                   TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram/webhook", TELEGRAM_WEBHOOK_SECRET=SECRET,
                   WEB_SECRET="shared-by-both-processes", PYTHONPATH=str(PROJECT_ROOT))
        processes = [subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT,
                                      env=env | {"BOT_HTTP_PORT": str(port)}) for port in ports]
        try:
            async with httpx.AsyncClient() as http:
                for port in ports:
                    deadline = time.monotonic() + 120
                    while True:
                        try:
                            health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
                            if health["channels"]["telegram"] == "ok":
                                break
                        except httpx.HTTPError:
                            pass
                        assert all(p.poll() is None for p in processes), "an application process died"
                        assert time.monotonic() < deadline, "the application processes did not start"
                        await asyncio.sleep(0.2)
            yield fake, ports
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


async def test_two_processes_answer_every_update_exactly_once(two_processes: tuple[FakeTelegram, list[int]]) -> None:
    """Each update goes to one process, and is redelivered to the other one (as Telegram does
    after a timeout): every user gets exactly one answer."""
    fake, ports = two_processes
    users = list(range(9000, 9030))
    deliveries = []
    for number, user in enumerate(users):
        update = update_from(700 + number, user, "/menu")
        first, second = ports if number % 2 else ports[::-1]
        deliveries += [post(first, update), post(second, update)]
    assert set(await asyncio.gather(*deliveries)) == {200}
    for user in users:
        await fake.wait_for(1, user)
    await asyncio.sleep(3)  # time for a second answer, if there were one
    assert {user: len(fake.sent(user)) for user in users} == {user: 1 for user in users}


async def test_a_message_that_always_fails_is_given_up_with_an_apology_and_holds_up_no_one(
    fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    """A user whose stored language no longer exists: their turn raises every time."""
    async with serve(fake, free_port()) as base_url:
        settings = make_settings(
            database_url, *rasa_server, telegram_bot_token=TOKEN, telegram_mode="webhook",
            telegram_webhook_url="https://bot.example.org/telegram/webhook", telegram_webhook_secret=SECRET,
            telegram_api_base_url=base_url, inbound_max_attempts=3, inbound_retry_seconds=0.2,
        )
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            telegram = Telegram(fake, http, settings.database_url)
            await telegram.post(text_update(1, "/menu"))
            await fake.wait_for(1, CHAT)
            engine = make_engine(settings.database_url)
            async with Storage(engine).session() as session, session.begin():
                await session.execute(update(User).values(language="xx"))  # its folder was removed
            await engine.dispose()

            await telegram.post(text_update(2, "wann ist das cafeo offen"))
            for other in (4001, 4002):
                await telegram.post(update_from(10 + other, other, "wann ist das cafeo offen"))
            for other in (4001, 4002):
                [answer] = await fake.wait_for(1, other)
                assert "CaféO" in answer["text"]

            apology = (await fake.wait_for(2, CHAT))[1]
            assert apology["text"] == APOLOGY
            rows = {row.external_id: row for row in await telegram.rows(Inbound)}
            poisoned = rows["7000000001:2"]
            assert (poisoned.status, poisoned.attempts) == ("failed", 3)
            assert "KeyError: 'xx'" in (poisoned.last_error or "")
            assert {rows[f"7000000001:{10 + other}"].status for other in (4001, 4002)} == {"done"}


async def test_a_crashing_outbox_worker_is_logged_and_restarted(
    webhook: Telegram, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Delivery._lease_outbound
    crashes = []

    async def crash_once(self: Delivery) -> Any:
        if not crashes:
            crashes.append(1)
            raise RuntimeError("a fault in the outbox worker")
        return await real(self)

    monkeypatch.setattr(Delivery, "_lease_outbound", crash_once)
    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        await webhook.post(text_update(3, "/menu"))
        await webhook.fake.wait_for(1, CHAT)
    assert crashes == [1]
    [record] = [r for r in caplog.records if "outbox worker crashed" in r.getMessage()]
    assert record.exc_info is not None and "a fault in the outbox worker" in str(record.exc_info[1])


async def test_two_messages_to_one_chat_keep_telegrams_pace(webhook: Telegram) -> None:
    """Telegram allows about one message a second in a chat: the second waits (read from the
    times the fake Bot API recorded)."""
    await webhook.post(text_update(5, "/menu"))
    await webhook.post(text_update(6, "/privacy"))
    await webhook.fake.wait_for(2, CHAT)
    sends = [c for c in webhook.fake.calls if c.method == "sendMessage" and c.ok]
    assert sends[1].at - sends[0].at >= 1.0


async def test_a_button_and_a_text_at_once_keep_both_state_changes(client: httpx.AsyncClient, database_url: str) -> None:
    """The language button and a question, answered at the same time: the language chosen and
    the topic of the question are both kept (each turn reads and writes the state in one
    transaction, one turn of a user after the other). The question is short, so it keeps the
    language the user has: without the button's change it would be German."""
    chat = Chat(client)
    await chat.say("hallo")
    await asyncio.gather(chat.press("l:uk"), chat.say("was ist cafeo"))
    [user] = await users(database_url)
    assert (user.language, user.context_topic) == ("uk", "cafeo.about")


async def test_two_short_messages_at_once_count_as_two_in_a_row(client: httpx.AsyncClient, database_url: str) -> None:
    """Two short English messages switch a German conversation to English, because the second
    one sees the first one's note (pending language). Answered at the same time, each turn
    must still see the other's state: they run one after the other."""
    chat = Chat(client)
    await chat.say("hallo")
    await asyncio.gather(chat.say("where is cafeo"), chat.say("what is kim"))
    [user] = await users(database_url)
    assert user.language == "en"


async def test_replies_wait_in_the_outbox_while_the_channel_is_away(
    fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    """Telegram unreachable at start: the web chat works, /healthz says why Telegram is not up,
    and Telegram starts once it is reachable."""
    port = free_port()
    settings = make_settings(
        database_url, *rasa_server, telegram_bot_token=TOKEN, telegram_mode="webhook",
        telegram_webhook_url="https://bot.example.org/telegram/webhook", telegram_webhook_secret=SECRET,
        telegram_api_base_url=f"http://127.0.0.1:{port}/bot",
    )
    app, http = await start_app(settings, guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        assert (await Chat(http).say("was ist das cafeo"))["topic"] == "cafeo.about"
        for _ in range(100):
            health = (await http.get("/healthz")).json()
            if health["channels"]["telegram"] != "starting":
                break
            await asyncio.sleep(0.05)
        assert health["channels"]["web"] == "ok"
        assert health["channels"]["telegram"].startswith("not started: ")
        async with serve(fake, port):
            for _ in range(100):
                if (await http.get("/healthz")).json()["channels"]["telegram"] == "ok":
                    break
                await asyncio.sleep(0.1)
            assert (await http.get("/healthz")).json()["channels"]["telegram"] == "ok"
            assert fake.webhook["url"] == "https://bot.example.org/telegram/webhook"


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def webhook(fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str],
                  guesser: LanguageGuesser) -> AsyncIterator[Telegram]:
    async for telegram in running(fake, database_url, rasa_server, guesser, "webhook"):
        yield telegram


async def test_outbox_rows_of_a_recipient_go_out_in_order(webhook: Telegram) -> None:
    """Replies queued for one chat arrive in the order they were queued, also when the first
    one has to be retried."""
    from bot.messages import Reply

    webhook.fake.failures[str(CHAT)] = ["internal"]
    delivery: Delivery = webhook.app.state.delivery
    await delivery.enqueue("telegram", await reachable(webhook.app, "telegram", str(CHAT)),
                           (Reply("eins"), Reply("zwei"), Reply("drei")))
    sent = await webhook.fake.wait_for(3, CHAT, timeout=30)
    assert [s["text"] for s in sent] == ["eins", "zwei", "drei"]
    rows = await webhook.rows(Outbound)
    assert [r.status for r in rows] == ["sent"] * 3


async def test_while_the_nlu_thinks_about_one_message_other_turns_go_on(tmp_path: Any, nlu: FakeNlu,
                                                                         guesser: LanguageGuesser) -> None:
    """A turn asks the NLU before its transaction begins: while Rasa is slow on one user's
    message, another user's turn runs and ends (a transaction waiting on Rasa would hold the
    database, on SQLite all of it, and every other turn behind it)."""
    delivery, engine = await sqlite_delivery(tmp_path, nlu, guesser)
    nlu.says("was ist das cafeo", "cafeo_about")
    rasa_answers = nlu.hold("was ist das cafeo")

    try:
        slow_row = await delivery.receive(web_message("slow", text="was ist das cafeo"), inline=True)
        quick_row = await delivery.receive(web_message("quick", button="m"), inline=True)
        assert slow_row is not None and quick_row is not None
        slow = asyncio.create_task(delivery.answer_now(slow_row))
        await asyncio.sleep(0.2)  # the slow turn is waiting on the NLU now
        quick = await asyncio.wait_for(delivery.answer_now(quick_row), timeout=10)
        assert quick is not None and quick.topic == "help" and not slow.done()
        rasa_answers.set()
        answered = await slow
        assert answered is not None and answered.topic == "cafeo.about"
    finally:
        await engine.dispose()


async def test_a_turns_writes_reach_the_database_together_at_commit(database_url: str, rasa_server: tuple[str, str],
                                                                    guesser: LanguageGuesser) -> None:
    """A web chat turn of a known user: the new state, the week's count, the conversation's rows
    and the inbox row's end are written when the turn commits; on PostgreSQL in one statement
    (statements counted: the inbox row, the claim with the user's lock, the conversation so far,
    the writes), on SQLite one each. All of them are there afterwards, the conversation in order."""
    from sqlalchemy import event

    from bot.storage import Message, WeeklyCount

    app, http = await start_app(make_settings(database_url, *rasa_server), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        chat = Chat(http)
        await chat.say("hallo")
        statements: list[str] = []
        engine = app.state.storage.engine  # type: ignore[attr-defined]
        listener = lambda *args: statements.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
        event.listen(engine.sync_engine, "before_cursor_execute", listener)
        try:
            await chat.say("wo ist das cafeo")
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", listener)
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))]
    if database_url.startswith("postgresql"):
        assert len(statements) == 4, statements
        assert [s.split()[0] for s in writes] == ["WITH", "WITH"]  # the inbox row (with its address), the turn's writes
    else:
        assert len(writes) >= 5, statements
    messages = await stored(database_url, Message)
    asked = [m.text for m in messages].index("wo ist das cafeo")
    assert [m.direction for m in messages[asked:]] == ["in"] + ["out"] * (len(messages) - asked - 1)
    assert "CaféO" in " ".join(m.text for m in messages[asked + 1:])
    [user] = await users(database_url)
    assert user.context_topic == "cafeo.about"
    assert len(await stored(database_url, WeeklyCount)) == 2
    assert {row.status for row in await stored(database_url, Inbound)} == {"done"}


async def test_writes_kept_for_the_commit_are_dropped_with_a_rollback(database_url: str) -> None:
    """A turn that fails after keeping its writes leaves nothing behind, also not in the next
    transaction of the same session."""
    from bot.storage import WeeklyCount, WEEKLY_COUNTS, insert_at_commit

    engine = make_engine(make_settings(database_url).database_url)
    await migrate(engine)
    row = {"week": "2026-W49", "kind": "question", "topic": "t", "language": "de", "channel": "web", "count": 1}
    try:
        async with Storage(engine).session() as session:
            with pytest.raises(RuntimeError):
                async with session.begin():
                    insert_at_commit(session, WEEKLY_COUNTS, row)
                    raise RuntimeError("the turn failed")
            async with session.begin():
                pass
            async with session.begin():
                insert_at_commit(session, WEEKLY_COUNTS, row | {"topic": "kept"}, row | {"topic": "also kept"})
    finally:
        await engine.dispose()
    assert [r.topic for r in await stored(database_url, WeeklyCount)] == ["kept", "also kept"]
