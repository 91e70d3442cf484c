"""Random and malformed payloads (hypothesis) at the three ways in: the web chat's /api/chat, the
Telegram webhook (with its secret, so the parser is reached) and the WhatsApp webhook (signed, so
the parser is reached). Never a 5xx; afterwards the workers still answer, and every stored inbound
row parses. One app for all examples, on SQLite; the NLU is unreachable (no Rasa), fake providers."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.language_detection import LanguageGuesser
from bot.storage import Inbound, Storage, make_engine
from tests import fake_telegram, fake_whatsapp
from tests.conftest import free_port, make_settings, start_app

TELEGRAM_SECRET = "hostile-webhook-secret-0123456789"

NASTY = [
    "\u202egnp.exe", "\u200b\u200c\u200d\ufeff", "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "*bold* _it_ `code` ~~x~~ ||spoiler||", "'; DROP TABLE messages; --", "\" OR 1=1 --", "%s%s%n{0}{name}",
    "\x00\x01\x1b[31m", "\ud800", "/start@evil", "/delete", "l:xx", "t:../../etc/passwd", "v::::", "🙂" * 50,
]
text = st.one_of(st.text(), st.sampled_from(NASTY), st.lists(st.one_of(st.text(max_size=5), st.sampled_from(NASTY)),
                                                             max_size=8).map("".join),
                 st.integers(1000, 120_000).map(lambda n: "A\u202e" * (n // 2)))
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                          max_leaves=12)
invalid_utf8 = st.binary(max_size=200).map(lambda b: b"\xff\xfe" + b + b"\xc3(")


def either(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes anything."""
    return st.one_of(right, right, json_value)


def telegram_update() -> st.SearchStrategy[Any]:
    user = st.fixed_dictionaries({"id": either(st.integers(1, 2**40)), "is_bot": either(st.just(False)),
                                  "first_name": either(text), "language_code": either(st.sampled_from(["uk", "ar", "zz"]))})
    message = st.fixed_dictionaries({"message_id": either(st.integers()), "from": either(user),
                                     "chat": either(st.fixed_dictionaries({"id": either(st.integers(1, 2**40)),
                                                                           "type": either(st.just("private"))})),
                                     "date": either(st.integers(0, 2**33)), "text": either(text)})
    callback = st.fixed_dictionaries({"id": either(text), "from": either(user), "data": either(text),
                                      "message": either(message)})
    return st.one_of(st.fixed_dictionaries({"update_id": either(st.integers()), "message": either(message)}),
                     st.fixed_dictionaries({"update_id": either(st.integers()), "callback_query": either(callback)}),
                     json_value)


def whatsapp_envelope() -> st.SearchStrategy[Any]:
    kind = st.sampled_from(["text", "interactive", "button", "location", "audio", "sticker", "unknown", "reaction"])
    message = st.fixed_dictionaries({
        "from": either(st.sampled_from(["4915112345678", "4915100000000"])), "id": either(text),
        "timestamp": either(st.integers(0, 2**33).map(str)), "type": either(kind),
        "text": either(st.fixed_dictionaries({"body": either(text)})),
        "interactive": either(st.fixed_dictionaries({"type": either(st.sampled_from(["button_reply", "list_reply"])),
                                                     "button_reply": either(st.fixed_dictionaries({"id": either(text), "title": either(text)})),
                                                     "list_reply": either(st.fixed_dictionaries({"id": either(text), "title": either(text)}))})),
        "location": either(st.fixed_dictionaries({"latitude": either(st.floats()), "longitude": either(st.floats())})),
    })
    status = st.fixed_dictionaries({"id": either(text), "status": either(st.sampled_from(["sent", "delivered", "read", "failed"])),
                                    "recipient_id": either(text), "timestamp": either(text), "errors": either(st.lists(json_value, max_size=2))})
    value = st.fixed_dictionaries({"messaging_product": either(st.just("whatsapp")),
                                   "metadata": either(st.fixed_dictionaries({"phone_number_id": either(st.just(fake_whatsapp.PHONE_NUMBER_ID))})),
                                   "contacts": either(st.lists(json_value, max_size=2)),
                                   "messages": either(st.lists(either(message), max_size=3)),
                                   "statuses": either(st.lists(either(status), max_size=2))})
    change = st.fixed_dictionaries({"value": either(value), "field": either(st.just("messages"))})
    entry = st.fixed_dictionaries({"id": either(text), "changes": either(st.lists(either(change), max_size=2))})
    return st.one_of(st.fixed_dictionaries({"object": either(st.just("whatsapp_business_account")),
                                            "entry": either(st.lists(either(entry), max_size=2))}), json_value)


def chat_body() -> st.SearchStrategy[Any]:
    language = {"language": either(st.sampled_from(["de", "ar", "xx", ""])), "id": either(text)}
    return st.one_of(st.fixed_dictionaries({"text": either(text)}, optional=language),
                     st.fixed_dictionaries({"button": either(st.one_of(text, st.sampled_from(["m", "l", "l:ar", "h", "c",
                                                                                            "t:women_consultation"])))},
                                           optional=language),
                     json_value)


