"""Telegram end to end: the real application, the real Rasa server and database, and a local FAKE
of the Bot API (tests/fake_telegram.py) behind TELEGRAM_API_BASE_URL."""

import asyncio
import copy
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.channels.telegram import MAX_TEXT, render
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import Button, Outcome, Place, Reply
from bot.settings import PROJECT_ROOT
from bot.channels.base import Received
from bot.messages import IncomingMessage
from bot.storage import Inbound, Message, Outbound, Storage, User, make_engine, migrate
from tests.conftest import everything_stored, free_port, make_settings, start_app, stored, stored_addresses
from tests.fake_telegram import TOKEN, FakeTelegram, sample, serve
from tests.fakes import left_pending, reachable

SECRET = "test-webhook-secret-0123456789"
CHAT = 555000111
BOT_ID = "7000000001"
UK = load_languages(PROJECT_ROOT / "locales")["uk"]


def text_update(update_id: int, text: str) -> dict[str, Any]:
    update = copy.deepcopy(sample("update_text"))
    update["update_id"] = update_id
    update["message"]["text"] = text
    update["message"]["message_id"] = update_id
    return update


def button_update(update_id: int, payload: str) -> dict[str, Any]:
    update = copy.deepcopy(sample("update_callback_query"))
    update["update_id"] = update_id
    update["callback_query"]["id"] = f"cq{update_id}"
    update["callback_query"]["data"] = payload
    return update


def start_update(update_id: int) -> dict[str, Any]:
    update = copy.deepcopy(sample("update_start"))
    update["update_id"] = update_id
    return update


def callback_data(sent: dict[str, Any]) -> list[str]:
    markup = sent.get("reply_markup") or {"inline_keyboard": []}
    return [button["callback_data"] for row in markup["inline_keyboard"] for button in row if "callback_data" in button]


class Telegram:
    """The app with Telegram on, and the fake Bot API it talks to."""

    def __init__(self, fake: FakeTelegram, http: httpx.AsyncClient, database_url: str, app: Any = None) -> None:
        self.fake = fake
        self.http = http
        self.database_url = database_url
        self.app = app

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.http.post("/telegram/webhook", content=json.dumps(update), headers=headers)

    async def rows(self, model: Any) -> list[Any]:
        return await stored(self.database_url, model)


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


async def running(fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser,
                  mode: str) -> AsyncIterator[Telegram]:
    async with serve(fake, free_port()) as base_url:
        settings = make_settings(
            database_url, *rasa_server, telegram_bot_token=TOKEN, telegram_mode=mode,
            telegram_webhook_url="https://bot.example.org/telegram/webhook", telegram_webhook_secret=SECRET,
            telegram_api_base_url=base_url, telegram_poll_timeout=1,
        )
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            await started(http)
            yield Telegram(fake, http, settings.database_url, app)


async def started(http: httpx.AsyncClient) -> None:
    """Wait until the channel has registered itself with the Bot API (it starts in the background)."""
    for _ in range(200):
        if (await http.get("/healthz")).json()["channels"].get("telegram") == "ok":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the Telegram channel did not start")


@pytest.fixture
async def webhook(fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str],
                  guesser: LanguageGuesser) -> AsyncIterator[Telegram]:
    async for telegram in running(fake, database_url, rasa_server, guesser, "webhook"):
        yield telegram


async def conversation(telegram: Telegram, deliver: Any) -> None:
    """Start, pick Ukrainian, ask about the women's hour, press a follow-up button."""
    fake = telegram.fake
    await deliver(start_update(1))
    greeting = await fake.wait_for(2, CHAT)
    assert "l:uk" in callback_data(greeting[-1])

    await deliver(button_update(2, "l:uk"))
    await fake.wait_for(1, method="answerCallbackQuery")
    switched = await fake.wait_for(4, CHAT)
    assert "українська" in switched[2]["text"].lower()

    await deliver(text_update(3, "коли консультація для жінок у кафе о"))
    answer = (await fake.wait_for(5, CHAT))[4]
    assert "10:00" in answer["text"] and "четвер" in answer["text"]
    assert "t:cafeo.about" in callback_data(answer)

    await deliver(button_update(4, "t:cafeo.about"))
    await fake.wait_for(2, method="answerCallbackQuery")
    follow_up = (await fake.wait_for(6, CHAT))[5]
    assert "Overwegstr. 32" in follow_up["text"]
    # The report gives no coordinates, so the address comes as a map link rather than a pin.
    assert follow_up["reply_markup"]["inline_keyboard"][0][0]["url"].startswith("https://www.openstreetmap.org/search?")
    every_button = [data for sent in fake.sent(CHAT) for data in callback_data(sent)]
    assert every_button and all(len(data.encode()) <= 64 for data in every_button)


