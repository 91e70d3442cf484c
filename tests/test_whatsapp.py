"""WhatsApp end to end: the real application, the real Rasa server and database, and a local FAKE
of the Cloud API (tests/fake_whatsapp.py) behind WHATSAPP_API_BASE_URL. Webhook bodies are the
real shapes in tests/data/whatsapp/, with their timestamps set by each test (Meta's clock)."""

import asyncio
import copy
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.channels.base import Received
from bot.channels.whatsapp import MAX_TEXT, Wording, render_reply
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import Button, Calendar, IncomingMessage, Place, Reply
from bot.settings import PROJECT_ROOT
from bot.storage import Inbound, Message, Outbound, SentMessage, Storage, User, make_engine, migrate
from tests.conftest import everything_stored, free_port, make_settings, start_app, stored, stored_addresses
from tests.fake_whatsapp import APP_SECRET, PHONE_NUMBER_ID, TOKEN, FakeGraph, sample, serve, sign
from tests.fakes import left_pending

VERIFY_TOKEN = "verify-token-for-tests"
TEMPLATE = "ki_reply_waiting"
USER = "4915112345678"
OTHER = "4917698765432"
LANGUAGES = load_languages(PROJECT_ROOT / "locales")
WORDS = Wording("Choose", "Reply with the number of your choice.")


def now_ts(hours_ago: float = 0) -> str:
    return str(int(time.time() - hours_ago * 3600))


def message(kind: str, wamid: str, hours_ago: float = 0, **fields: Any) -> dict[str, Any]:
    """The sample webhook `kind` with one message, its id and Meta's timestamp set."""
    body = copy.deepcopy(sample(kind))
    item = body["entry"][0]["changes"][0]["value"]["messages"][0]
    item.update(id=wamid, timestamp=now_ts(hours_ago), **fields)
    return body


def text(wamid: str, words: str, hours_ago: float = 0) -> dict[str, Any]:
    return message("text", wamid, hours_ago, text={"body": words})


def tap(wamid: str, payload: str, kind: str = "button_reply") -> dict[str, Any]:
    return message(kind if kind == "list_reply" else "button_reply", wamid,
                   interactive={"type": kind, kind: {"id": payload, "title": "x"}})


def options(body: dict[str, Any]) -> list[str]:
    """The payloads a sent message offers (reply buttons or list rows)."""
    if body["type"] != "interactive":
        return []
    interactive = body["interactive"]
    if interactive["type"] == "button":
        return [b["reply"]["id"] for b in interactive["action"]["buttons"]]
    return [row["id"] for section in interactive["action"]["sections"] for row in section["rows"]]


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """What the application and its HTTP clients logged (the SQL drivers' own DEBUG output, which
    echoes query parameters, is off in production)."""
    return "\n".join(record.getMessage() for record in caplog.records
                     if record.name.startswith(("bot", "httpx", "uvicorn", "starlette")))


def shown(body: dict[str, Any]) -> str:
    return body["text"]["body"] if body["type"] == "text" else body["interactive"]["body"]["text"]


