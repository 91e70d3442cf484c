"""Handoff to a case manager: consent, the queue, the staff console's API, replies through the
user's channel, the bot silent meanwhile, closing; crisis cases urgent; working hours and NRW
holidays; two claims at once; the e-mail to staff. Real Rasa, real databases, the FAKE Bot API
and a local SMTP server (aiosmtpd)."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from bot.content import OpeningHours
from bot.dialogue import Dialogue
from bot.handoff import TeamHours
from bot.language_detection import LanguageGuesser
from bot.storage import Case, Consent, Outbound, Storage, make_engine
from bot.staff import add_staff_user
from tests.conftest import Chat, buttons, free_port, make_settings, start_app, texts
from tests.fake_telegram import FakeTelegram, serve
from tests.fakes import FakeNlu
from tests.test_telegram import CHAT, SECRET, TOKEN, button_update, callback_data, started, text_update

PASSWORD = "correct horse battery"


class Console:
    """A staff member's browser on the console API: signs in, keeps the session cookie and CSRF token."""

    def __init__(self, http: httpx.AsyncClient, name: str) -> None:
        self.http, self.name, self.cookie, self.csrf = http, name, "", ""

    async def sign_in(self, password: str = PASSWORD) -> httpx.Response:
        response = await self.http.post("/staff/login", data={"username": self.name, "password": password})
        if response.status_code == 200:
            self.cookie, self.csrf = response.cookies["ki_staff"], response.json()["csrf_token"]
        return response

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Cookie": f"ki_staff={self.cookie}"})

    async def post(self, path: str, json: dict[str, Any] | None = None, csrf: bool = True) -> httpx.Response:
        headers = {"Cookie": f"ki_staff={self.cookie}"} | ({"X-CSRF-Token": self.csrf} if csrf else {})
        return await self.http.post(path, json=json or {}, headers=headers)

    async def cases(self) -> list[dict[str, Any]]:
        response = await self.get("/staff/api/cases")
        assert response.status_code == 200, response.text
        return list(response.json()["cases"])


async def staff(app: Any, name: str, role: str = "case_manager", languages: tuple[str, ...] = ("de", "ar")) -> None:
    await add_staff_user(app.state.storage, name, role, list(languages), PASSWORD)


