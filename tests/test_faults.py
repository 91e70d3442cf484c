"""Faults from outside the application: the database away for seconds, provider rate limits and
server-error storms. Real Rasa, real PostgreSQL (through a TCP proxy the test cuts), the FAKE
Telegram Bot API and the FAKE WhatsApp Cloud API. (A process killed mid-turn: test_process_kill.py;
Rasa killed: test_supervision.py.)"""

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.channels.base import Outgoing, Sent
from bot.channels.web import UNAVAILABLE
from bot.content import load_content
from bot.delivery import Delivery
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import Place, Reply
from bot.settings import PROJECT_ROOT
from bot.storage import Storage, make_engine, migrate
from tests import fake_telegram, fake_whatsapp
from tests.conftest import Chat, free_port, make_settings, start_app
from tests.fake_telegram import FakeTelegram
from tests.fake_whatsapp import FakeGraph
from tests.fakes import FakeNlu, reachable, sqlite_delivery, web_message
from tests.tcp_proxy import TcpProxy
from tests.test_delivery import update_from
from tests.test_telegram import SECRET
from tests.test_whatsapp import TEMPLATE, USER, VERIFY_TOKEN, WhatsApp, tap

LANGUAGES = load_languages(PROJECT_ROOT / "locales")


@dataclass
class Running:
    """The application with the web chat, Telegram (webhook) and WhatsApp on, and the fakes."""

    http: httpx.AsyncClient
    telegram: FakeTelegram
    graph: FakeGraph
    app: Any

    async def telegram_post(self, update: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/telegram/webhook", content=json.dumps(update),
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})

    async def whatsapp_post(self, body: dict[str, Any]) -> httpx.Response:
        return await WhatsApp(self.graph, self.http, "", self.app).post(body)