class WhatsApp:
    def __init__(self, fake: FakeGraph, http: httpx.AsyncClient, database_url: str, app: Any) -> None:
        self.fake, self.http, self.database_url, self.app = fake, http, database_url, app

    async def post(self, body: dict[str, Any] | bytes, signature: str | None = "sign") -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = sign(raw) if signature == "sign" else signature
        return await self.http.post("/whatsapp/webhook", content=raw, headers=headers)

    async def deliver(self, body: dict[str, Any]) -> None:
        response = await self.post(body)
        assert response.status_code == 200, response.text

    async def rows(self, model: Any) -> list[Any]:
        return await stored(self.database_url, model)

    async def settled(self, timeout: float = 20) -> list[Outbound]:
        """The outbox once nothing in it is pending or being sent."""
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.rows(Outbound)
            if rows and all(r.status not in ("pending", "sending") for r in rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError([(r.id, r.status, r.last_error) for r in rows])
            await asyncio.sleep(0.1)


@pytest.fixture
async def whatsapp(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[WhatsApp]:
    async for running in start(database_url, rasa_server, guesser):
        yield running


async def start(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser,
                **overrides: object) -> AsyncIterator[WhatsApp]:
    fake = FakeGraph()
    async with serve(fake, free_port()) as base_url:
        settings = make_settings(
            database_url, *rasa_server, whatsapp_access_token=TOKEN, whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token=VERIFY_TOKEN, whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_api_base_url=base_url, whatsapp_template_name=TEMPLATE, whatsapp_template_language="de",
            **overrides,
        )
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            for _ in range(200):
                if (await http.get("/healthz")).json()["channels"].get("whatsapp") == "ok":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the WhatsApp channel did not start")
            yield WhatsApp(fake, http, settings.database_url, app)


# -- the webhook: handshake, signature, size, shape ----------------------------------------

async def test_the_verification_handshake(whatsapp: WhatsApp) -> None:
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = await whatsapp.http.get("/whatsapp/webhook", params=good)
    assert (response.status_code, response.text) == (200, "1158201444")
    assert response.headers["content-type"].startswith("text/plain")
    for bad in ({**good, "hub.verify_token": "wrong"}, {**good, "hub.mode": "unsubscribe"},
                {k: v for k, v in good.items() if k != "hub.verify_token"}):
        assert (await whatsapp.http.get("/whatsapp/webhook", params=bad)).status_code == 403


async def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(whatsapp: WhatsApp) -> None:
    body = json.dumps(text("wamid.SIG", "hallo")).encode()
    assert (await whatsapp.post(body, signature=None)).status_code == 401
    assert (await whatsapp.post(body, signature=sign(body, "another-secret"))).status_code == 403
    assert (await whatsapp.post(body + b" ", signature=sign(body))).status_code == 403  # signed other bytes
    assert await whatsapp.rows(Inbound) == []


async def test_malformed_json_is_refused_and_nothing_stored_half_way(whatsapp: WhatsApp) -> None:
    assert (await whatsapp.post(b'{"object": "whatsapp_business_account", "entry": [')).status_code == 400
    batch = copy.deepcopy(sample("batch"))
    del batch["entry"][1]["changes"][0]["value"]["messages"][0]["id"]  # the third message is broken
    assert (await whatsapp.post(batch)).status_code == 400
    assert await whatsapp.rows(Inbound) == []


async def test_a_body_over_3_mb_is_refused(whatsapp: WhatsApp) -> None:
    body = text("wamid.BIG", "x" * (3 * 1024 * 1024))
    assert (await whatsapp.post(body)).status_code == 413
    assert await whatsapp.rows(Inbound) == []


# -- conversations --------------------------------------------------------------------------

async def test_arabic_question_about_german_courses_then_a_tap(whatsapp: WhatsApp) -> None:
    ar = LANGUAGES["ar"]
    await whatsapp.deliver(text("wamid.AR1", "أريد أن أتعلم اللغة الألمانية، أين توجد دورات اللغة؟"))
    # The answer, then (first contact) the other languages to choose from.
    answer, languages = await whatsapp.fake.wait_for(2, USER)
    assert answer["type"] == "interactive" and "l:de" in options(languages)
    assert "HerEin" in shown(answer) and "دورات" in shown(answer)
    offered = options(answer)
    assert "t:courses.placement" in offered

    await whatsapp.deliver(tap("wamid.AR2", "t:courses.placement",
                               "list_reply" if answer["interactive"]["type"] == "list" else "button_reply"))
    follow_up = (await whatsapp.fake.wait_for(3, USER))[2]
    assert "اختبار" in shown(follow_up)
    [user] = await whatsapp.rows(User)
    assert user.language == "ar" and ar.rtl


async def test_the_phone_number_is_stored_only_encrypted(whatsapp: WhatsApp) -> None:
    """After a conversation the phone number is nowhere in the database as it is: every table
    has its keyed hash, and the address book the number encrypted, which opens to it."""
    await whatsapp.deliver(text("wamid.PN1", "wo ist das cafeo"))
    await whatsapp.deliver(tap("wamid.PN2", "m"))
    await whatsapp.fake.wait_for(3, USER)
    await whatsapp.settled()
    assert USER not in await everything_stored(whatsapp.database_url)
    ids = whatsapp.app.state.delivery.ids
    [user] = await whatsapp.rows(User)
    assert user.channel_user_id == ids.ref("whatsapp", USER)
    [address] = await stored_addresses(whatsapp.database_url)
    assert (address.ref, ids.open(address.sealed)) == (user.channel_user_id, USER)


async def test_the_menu_comes_as_numbered_text_and_a_number_chooses(whatsapp: WhatsApp) -> None:
    """The main menu has more than 10 options: numbered text; "٣" (Arabic-Indic 3) picks the third."""
    await whatsapp.deliver(tap("wamid.N1", "l:ar"))
    await whatsapp.fake.wait_for(2, USER)
    menu = whatsapp.fake.sent(USER)[-1]
    assert menu["type"] == "text" and "\n1. " in shown(menu) and "\n11. " in shown(menu)
    assert LANGUAGES["ar"].gettext("Reply with the number of your choice.") in shown(menu)
    third = shown(menu).split("\n3. ")[1].split("\n")[0]
    offered = json.loads([m for m in await whatsapp.rows(Message) if m.direction == "out"][-1].buttons)
    assert offered[2]["title"] == third
    await whatsapp.deliver(text("wamid.N2", "٣"))
    await whatsapp.fake.wait_for(3, USER)
    incoming = [m.text for m in await whatsapp.rows(Message) if m.direction == "in"]
    assert incoming[-1] == offered[2]["payload"]  # pressed, not read as text


async def test_a_redelivered_message_is_answered_once(whatsapp: WhatsApp) -> None:
    body = text("wamid.DUP", "/menu")
    await whatsapp.deliver(body)
    await whatsapp.deliver(body)
    await whatsapp.fake.wait_for(1, USER)
    await asyncio.sleep(1.5)
    assert len(whatsapp.fake.sent(USER)) == 1
    assert len(await whatsapp.rows(Inbound)) == 1


async def test_a_batch_is_handled_message_by_message(whatsapp: WhatsApp) -> None:
    batch = copy.deepcopy(sample("batch"))
    for entry in batch["entry"]:
        for item in entry["changes"][0]["value"]["messages"]:
            item["timestamp"] = now_ts()
    await whatsapp.deliver(batch)
    await whatsapp.fake.wait_for(1, OTHER)
    first = await whatsapp.fake.wait_for(3, USER)  # the menu, then "Arabic from now on" and its menu
    assert "\n1. " in shown(first[0])
    assert "العربية" in shown(first[1])
    assert {r.external_id for r in await whatsapp.rows(Inbound)} == {"wamid.BATCH-A1", "wamid.BATCH-B1", "wamid.BATCH-A2"}


async def test_an_unknown_type_and_a_voice_message_get_the_friendly_answer(whatsapp: WhatsApp) -> None:
    de = LANGUAGES["de"]
    await whatsapp.deliver(message("unknown", "wamid.UNK"))
    await whatsapp.deliver(message("audio", "wamid.AUD"))
    replies = await whatsapp.fake.wait_for(2, USER)
    friendly = de.gettext("Sorry, I can only read text. Please write your question, or choose a topic:")
    assert all(shown(r).startswith(friendly) for r in replies)
    inbound = [(m.text, m.topic) for m in await whatsapp.rows(Message) if m.direction == "in"]
    assert inbound == [("(unsupported: received, unsupported)", "unsupported"), ("(audio: received, unsupported)", "unsupported")]


async def test_a_location_naming_a_district_gets_its_team(whatsapp: WhatsApp) -> None:
    await whatsapp.deliver(message("location", "wamid.LOC1"))
    [answer] = await whatsapp.fake.wait_for(1, USER)
    assert "Sodingen" in shown(answer) and "AWO" in shown(answer)
    stored = [m.text for m in await whatsapp.rows(Message) if m.direction == "in"]
    assert stored == ["(location: received)"]  # no coordinates kept


async def test_a_location_without_a_district_gets_the_district_question(whatsapp: WhatsApp) -> None:
    await whatsapp.deliver(message("location", "wamid.LOC2", location={"latitude": 51.54, "longitude": 7.22}))
    [question] = await whatsapp.fake.wait_for(1, USER)
    assert shown(question) == "In welchem Stadtbezirk von Herne wohnen Sie?"
    assert options(question) == ["v:kim.contact:sodingen", "v:kim.contact:herne_mitte", "v:kim.contact:wanne",
                                 "v:kim.contact:eickel", "v:kim.contact:"]
    await whatsapp.deliver(tap("wamid.LOC3", "v:kim.contact:wanne", "list_reply"))
    answer = (await whatsapp.fake.wait_for(2, USER))[1]
    assert "PLANB" in shown(answer)


# -- the outbox: errors, reports, the 24-hour window ------------------------------------------

async def test_a_throughput_limit_backs_off_then_sends(whatsapp: WhatsApp) -> None:
    whatsapp.fake.failures[USER] = ["130429"]
    await whatsapp.deliver(text("wamid.RL", "/menu"))
    await whatsapp.fake.wait_for(1, USER, timeout=30)
    attempts = [s for s in whatsapp.fake.sends if s.body["to"] == USER]
    assert [s.ok for s in attempts] == [False, True] and attempts[1].at - attempts[0].at >= 1.9
    [row] = await whatsapp.settled()
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_server_error_is_retried(whatsapp: WhatsApp) -> None:
    whatsapp.fake.failures[USER] = ["131000"]
    await whatsapp.deliver(text("wamid.500", "/menu"))
    await whatsapp.fake.wait_for(1, USER, timeout=30)
    [row] = await whatsapp.settled()
    assert (row.status, row.attempts) == ("sent", 2)


async def test_an_undeliverable_user_is_marked_and_not_retried(whatsapp: WhatsApp,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    whatsapp.fake.failures[USER] = ["131026"]
    await whatsapp.deliver(text("wamid.UND", "/menu"))
    rows = await whatsapp.settled()
    assert {r.status for r in rows} == {"blocked"}
    await asyncio.sleep(2.5)
    assert len(whatsapp.fake.sends) == 1
    [user] = await whatsapp.rows(User)
    assert user.active is False
    assert "131026" in ours(caplog) and USER not in ours(caplog)  # logged, without the phone number


async def test_delivery_reports_are_recorded_on_the_sent_message_and_never_answered(whatsapp: WhatsApp) -> None:
    await whatsapp.deliver(text("wamid.REP", "/menu"))
    await whatsapp.fake.wait_for(1, USER)
    [row] = await whatsapp.settled()
    wamid = whatsapp.fake.sends[0].wamid
    reports = copy.deepcopy(sample("statuses"))
    statuses = reports["entry"][0]["changes"][0]["value"]["statuses"]
    statuses[0]["id"] = statuses[1]["id"] = wamid
    # "read" before "delivered" (Meta does not promise the order): read stays.
    statuses[0], statuses[1] = statuses[1], statuses[0]
    await whatsapp.deliver(reports)
    await whatsapp.deliver(reports)  # delivered again: the same
    sent = {s.external_id: s for s in await whatsapp.rows(SentMessage)}
    assert (sent[wamid].outbound_id, sent[wamid].status) == (row.id, "read")
    assert sent["wamid.SENT-2"].status == "failed" and "131026" in (sent["wamid.SENT-2"].error or "")
    await asyncio.sleep(1)
    assert len(whatsapp.fake.sends) == 1 and len(await whatsapp.rows(Inbound)) == 1


async def test_a_failed_report_of_an_undeliverable_message_marks_the_user(whatsapp: WhatsApp) -> None:
    await whatsapp.deliver(text("wamid.F1", "/menu"))
    await whatsapp.fake.wait_for(1, USER)
    await whatsapp.settled()
    reports = copy.deepcopy(sample("statuses"))
    statuses = reports["entry"][0]["changes"][0]["value"]["statuses"]
    statuses[2]["id"] = whatsapp.fake.sends[0].wamid
    reports["entry"][0]["changes"][0]["value"]["statuses"] = [statuses[2]]
    await whatsapp.deliver(reports)
    [user] = await whatsapp.rows(User)
    assert user.active is False


async def test_outside_the_24_hour_window_the_template_goes_and_the_reply_waits(
        whatsapp: WhatsApp, caplog: pytest.LogCaptureFixture) -> None:
    """A message Meta timestamps 25 hours ago, and a later reply queued by anyone (a case manager's
    answer through Delivery.enqueue): no free-form message, one template; both go out, in order,
    when the user writes again."""
    caplog.set_level(logging.DEBUG)
    await whatsapp.deliver(text("wamid.OLD", "/menu", hours_ago=25))
    [template] = await whatsapp.fake.wait_for(1, USER, kind="template")
    assert template["template"] == {"name": TEMPLATE, "language": {"code": "de"}}
    delivery = whatsapp.app.state.delivery
    await delivery.enqueue("whatsapp", delivery.ids.ref("whatsapp", USER), (Reply("Antwort der Case Managerin"),))
    rows = await whatsapp.settled()
    assert [r.status for r in rows] == ["held", "held"]
    await asyncio.sleep(1)
    assert [s.body["type"] for s in whatsapp.fake.sends] == ["template"]  # one notice, nothing refused

    await whatsapp.deliver(text("wamid.NEW", "danke"))
    sent = await whatsapp.fake.wait_for(4, USER)
    assert [b["type"] for b in sent][:3] == ["template", "text", "text"]
    assert "\n1. " in shown(sent[1]) and shown(sent[2]) == "Antwort der Case Managerin"
    assert {r.status for r in await whatsapp.settled()} == {"sent"}
    assert "held" in ours(caplog) and USER not in ours(caplog)


async def test_a_refusal_for_the_window_holds_the_reply_and_is_not_retried(whatsapp: WhatsApp) -> None:
    """Should Meta still answer 131047 (its clock against ours), the template goes and the reply waits."""
    whatsapp.fake.failures[USER] = ["131047"]
    await whatsapp.deliver(text("wamid.W1", "/menu"))
    await whatsapp.fake.wait_for(1, USER, kind="template")
    [row] = await whatsapp.settled()
    assert row.status == "held"
    await asyncio.sleep(2.5)
    assert [(s.body["type"], s.ok) for s in whatsapp.fake.sends] == [("text", False), ("template", True)]


async def test_a_late_window_refusal_holds_the_reply_until_the_user_writes(whatsapp: WhatsApp) -> None:
    """Meta may report 131047 only afterwards, as a `failed` status: the reply is held again and
    goes out (once) when the user writes."""
    await whatsapp.deliver(text("wamid.LATE1", "/menu"))
    await whatsapp.fake.wait_for(1, USER)
    await whatsapp.settled()
    reports = copy.deepcopy(sample("statuses"))
    failed = reports["entry"][0]["changes"][0]["value"]["statuses"][2]
    failed.update(id=whatsapp.fake.sends[0].wamid, errors=[{"code": 131047, "title": "Re-engagement message",
                                                            "error_data": {"details": "More than 24 hours."}}])
    reports["entry"][0]["changes"][0]["value"]["statuses"] = [failed]
    await whatsapp.deliver(reports)
    [row] = await whatsapp.rows(Outbound)
    assert row.status == "held"
    await whatsapp.deliver(text("wamid.LATE2", "/privacy"))
    sent = await whatsapp.fake.wait_for(3, USER)
    assert shown(sent[1]) == shown(sent[0])  # the held menu again, then the answer
    [user] = await whatsapp.rows(User)
    assert user.active is True


async def test_messages_left_pending_are_answered_after_a_restart(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    incoming = IncomingMessage("whatsapp", USER, dt.datetime.now(dt.timezone.utc), text="/menu")
    await left_pending(make_settings(database_url), Received("wamid.BEFORE-CRASH", incoming, USER, incoming.received_at))
    async for whatsapp in start(database_url, rasa_server, guesser):
        await whatsapp.fake.wait_for(1, USER)
        [row] = await whatsapp.rows(Inbound)
        assert row.status == "done"


# -- rendering (no network) -----------------------------------------------------------------

def test_long_text_is_split_at_4096_and_buttons_go_under_the_last_piece() -> None:
    paragraph = ("Wort " * 300).strip()
    reply = Reply("\n\n".join([paragraph] * 5), (Button("Menü", "m"),))
    bodies = render_reply(USER, reply, WORDS)
    assert [b["type"] for b in bodies][-1] == "interactive"
    assert all(len(shown(b)) <= MAX_TEXT for b in bodies)
    assert len(shown(bodies[-1])) <= 1024
    assert "".join(shown(b) for b in bodies).replace("\n", "").replace(" ", "") == reply.text.replace("\n", "").replace(" ", "")


def test_up_to_three_options_are_reply_buttons_with_short_titles_where_needed() -> None:
    reply = Reply("?", (Button("Deutsch- & Integrationskurse", "t:a", "Deutschkurse"), Button("Menü", "m")))
    [body] = render_reply(USER, reply, WORDS)
    assert body["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "t:a", "title": "Deutschkurse"}},
        {"type": "reply", "reply": {"id": "m", "title": "Menü"}}]


def test_four_to_ten_options_are_a_list_with_the_whole_title_as_description() -> None:
    buttons = tuple(Button(f"Thema {n}", f"t:{n}") for n in range(8)) + (
        Button("Mit einem Menschen sprechen", "h", "Mit jemandem reden"),)
    [body] = render_reply(USER, Reply("Wählen Sie:", buttons), WORDS)
    interactive = body["interactive"]
    assert interactive["type"] == "list" and interactive["action"]["button"] == "Choose"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == 9 and rows[-1] == {"id": "h", "title": "Mit jemandem reden",
                                           "description": "Mit einem Menschen sprechen"}
    assert all(len(r["title"]) <= 24 for r in rows)


def test_more_than_ten_options_are_numbered_text() -> None:
    buttons = tuple(Button(f"Thema {n}", f"t:{n}") for n in range(1, 13))
    [body] = render_reply(USER, Reply("Wählen Sie:", buttons), WORDS)
    assert body["type"] == "text"
    assert shown(body) == "Wählen Sie:\n\n" + "\n".join(f"{n}. Thema {n}" for n in range(1, 13)) \
        + "\n\nReply with the number of your choice."


def test_a_place_is_a_pin_with_coordinates_and_a_map_link_without() -> None:
    with_pin = render_reply(USER, Reply("CaféO", (), Place("CaféO", "Overwegstr. 32, 44623 Herne", 51.5, 7.2)), WORDS)
    assert with_pin[1]["location"] == {"latitude": 51.5, "longitude": 7.2, "name": "CaféO",
                                       "address": "Overwegstr. 32, 44623 Herne"}
    [without] = render_reply(USER, Reply("CaféO", (), Place("CaféO", "Overwegstr. 32, 44623 Herne")), WORDS)
    assert "📍 Overwegstr. 32, 44623 Herne\nhttps://www.openstreetmap.org/search?query=" in shown(without)


def test_a_calendar_is_a_link_to_the_web_app_where_its_address_is_known() -> None:
    calendar = Calendar("Add to calendar", "cafeo.women.ics", "/calendar/cafeo.women.ics?lang=en", "BEGIN:VCALENDAR")
    [body] = render_reply(USER, Reply("Thursday", (), calendar=calendar), WORDS, "https://chat.example.org/")
    assert shown(body) == "Thursday\n\n📅 Add to calendar: https://chat.example.org/calendar/cafeo.women.ics?lang=en"
    [without] = render_reply(USER, Reply("Thursday", (), calendar=calendar), WORDS)
    assert shown(without) == "Thursday"


async def test_info_logs_hold_no_phone_number_and_no_message_text(whatsapp: WhatsApp,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Privacy by design: a conversation and a redelivery logged at INFO name neither the phone
    number nor what was written or answered."""
    caplog.set_level(logging.INFO)
    question = "I want to learn German, where are the language courses?"
    await whatsapp.deliver(text("wamid.LOG1", question))
    await whatsapp.fake.wait_for(2, USER)
    await whatsapp.deliver(text("wamid.LOG1", question))  # delivered again
    await whatsapp.settled()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "nothing was logged at all: the check would prove nothing"
    assert USER not in logged
    assert "language courses" not in logged
    for body in whatsapp.fake.sent(USER):
        for line in shown(body).splitlines():
            assert len(line) < 12 or line not in logged, line