async def test_a_conversation_by_webhook(webhook: Telegram) -> None:
    async def deliver(update: dict[str, Any]) -> None:
        assert (await webhook.post(update)).status_code == 200

    await conversation(webhook, deliver)
    assert webhook.fake.webhook["url"] == "https://bot.example.org/telegram/webhook"
    assert webhook.fake.webhook["secret_token"] == SECRET


async def test_a_conversation_by_polling(fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str],
                                         guesser: LanguageGuesser) -> None:
    async for telegram in running(fake, database_url, rasa_server, guesser, "polling"):
        async def deliver(update: dict[str, Any]) -> None:
            fake.push_update(update)

        await conversation(telegram, deliver)
        assert any(call.method == "deleteWebhook" for call in fake.calls)


async def test_commands_are_registered_in_every_language(webhook: Telegram) -> None:
    registered = webhook.fake.sent(method="setMyCommands")
    assert {r["language_code"] for r in registered} == {p.name for p in (PROJECT_ROOT / "locales").iterdir() if (p / "LC_MESSAGES").is_dir()}
    ukrainian = next(r for r in registered if r["language_code"] == "uk")
    assert [c["command"] for c in ukrainian["commands"]] == ["start", "menu", "language", "human", "cancel", "privacy",
                                                             "delete"]
    assert ukrainian["commands"][3]["description"] == UK.gettext("Talk to a person")


@pytest.mark.parametrize("secret", [None, "wrong-secret-0123456789", SECRET + "x"])
async def test_a_wrong_or_missing_secret_is_refused(webhook: Telegram, secret: str | None) -> None:
    response = await webhook.post(text_update(7, "hallo"), secret=secret)
    assert response.status_code == 403
    assert await webhook.rows(Inbound) == []


async def test_a_redelivered_update_is_answered_once(webhook: Telegram) -> None:
    update = text_update(20, "/menu")
    assert (await webhook.post(update)).status_code == 200
    assert (await webhook.post(update)).status_code == 200
    await webhook.fake.wait_for(1, CHAT)
    await asyncio.sleep(1.5)
    assert len(webhook.fake.sent(CHAT)) == 1
    assert len(await webhook.rows(Inbound)) == 1


async def test_a_flood_wait_delays_the_reply_but_it_arrives(webhook: Telegram) -> None:
    webhook.fake.failures[str(CHAT)] = ["retry_after"]
    await webhook.post(text_update(30, "/menu"))
    await webhook.fake.wait_for(1, CHAT)
    attempts = [c for c in webhook.fake.calls if c.method == "sendMessage"]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0


async def test_a_server_error_is_retried(webhook: Telegram) -> None:
    webhook.fake.failures[str(CHAT)] = ["internal"]
    await webhook.post(text_update(31, "/menu"))
    await webhook.fake.wait_for(1, CHAT)
    [row] = await webhook.rows(Outbound)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_user_who_blocked_the_bot_is_marked_inactive(webhook: Telegram) -> None:
    webhook.fake.failures[str(CHAT)] = ["forbidden"]
    await webhook.post(start_update(40))
    for _ in range(100):
        rows = await webhook.rows(Outbound)
        if rows and all(r.status != "pending" for r in rows):
            break
        await asyncio.sleep(0.1)
    assert {r.status for r in rows} == {"blocked"}
    [user] = await webhook.rows(User)
    assert user.active is False
    assert webhook.fake.sent(CHAT) == []


async def test_a_voice_message_gets_a_friendly_answer_and_is_kept(webhook: Telegram) -> None:
    voice = copy.deepcopy(sample("update_voice"))
    await webhook.post(voice)
    [reply] = await webhook.fake.wait_for(1, CHAT)
    assert reply["text"] == UK.gettext("Sorry, I can only read text. Please write your question, or choose a topic:")
    inbound = [m for m in await webhook.rows(Message) if m.direction == "in"]
    assert [(m.text, m.topic) for m in inbound] == [("(voice: received, unsupported)", "unsupported")]


async def test_the_chat_id_is_stored_only_encrypted(webhook: Telegram) -> None:
    await webhook.post(text_update(70, "wo ist das cafeo"))
    await webhook.fake.wait_for(1, CHAT)
    assert str(CHAT) not in await everything_stored(webhook.database_url)
    [address] = await stored_addresses(webhook.database_url)
    assert webhook.app.state.delivery.ids.open(address.sealed) == str(CHAT)