@asynccontextmanager
async def running(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[Running]:
    telegram, graph = FakeTelegram(), FakeGraph()
    async with fake_telegram.serve(telegram, free_port()) as telegram_url, \
            fake_whatsapp.serve(graph, free_port()) as graph_url:
        settings = make_settings(
            database_url, *rasa_server, telegram_bot_token=fake_telegram.TOKEN, telegram_mode="webhook",
            telegram_webhook_url="https://bot.example.org/telegram/webhook", telegram_webhook_secret=SECRET,
            telegram_api_base_url=telegram_url, whatsapp_access_token=fake_whatsapp.TOKEN,
            whatsapp_app_secret=fake_whatsapp.APP_SECRET, whatsapp_verify_token=VERIFY_TOKEN,
            whatsapp_phone_number_id=fake_whatsapp.PHONE_NUMBER_ID, whatsapp_api_base_url=graph_url,
            whatsapp_template_name=TEMPLATE, whatsapp_template_language="de",
        )
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            for _ in range(200):
                channels = (await http.get("/healthz")).json()["channels"]
                if channels.get("telegram") == channels.get("whatsapp") == "ok":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the channels did not start: {channels}")
            yield Running(http, telegram, graph, app)


async def delivered_again(post: Callable[[], Awaitable[httpx.Response]], timeout: float = 20) -> None:
    """What a platform does after a 5xx: deliver the same request again until it gets a 200."""
    deadline = time.monotonic() + timeout
    while (response := await post()).status_code != 200:
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "still refused after the database came back"
        await asyncio.sleep(0.5)


@pytest.fixture
async def proxied_postgres(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A TCP proxy in front of the test's PostgreSQL, and the database URL through it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is a file inside the process: it cannot go away the way a database server does")
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432, free_port())
    await proxy.start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        await proxy.close()


async def test_while_the_database_is_away_requests_get_503_and_nothing_is_lost_or_doubled(
    proxied_postgres: tuple[TcpProxy, str], rasa_server: tuple[str, str], guesser: LanguageGuesser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL unreachable for 3 seconds, while stored messages are being answered: the
    webhooks answer 503 (so Telegram and Meta deliver again), the web chat a 503 in the
    user's language; once it is back, every message is answered exactly once and the workers
    go on (none crashed)."""
    proxy, database_url = proxied_postgres
    caplog.set_level(logging.WARNING, logger="bot")
    async with running(database_url, rasa_server, guesser) as bot:
        in_flight = [8101 + n for n in range(6)]
        for number, user in enumerate(in_flight):
            assert (await bot.telegram_post(update_from(800 + number, user, "/menu"))).status_code == 200
        await proxy.cut()  # while those are being answered

        late_update = update_from(900, 8201, "/menu")
        response = await bot.telegram_post(late_update)
        assert response.status_code == 503, response.text
        late_tap = tap("wamid.DURING-THE-OUTAGE", "m")
        response = await bot.whatsapp_post(late_tap)
        assert response.status_code == 503, response.text
        chat = Chat(bot.http)
        request = {"text": "ما هو المقهى", "language": "ar", "id": "page-message-1"}
        response = await chat.request("POST", "/api/chat", json=request)
        assert response.status_code == 503
        assert response.json()["error"] == LANGUAGES["ar"].gettext(UNAVAILABLE) != UNAVAILABLE
        assert int(response.headers["Retry-After"]) > 0
        assert (await bot.http.get("/healthz")).json()["db"] == "down"
        await asyncio.sleep(3)
        await proxy.restore()

        await delivered_again(lambda: bot.telegram_post(late_update))
        await delivered_again(lambda: bot.whatsapp_post(late_tap))
        response = await chat.request("POST", "/api/chat", json=request)  # the page sends it again
        assert response.status_code == 200 and response.json()["replies"], response.text
        for user in in_flight + [8201]:
            await bot.telegram.wait_for(1, user, timeout=30)
        await bot.graph.wait_for(1, USER, timeout=30)

        # The workers go on: a message after the outage is answered too.
        assert (await bot.telegram_post(update_from(901, 8301, "/menu"))).status_code == 200
        await bot.telegram.wait_for(1, 8301, timeout=30)
        await asyncio.sleep(3)  # time for a second answer, if there were one
        assert {user: len(bot.telegram.sent(user)) for user in in_flight + [8201, 8301]} == \
            {user: 1 for user in in_flight + [8201, 8301]}
        assert len(bot.graph.sent(USER)) == 1
    crashes = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage()]
    assert not crashes, crashes


# -- provider storms -----------------------------------------------------------------------

THREE = (Reply("eins"), Reply("zwei", place=Place("CaféO", "Overwegstr. 32, 44623 Herne", 51.54, 7.22)), Reply("drei"))


def storm(start: Callable[[str, float, int], None], first: str, then: str) -> "asyncio.Task[None]":
    """`first` on every send for 2 s, then `then` on every second send for 4 s: a rate-limit storm,
    then a flaky one that also breaks replies sent in parts (a text, then its place's pin)."""
    async def play() -> None:
        start(first, 2, 1)
        await asyncio.sleep(2)
        start(then, 4, 2)
        await asyncio.sleep(4)
    return asyncio.create_task(play())


def waited_after_failures(calls: list[tuple[float, bool]], seconds: float) -> list[float]:
    """The pauses after failed calls that were shorter than `seconds` (calls: (time, ok), in order)."""
    return [later - at for (at, ok), (later, _) in zip(calls, calls[1:]) if not ok and later - at < seconds]


async def test_a_telegram_storm_of_429_then_500_loses_doubles_and_reorders_nothing(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser,
) -> None:
    """Telegram answers every send with 429 (retry after 1 s) for 2 s, then every second one with
    500 for 4 s:
    each chat still gets each reply once, in order (a place's venue right after its text), and
    nothing is tried again before the wait Telegram asked for or the backoff."""
    chats = [7101 + n for n in range(5)]
    async with running(database_url, rasa_server, guesser) as bot:
        delivery: Delivery = bot.app.state.delivery
        storming = storm(bot.telegram.storm, "retry_after", "internal")
        for chat in chats:
            await delivery.enqueue("telegram", await reachable(bot.app, "telegram", str(chat)), THREE)
        await storming
        for chat in chats:
            await bot.telegram.wait_for(3, chat, timeout=60)
            await bot.telegram.wait_for(1, chat, method="sendVenue", timeout=60)
        await asyncio.sleep(2)  # time for a second copy, if there were one
        for chat in chats:
            mine = [c for c in bot.telegram.calls if str(c.params.get("chat_id")) == str(chat)]
            sent = [c.params.get("text", "📍") for c in mine if c.ok]
            assert sent == ["eins", "zwei", "📍", "drei"], sent
            assert any(not c.ok for c in mine), "the storm missed this chat"
            assert not waited_after_failures([(c.at, c.ok) for c in mine], 0.95)


async def test_a_whatsapp_storm_of_rate_limits_then_server_errors_loses_doubles_and_reorders_nothing(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser,
) -> None:
    """The Cloud API answers every send with 130429 (throughput) for 2 s, then every second one
    with 131000 (HTTP 500) for 4 s: each user still gets each reply once, in order, with backoff between tries."""
    users = [f"49151000000{n:02d}" for n in range(5)]
    async with running(database_url, rasa_server, guesser) as bot:
        for number, user in enumerate(users):  # they wrote: the 24-hour window is open
            body = tap(f"wamid.STORM-{number}", "m")
            item = body["entry"][0]["changes"][0]["value"]
            item["messages"][0]["from"] = item["contacts"][0]["wa_id"] = user
            assert (await bot.whatsapp_post(body)).status_code == 200
            await bot.graph.wait_for(1, user)
        delivery: Delivery = bot.app.state.delivery
        storming = storm(bot.graph.storm, "130429", "131000")
        for user in users:
            await delivery.enqueue("whatsapp", await reachable(bot.app, "whatsapp", user), THREE)
        await storming
        for user in users:
            await bot.graph.wait_for(5, user, timeout=60)
        await asyncio.sleep(2)
        for user in users:
            mine = [s for s in bot.graph.sends if s.body["to"] == user][1:]  # after the menu
            sent = [s.body["text"]["body"] if s.body["type"] == "text" else s.body["type"] for s in mine if s.ok]
            assert sent == ["eins", "zwei", "location", "drei"], sent
            assert any(not s.ok for s in mine), "the storm missed this user"
            assert not waited_after_failures([(s.at, s.ok) for s in mine], 0.95)


async def test_a_long_rate_limit_storm_does_not_use_up_the_tries_a_server_error_gets(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser,
) -> None:
    """Eight 429s in a row (each a second's wait), then a 500: the reply is still sent. Waits the
    platform asks for are not failures; only transient errors count towards giving up."""
    chat = 7201
    async with running(database_url, rasa_server, guesser) as bot:
        bot.telegram.failures[str(chat)] = ["retry_after"] * 8 + ["internal"]
        await bot.app.state.delivery.enqueue("telegram", await reachable(bot.app, "telegram", str(chat)),
                                             (Reply("trotzdem"),))
        [sent] = await bot.telegram.wait_for(1, chat, timeout=40)
        assert sent["text"] == "trotzdem"
        assert len([c for c in bot.telegram.calls if c.method == "sendMessage"]) == 10


# -- a slow NLU ------------------------------------------------------------------------------

class RecordingChannel:
    """A channel that records what the outbox gives it (FAKE: no platform behind it)."""

    name = "web"
    pace_seconds = 0.0

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def routes(self) -> list[Any]:
        return []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, item: Outgoing) -> Sent:
        self.sent.append((item.recipient, item.reply.text if item.reply else ""))
        return Sent()


async def test_a_message_waiting_on_a_slow_nlu_holds_up_no_other_users_message(
    tmp_path: Path, nlu: FakeNlu, guesser: LanguageGuesser,
) -> None:
    """The inbox worker (webhooks, retries) starts each due message's turn as it sees it: while
    Rasa is slow on one user's message, a message of another user arriving meanwhile is answered.
    (With the FAKE NLU, held back by the test.)"""
    (delivery, engine), channel = await sqlite_delivery(tmp_path, nlu, guesser), RecordingChannel()
    delivery.add_channel(channel)
    nlu.says("was ist das cafeo", "cafeo_about")
    rasa_answers = nlu.hold("was ist das cafeo")

    delivery.start()
    try:
        await delivery.receive(web_message("slow", text="was ist das cafeo"))
        await asyncio.sleep(0.5)  # its turn is waiting on the NLU now
        await delivery.receive(web_message("quick", button="m"))
        for _ in range(100):
            if any(user == "quick" for user, _text in channel.sent):
                break
            await asyncio.sleep(0.05)
        assert [user for user, _text in channel.sent] == ["quick"]
        rasa_answers.set()
        for _ in range(100):
            if any(user == "slow" for user, _text in channel.sent):
                break
            await asyncio.sleep(0.05)
        assert any(user == "slow" and "CaféO" in text for user, text in channel.sent)
    finally:
        rasa_answers.set()
        await delivery.stop()
        await engine.dispose()


def test_a_connection_lost_while_it_is_made_counts_as_the_database_away() -> None:
    """asyncpg's "connection was closed in the middle of operation" while connecting reaches us as
    a plain DBAPIError with the driver's error as its cause: the database is away (a worker waits
    for it) rather than a fault of ours (a worker crash). Seen when the proxy cut the database."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    from bot.storage import unavailable

    driver = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    adapted = RuntimeError("connection was closed in the middle of operation")
    adapted.__cause__ = driver
    error = DBAPIError("connect", {}, adapted)
    error.__cause__ = adapted
    assert unavailable(error)
    assert not unavailable(DBAPIError("SELECT 1", {}, ValueError("a fault of ours")))