def encoded(body: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """A JSON body, or bytes that are not JSON (or not UTF-8) at all."""
    return st.one_of(body.map(lambda b: json.dumps(b).encode()), body.map(lambda b: json.dumps(b, ensure_ascii=False)
                                                                        .encode("utf-8", "surrogatepass")),
                     invalid_utf8, st.binary(max_size=300))


requests = st.one_of(st.tuples(st.just("/api/chat"), encoded(chat_body())),
                     st.tuples(st.just("/telegram/webhook"), encoded(telegram_update())),
                     st.tuples(st.just("/whatsapp/webhook"), encoded(whatsapp_envelope())))


@dataclass
class Running:
    http: httpx.AsyncClient
    telegram: fake_telegram.FakeTelegram
    whatsapp: fake_whatsapp.FakeGraph
    database_url: str


@pytest.fixture
async def running(tmp_path: Path, guesser: LanguageGuesser) -> AsyncIterator[Running]:
    telegram, whatsapp = fake_telegram.FakeTelegram(), fake_whatsapp.FakeGraph()
    async with fake_telegram.serve(telegram, free_port()) as telegram_url, \
            fake_whatsapp.serve(whatsapp, free_port()) as whatsapp_url:
        config = make_settings(
            f"sqlite:///{tmp_path / 'bot.db'}", telegram_bot_token=fake_telegram.TOKEN, telegram_mode="webhook",
            telegram_webhook_url="https://bot.example.org/telegram/webhook", telegram_webhook_secret=TELEGRAM_SECRET,
            telegram_api_base_url=telegram_url, whatsapp_access_token=fake_whatsapp.TOKEN,
            whatsapp_app_secret=fake_whatsapp.APP_SECRET, whatsapp_verify_token="verify",
            whatsapp_phone_number_id=fake_whatsapp.PHONE_NUMBER_ID, whatsapp_api_base_url=whatsapp_url,
            whatsapp_template_name="reply_waiting", user_messages_per_minute=1000, inbound_retry_seconds=0.2)
        app, http = await start_app(config, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            for _ in range(200):
                channels = (await http.get("/healthz")).json()["channels"]
                if channels.get("telegram") == "ok" and channels.get("whatsapp") == "ok":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the channels did not start")
            yield Running(http, telegram, whatsapp, config.database_url)


async def post(http: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if path == "/telegram/webhook":
        headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
    if path == "/whatsapp/webhook":
        headers["X-Hub-Signature-256"] = fake_whatsapp.sign(body)
    return await http.post(path, content=body, headers=headers)


async def inbound_rows(database_url: str) -> list[Inbound]:
    engine = make_engine(database_url)
    try:
        async with Storage(engine).session() as session:
            return list((await session.scalars(select(Inbound).order_by(Inbound.id))).all())
    finally:
        await engine.dispose()


async def test_hostile_payloads_never_cause_a_5xx_a_dead_worker_or_a_broken_row(running: Running) -> None:
    loop = asyncio.get_running_loop()
    statuses: dict[str, set[int]] = {}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(requests)
    # One well-formed message on each way in, whatever the random ones happen to be (a valid
    # Telegram update takes about ten right choices in a row: 60 random tries may miss it).
    @example(("/api/chat", json.dumps({"text": "hallo"}).encode()))
    @example(("/telegram/webhook", json.dumps(fake_telegram.sample("update_text")).encode()))
    @example(("/whatsapp/webhook", json.dumps(fake_whatsapp.sample("text")).encode()))
    def throw(request: tuple[str, bytes]) -> None:
        path, body = request
        response = asyncio.run_coroutine_threadsafe(post(running.http, path, body), loop).result()
        statuses.setdefault(path, set()).add(response.status_code)
        assert response.status_code < 500, (path, body[:300], response.status_code, response.text[:300])

    await asyncio.to_thread(throw)
    # The parsers were reached and accepted some, refused others, on each way in.
    assert all(200 in statuses.get(path, ()) for path in ("/api/chat", "/telegram/webhook", "/whatsapp/webhook")), statuses
    print(statuses)

    health = await running.http.get("/healthz")
    assert health.status_code == 200 and health.json()["channels"] == {**health.json()["channels"],
                                                                       "telegram": "ok", "whatsapp": "ok"}
    # A normal message still gets answered, on each channel (the workers are alive).
    chat = await running.http.post("/api/chat", json={"button": "m"})
    assert chat.status_code == 200 and chat.json()["replies"]
    normal = fake_telegram.sample("update_text")
    normal["update_id"], normal["message"]["chat"]["id"] = 999_999_999, 777
    assert (await post(running.http, "/telegram/webhook", json.dumps(normal).encode())).status_code == 200
    await running.telegram.wait_for(1, 777)
    envelope = fake_whatsapp.sample("text")
    envelope["entry"][0]["changes"][0]["value"]["messages"][0].update({"from": "4917700000777", "id": "wamid.normal"})
    assert (await post(running.http, "/whatsapp/webhook", json.dumps(envelope).encode())).status_code == 200
    await running.whatsapp.wait_for(1, "4917700000777")

    # Nothing half-written or failed: every stored message parsed, each turn ran to its end.
    deadline = time.monotonic() + 30
    while True:
        rows = await inbound_rows(running.database_url)
        if not any(row.status == "pending" for row in rows):
            break
        assert time.monotonic() < deadline, [(r.id, r.status, r.last_error) for r in rows if r.status == "pending"]
        await asyncio.sleep(0.2)
    assert rows
    for row in rows:
        assert (row.status, row.message, row.last_error) == ("done", "", None), (row.id, row.last_error)