async def test_updates_left_pending_are_answered_after_a_restart(
    fake: FakeTelegram, database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    """An update stored before a crash (never processed) is picked up when the app starts again."""
    message = IncomingMessage("telegram", str(CHAT), dt.datetime.now(dt.timezone.utc), text="/menu")
    await left_pending(make_settings(database_url), Received(f"{BOT_ID}:50", message, str(CHAT), message.received_at))
    async for telegram in running(fake, database_url, rasa_server, guesser, "webhook"):
        await fake.wait_for(1, CHAT)
        [row] = await telegram.rows(Inbound)
        for _ in range(50):
            if row.status == "done":
                break
            await asyncio.sleep(0.1)
            [row] = await telegram.rows(Inbound)
        assert (row.status, row.message) == ("done", "")


def test_long_answers_are_split_on_paragraphs_with_buttons_under_the_last_piece() -> None:
    paragraph = "Wort " * 300  # 1,500 characters
    text = "\n\n".join([paragraph.strip()] * 5)  # about 7,500 characters
    outcome = Outcome("de", "x", (Reply(text, (Button("Menü", "m"),)),))
    sends = render("1", outcome)
    assert len(sends) == 3
    assert all(len(s.params["text"]) <= MAX_TEXT for s in sends)
    assert all(not s.params["text"].startswith(" ") for s in sends)
    assert "reply_markup" not in sends[0].params and sends[-1].params["reply_markup"]["inline_keyboard"] == [
        [{"text": "Menü", "callback_data": "m"}]
    ]
    assert "".join(s.params["text"] for s in sends).replace("\n", "") == text.replace("\n", "")


def test_a_button_payload_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        render("1", Outcome("de", "x", (Reply("t", (Button("b", "t:" + "x" * 70),)),)))


def test_a_place_with_coordinates_is_sent_as_a_venue() -> None:
    place = Place("CaféO", "Overwegstr. 32, 44623 Herne", 51.5, 7.2)
    sends = render("1", Outcome("de", "cafeo.about", (Reply("Adresse", (Button("Menü", "m"),), place),)))
    assert [s.method for s in sends] == ["sendMessage", "sendVenue"]
    assert sends[1].params == {"latitude": 51.5, "longitude": 7.2, "title": "CaféO", "address": "Overwegstr. 32, 44623 Herne"}


def test_a_place_without_coordinates_gets_a_map_link() -> None:
    place = Place("CaféO", "Overwegstr. 32, 44623 Herne")
    [send] = render("1", Outcome("de", "cafeo.about", (Reply("Adresse", (), place),)))
    assert send.params["reply_markup"]["inline_keyboard"] == [
        [{"text": "📍 Overwegstr. 32, 44623 Herne",
          "url": "https://www.openstreetmap.org/search?query=Overwegstr.%2032%2C%2044623%20Herne"}]
    ]


async def test_a_venue_goes_through_the_outbox_to_the_bot_api(webhook: Telegram) -> None:
    """A reply with a place that has coordinates (what staff coordinates will produce) goes out
    as its text and a sendVenue."""
    engine = make_engine(webhook.database_url)
    async with Storage(engine).session() as session:
        place = {"name": "CaféO", "address": "Overwegstr. 32, 44623 Herne", "latitude": 51.5, "longitude": 7.2}
        session.add(Outbound(channel="telegram", recipient=await reachable(webhook.app, "telegram", str(CHAT)),
                             status="pending", payload=json.dumps({"text": "CaféO", "buttons": [], "place": place})))
        await session.commit()
    await engine.dispose()
    await webhook.post(text_update(60, "/menu"))  # wakes the outbox
    [venue] = await webhook.fake.wait_for(1, CHAT, method="sendVenue")
    assert (float(venue["latitude"]), venue["title"]) == (51.5, "CaféO")


async def test_a_calendar_arrives_as_a_document(webhook: Telegram) -> None:
    """The women's hour comes with its calendar file (.ics), sent as a document after the text."""
    assert (await webhook.post(button_update(70, "t:cafeo.women"))).status_code == 200
    [document] = await webhook.fake.wait_for(1, CHAT, method="sendDocument")
    assert document["document"]["filename"] == "cafeo.women.ics"
    ics = document["document"]["content"].decode("utf-8")
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and "RRULE:FREQ=WEEKLY;BYDAY=TH" in ics
    assert document["caption"] in {language.gettext("Add to calendar") for language in
                                   load_languages(PROJECT_ROOT / "locales").values()}
    texts = [sent["text"] for sent in webhook.fake.sent(CHAT)]
    assert any("10:00" in text for text in texts)


async def test_info_logs_hold_no_chat_id_and_no_message_text(webhook: Telegram, caplog: pytest.LogCaptureFixture) -> None:
    """Privacy by design: a whole conversation, a redelivery and a blocked user logged at INFO name
    neither the chat nor what was written or answered."""
    caplog.set_level(logging.INFO)

    async def deliver(update: dict[str, Any]) -> None:
        assert (await webhook.post(update)).status_code == 200

    await conversation(webhook, deliver)
    await deliver(text_update(3, "коли консультація для жінок у кафе о"))  # delivered again
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "nothing was logged at all: the check would prove nothing"
    assert str(CHAT) not in logged
    assert "консультація" not in logged
    for sent in webhook.fake.sent(CHAT):
        for line in sent["text"].splitlines():
            assert len(line) < 12 or line not in logged, line