@pytest.fixture
async def bot(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app, http = await start_app(make_settings(database_url, *rasa_server), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        await staff(app, "amira")
        await staff(app, "jonas", languages=("de", "uk"))
        await staff(app, "leitung", role="admin", languages=("de",))
        yield app, http


async def rows(app: Any, model: Any) -> list[Any]:
    async with app.state.storage.session() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def ask_for_a_person(chat: Chat) -> dict[str, Any]:
    asked = await chat.say("ich möchte mit einem menschen sprechen")
    assert asked["topic"] == "handoff.consent" and buttons(asked)[:2] == ["consent:yes", "consent:no"]
    assert "Integrationszentrum" in texts(asked) and "90" in texts(asked)  # with whom, and for how long
    given = await chat.press("consent:yes")
    assert given["handoff"] is True and given["topic"] == "handoff.open"
    return given


async def test_the_whole_path_on_the_web_chat(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    chat, amira = Chat(http), Console(http, "amira")
    await chat.press("v:kim.contact:wanne")  # the KIM team of their district: the case carries it
    await chat.say("was ist das cafeo")
    await ask_for_a_person(chat)
    [consent] = await rows(app, Consent)
    assert (consent.answer, consent.version) == ("yes", "2026-12-04")

    assert (await amira.sign_in()).status_code == 200
    [case] = await amira.cases()
    assert (case["status"], case["language"], case["channel"], case["topic"], case["district"], case["urgent"]) == (
        "waiting", "de", "web", "cafeo.about", "wanne", False)
    assert (await amira.post(f"/staff/api/cases/{case['id']}/claim")).status_code == 200
    reply = await amira.post(f"/staff/api/cases/{case['id']}/reply", {"text": "Guten Tag, hier ist Amira vom KI."})
    assert reply.status_code == 200, reply.text

    # The answer reaches the user's chat: the outbox sends it (the open page gets it over the
    # events), and it is in the history after a reload.
    for _ in range(100):
        if [r.status for r in await rows(app, Outbound) if "Amira" in r.payload] == ["sent"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the staff reply was not sent")
    history = (await chat.request("GET", "/api/history")).json()["messages"]
    assert [m["direction"] for m in history if m["text"] == "Guten Tag, hier ist Amira vom KI."] == ["out"]

    # The user writes: the bot is silent (acknowledged already when the case opened), staff see it.
    silent = await chat.say("danke! wann kann ich kommen?")
    assert silent["handoff"] is True and silent["replies"] == []
    transcript = (await amira.get(f"/staff/api/cases/{case['id']}")).json()["messages"]
    assert [m["direction"] for m in transcript if m["text"] == "danke! wann kann ich kommen?"] == ["in"]
    assert [m["direction"] for m in transcript if "Amira" in m["text"]] == ["staff"]

    closed = await amira.post(f"/staff/api/cases/{case['id']}/close", {"outcome": "Termin im CaféO vereinbart"})
    assert closed.status_code == 200 and closed.json()["case"]["status"] == "closed"
    assert await amira.cases() == []
    back = await chat.say("was ist das cafeo")
    assert back["handoff"] is False and back["topic"] == "cafeo.about"  # the bot answers again
    history = (await chat.request("GET", "/api/history")).json()["messages"]
    assert any("wieder beim Chatbot" in m["text"] or "chatbot" in m["text"].lower() for m in history
               if m["direction"] == "out")


async def test_an_acknowledgement_at_most_every_ten_minutes(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    chat = Chat(http)
    await ask_for_a_person(chat)
    assert (await chat.say("hallo?"))["replies"] == []
    async with app.state.storage.session() as session, session.begin():
        await session.execute(update(Case).values(acknowledged_at=dt.datetime.now(dt.timezone.utc)
                                                  - dt.timedelta(minutes=11)))
    later = await chat.say("ist jemand da?")
    assert len(later["replies"]) == 1 and "handoff:cancel" in buttons(later)
    assert (await chat.say("bitte"))["replies"] == []


async def test_the_user_can_withdraw_a_waiting_request(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    chat = Chat(http)
    await ask_for_a_person(chat)
    withdrawn = await chat.say("/cancel")
    assert withdrawn["handoff"] is False and withdrawn["topic"] == "handoff.withdrawn"
    [case] = await rows(app, Case)
    assert case.status == "closed"
    assert [c.answer for c in await rows(app, Consent)] == ["yes", "withdrawn"]
    assert (await chat.say("was ist das cafeo"))["topic"] == "cafeo.about"


async def test_consent_refused_opens_no_case_and_shares_nothing(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    chat = Chat(http)
    await chat.say("ich möchte mit einem menschen sprechen")
    refused = await chat.press("consent:no")
    assert refused["handoff"] is False and "02323" in texts(refused)
    assert await rows(app, Case) == []
    assert [c.answer for c in await rows(app, Consent)] == ["no"]
    amira = Console(http, "amira")
    await amira.sign_in()
    assert await amira.cases() == []


async def test_a_crisis_comes_first_and_its_case_is_urgent_at_the_top(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    first, in_danger = Chat(http), Chat(http)
    await ask_for_a_person(first)
    crisis = await in_danger.say("ich will mich umbringen")
    assert crisis["topic"] == "crisis" and "0800 111 0 111" in texts(crisis) and "h" in buttons(crisis)
    assert (await in_danger.press("h"))["topic"] == "handoff.consent"
    await in_danger.press("consent:yes")
    amira = Console(http, "amira")
    await amira.sign_in()
    queue = await amira.cases()
    assert [c["urgent"] for c in queue] == [True, False]  # urgent first, although it came second
    # While the case is open, a crisis message is still answered at once.
    again = await first.say("mein mann schlägt mich")
    assert again["topic"] == "crisis" and again["handoff"] is True
    assert [c["urgent"] for c in await amira.cases()] == [True, True]


async def test_two_staff_claiming_at_once_one_wins(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    await ask_for_a_person(Chat(http))
    amira, jonas = Console(http, "amira"), Console(http, "jonas")
    await amira.sign_in()
    await jonas.sign_in()
    [case] = await amira.cases()
    results = await asyncio.gather(amira.post(f"/staff/api/cases/{case['id']}/claim"),
                                   jonas.post(f"/staff/api/cases/{case['id']}/claim"))
    assert sorted(r.status_code for r in results) == [200, 409]
    [stored] = await rows(app, Case)
    winner = "amira" if results[0].status_code == 200 else "jonas"
    assert stored.claimed_by == winner
    loser = jonas if winner == "amira" else amira
    assert (await loser.post(f"/staff/api/cases/{case['id']}/reply", {"text": "x"})).status_code == 403
    # The winner hands it on: now the other one answers, and the winner no longer may.
    first = amira if winner == "amira" else jonas
    assert (await first.post(f"/staff/api/cases/{case['id']}/reassign", {"to": "nobody"})).status_code == 400
    assert (await first.post(f"/staff/api/cases/{case['id']}/reassign", {"to": loser.name})).status_code == 200
    assert (await loser.post(f"/staff/api/cases/{case['id']}/reply", {"text": "Hallo"})).status_code == 200
    assert (await first.post(f"/staff/api/cases/{case['id']}/reply", {"text": "x"})).status_code == 403


async def test_the_console_api_needs_a_session_a_csrf_token_and_for_the_audit_an_admin(
        bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    await ask_for_a_person(Chat(http))
    assert (await http.get("/staff/api/cases")).status_code == 401
    assert (await http.post("/staff/api/cases/1/claim")).status_code == 401
    amira = Console(http, "amira")
    assert (await amira.sign_in("wrong password")).status_code == 401
    assert (await amira.sign_in()).status_code == 200
    session = (await amira.get("/staff/api/session")).json()
    assert (session["user"], session["role"], session["languages"]) == ("amira", "case_manager", ["de", "ar"])
    [case] = await amira.cases()
    assert (await amira.post(f"/staff/api/cases/{case['id']}/claim", csrf=False)).status_code == 403
    amira.csrf = "forged"
    assert (await amira.post(f"/staff/api/cases/{case['id']}/claim")).status_code == 403
    amira.csrf = session["csrf_token"]
    assert (await amira.post(f"/staff/api/cases/{case['id']}/claim")).status_code == 200
    await amira.get(f"/staff/api/cases/{case['id']}")
    assert (await amira.get("/staff/api/audit")).status_code == 403
    admin = Console(http, "leitung")
    await admin.sign_in()
    entries = (await admin.get("/staff/api/audit")).json()["entries"]
    done = {(e["staff"], e["action"], e["case_id"]) for e in entries}
    assert {("amira", "claim", case["id"]), ("amira", "view", case["id"]), ("amira", "login_failed", None)} <= done


async def test_sign_ins_are_limited(bot: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = bot
    amira = Console(http, "amira")
    codes = [(await amira.sign_in("wrong")).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert (await amira.sign_in()).status_code == 429  # even the right password, for a while


async def test_the_whole_path_on_telegram(database_url: str, rasa_server: tuple[str, str],
                                          guesser: LanguageGuesser) -> None:
    fake = FakeTelegram()
    async with serve(fake, free_port()) as base_url:
        settings = make_settings(database_url, *rasa_server, telegram_bot_token=TOKEN, telegram_mode="webhook",
                                 telegram_webhook_url="https://bot.example.org/telegram/webhook",
                                 telegram_webhook_secret=SECRET, telegram_api_base_url=base_url)
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            await started(http)
            await staff(app, "amira")

            async def deliver(update: dict[str, Any]) -> None:
                response = await http.post("/telegram/webhook", json=update,
                                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                assert response.status_code == 200

            await deliver(text_update(1, "/human"))
            [consent] = await fake.wait_for(1, CHAT)
            assert callback_data(consent)[:2] == ["consent:yes", "consent:no"]
            await deliver(button_update(2, "consent:yes"))
            await fake.wait_for(2, CHAT)
            amira = Console(http, "amira")
            await amira.sign_in()
            [case] = await amira.cases()
            assert case["channel"] == "telegram"
            await amira.post(f"/staff/api/cases/{case['id']}/claim")
            await amira.post(f"/staff/api/cases/{case['id']}/reply", {"text": "Hallo, hier ist Amira."})
            assert (await fake.wait_for(3, CHAT))[2]["text"] == "Hallo, hier ist Amira."
            await deliver(text_update(3, "danke"))
            for _ in range(100):
                transcript = (await amira.get(f"/staff/api/cases/{case['id']}")).json()["messages"]
                if any(m["text"] == "danke" for m in transcript):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the user's message did not reach the case")
            await asyncio.sleep(0.3)
            assert len(fake.sent(CHAT)) == 3  # the bot stayed silent
            await amira.post(f"/staff/api/cases/{case['id']}/close", {"outcome": "erledigt"})
            back = (await fake.wait_for(4, CHAT))[3]
            assert "t:cafeo.about" in callback_data(back)  # back with the bot: the menu
            await deliver(text_update(4, "was ist das cafeo"))
            answer = (await fake.wait_for(5, CHAT))[4]
            assert "Overwegstr" in answer["text"] or "CaféO" in answer["text"]


# -- working hours, without a server ---------------------------------------------------------

WEEKDAYS = TeamHours(tuple(OpeningHours(weekday=d, opens="09:00", closes="15:00")
                           for d in ("monday", "tuesday", "wednesday", "thursday", "friday")))


def berlin(*args: int) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


def test_the_next_working_day_skips_weekends_and_nrw_holidays() -> None:
    assert WEEKDAYS.at_work(berlin(2026, 12, 3, 10, 0))
    assert not WEEKDAYS.at_work(berlin(2026, 12, 3, 16, 0))
    assert WEEKDAYS.next_working_day(berlin(2026, 12, 5, 11, 0)) == dt.date(2026, 12, 7)  # Saturday -> Monday
    assert WEEKDAYS.next_working_day(berlin(2026, 12, 7, 8, 0)) == dt.date(2026, 12, 7)  # before opening: today
    assert WEEKDAYS.next_working_day(berlin(2026, 12, 24, 16, 0)) == dt.date(2026, 12, 28)  # Christmas, weekend
    # Corpus Christi is a public holiday in NRW, not in all of Germany.
    assert not WEEKDAYS.at_work(berlin(2026, 6, 4, 10, 0))
    assert WEEKDAYS.next_working_day(berlin(2026, 6, 4, 10, 0)) == dt.date(2026, 6, 5)


@pytest.fixture
async def with_hours(tmp_path: Any, nlu: FakeNlu, guesser: LanguageGuesser) -> AsyncIterator[Dialogue]:
    from bot.content import load_content
    from bot.i18n import load_languages
    from bot.settings import PROJECT_ROOT
    from bot.storage import migrate

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrate(engine)
    languages = load_languages(PROJECT_ROOT / "locales")
    content = load_content(PROJECT_ROOT / "content", set(languages))
    yield Dialogue(Storage(engine), nlu, content, languages, guesser, "de", 0.45, 0.2, 30, WEEKDAYS, 90)
    await engine.dispose()


def press(user: str, payload: str) -> Any:
    from bot.messages import IncomingMessage

    return IncomingMessage("web", user, dt.datetime.now(dt.timezone.utc), button=payload)


@pytest.mark.parametrize(("now", "expected"), [
    (berlin(2026, 12, 5, 11, 0), "Montag, 7. Dezember 2026"),  # a Saturday
    (berlin(2026, 6, 4, 10, 0), "Freitag, 5. Juni 2026"),  # Corpus Christi, an NRW holiday
])
async def test_outside_working_hours_the_user_hears_when_to_expect_an_answer(
        with_hours: Dialogue, now: dt.datetime, expected: str) -> None:
    with_hours.clock = lambda: now
    opened = await with_hours.handle(press("u1", "consent:yes"))
    assert expected in opened.replies[0].text and opened.handoff


async def test_in_working_hours_and_without_known_hours_nothing_is_promised(with_hours: Dialogue,
                                                                            dialogue: Dialogue) -> None:
    with_hours.clock = lambda: berlin(2026, 12, 3, 10, 0)
    at_work = (await with_hours.handle(press("u1", "consent:yes"))).replies[0].text
    assert "arbeitet gerade" in at_work or "jetzt" in at_work
    unknown = (await dialogue.handle(press("u2", "consent:yes"))).replies[0].text  # content/team.yml is empty
    assert "Arbeitstagen" in unknown and "2026" not in unknown


async def test_in_arabic_the_date_is_arabic(with_hours: Dialogue) -> None:
    with_hours.clock = lambda: berlin(2026, 12, 5, 11, 0)
    await with_hours.handle(press("u1", "l:ar"))
    text = (await with_hours.handle(press("u1", "consent:yes"))).replies[0].text
    assert "الاثنين" in text and "ديسمبر" in text


# -- e-mail to staff -------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


async def test_staff_are_told_of_a_new_case_by_e_mail_urgent_ones_marked(
        database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(database_url, *rasa_server, smtp_host="127.0.0.1", smtp_port=port,
                                 smtp_sender="chatbot@herne.example", smtp_recipients="team@herne.example")
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            await ask_for_a_person(Chat(http))
            in_danger = Chat(http)
            await in_danger.say("ich will mich umbringen")
            await in_danger.press("h")
            await in_danger.press("consent:yes")
            await app.state.notifier.drain()
    finally:
        controller.stop()
    subjects = sorted(mail["Subject"] for mail in inbox.mails)
    assert len(subjects) == 2 and subjects[0].startswith("DRINGEND: Neuer Fall")
    assert subjects[1].startswith("Neuer Fall") and all(m["To"] == "team@herne.example" for m in inbox.mails)
    assert "ich will mich" not in str(inbox.mails[0])  # no message text in the mail


def say(user: str, text: str) -> Any:
    from bot.messages import IncomingMessage

    return IncomingMessage("web", user, dt.datetime.now(dt.timezone.utc), text=text)


async def test_a_person_is_offered_with_every_out_of_scope_answer_and_after_two_misunderstood_messages(
        dialogue: Dialogue) -> None:
    offer = "Ihre letzten zwei Nachrichten nicht verstanden"  # the FAKE NLU answers out_of_scope
    first = await dialogue.handle(say("u1", "wie ist das wetter morgen in herne"))
    assert first.topic == "out_of_scope" and "h" in [b.payload for r in first.replies for b in r.buttons]
    assert not any(offer in r.text for r in first.replies)
    second = await dialogue.handle(say("u1", "und wo kann ich ein auto kaufen"))
    [offered] = [r for r in second.replies if offer in r.text]
    assert offered.buttons[0].payload == "h"


@pytest.mark.parametrize("behind_tls", [False, True])
async def test_the_staff_cookie_is_httponly_strict_and_secure_behind_tls(tmp_path: Any, guesser: LanguageGuesser,
                                                                         behind_tls: bool) -> None:
    app, http = await start_app(make_settings(f"sqlite:///{tmp_path / 'bot.db'}", web_cookie_secure=behind_tls), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        await staff(app, "amira")
        response = await http.post("/staff/login", data={"username": "amira", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie
    assert ("secure" in cookie.split("; ")) is behind_tls


async def test_times_in_the_api_carry_their_offset(bot: tuple[Any, httpx.AsyncClient]) -> None:
    """A browser reads a time without an offset as local time: a case would seem an hour older in Herne."""
    app, http = bot
    chat = Chat(http)
    await ask_for_a_person(chat)
    amira = Console(http, "amira")
    await amira.sign_in()
    [case] = await amira.cases()
    detail = (await amira.get(f"/staff/api/cases/{case['id']}")).json()
    history = (await chat.request("GET", "/api/history")).json()["messages"]
    for value in [case["created_at"]] + [m["at"] for m in detail["messages"]] + [m["at"] for m in history]:
        assert dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(0)
