"""Knowing what is missing: every message the bot could not answer is kept without the user's
identity (bot/unanswered.py), admins list, export (as Rasa NLU training data that `rasa data
validate` accepts) and delete them; every staff member sees the anonymous weekly statistics.

The dialogue tests use a FAKE NLU (scripted answers) on SQLite and PostgreSQL; one test goes
through the real Rasa server; the export is checked by Rasa itself."""

import datetime as dt
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.content import load_content
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage
from bot.retention import purge
from bot.settings import PROJECT_ROOT
from bot.staff import add_staff_user
from bot.storage import Message, Storage, Unanswered, User, WeeklyCount, make_engine, migrate, utcnow
from bot.unanswered import guesses_to_json, week_of
from tests.conftest import Chat, make_settings, start_app
from tests.fakes import FakeNlu

PASSWORD = "correct horse battery"
RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


# -- the dialogue keeps what it could not answer ------------------------------------------------

@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    engine = make_engine(make_settings(database_url).database_url)
    await migrate(engine)
    yield Storage(engine)
    await engine.dispose()


@pytest.fixture
def dialogue(storage: Storage, nlu: FakeNlu, guesser: LanguageGuesser) -> Dialogue:
    """The dialogue on the real content, with the FAKE NLU, on SQLite and PostgreSQL."""
    languages = load_languages(PROJECT_ROOT / "locales")
    content = load_content(PROJECT_ROOT / "content", set(languages))
    return Dialogue(storage, nlu, content, languages, guesser, "de", 0.45, 0.2, 30)


def say(text: str, user: str = "amira-chat-4711", channel: str = "web") -> IncomingMessage:
    return IncomingMessage(channel, user, dt.datetime.now(dt.timezone.utc), text=text)


def press(payload: str, user: str = "amira-chat-4711") -> IncomingMessage:
    return IncomingMessage("web", user, dt.datetime.now(dt.timezone.utc), button=payload)


async def rows(storage: Storage, model: Any) -> list[Any]:
    async with storage.session() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def counts(storage: Storage) -> dict[tuple[str, str, str, str], int]:
    summed: dict[tuple[str, str, str, str], int] = {}
    for c in await rows(storage, WeeklyCount):
        summed[(c.kind, c.topic, c.language, c.channel)] = summed.get((c.kind, c.topic, c.language, c.channel), 0) + c.count
    return summed


WEATHER = "wie wird das wetter morgen in herne"


async def test_an_out_of_scope_message_is_kept_with_language_week_channel_and_guesses_but_nothing_of_the_user(
        dialogue: Dialogue, nlu: FakeNlu, storage: Storage) -> None:
    nlu.says(WEATHER, "out_of_scope", 0.92, ranking=[("out_of_scope", 0.92), ("cafeo_hours", 0.05)])
    outcome = await dialogue.handle(say(WEATHER, channel="telegram"))
    assert outcome.topic == "out_of_scope"

    [row] = await rows(storage, Unanswered)
    assert (row.kind, row.language, row.channel, row.text) == ("out_of_scope", "de", "telegram", WEATHER)
    assert row.week == week_of(utcnow())[0]
    assert json.loads(row.guesses) == [{"intent": "out_of_scope", "confidence": 0.92},
                                       {"intent": "cafeo_hours", "confidence": 0.05}]
    # Nothing leads back to the person or the conversation: no user, chat, time or message reference.
    columns = set(Unanswered.__table__.columns.keys())
    assert columns == {"id", "kind", "language", "channel", "text", "week", "day", "guesses"}
    assert not Unanswered.__table__.foreign_keys
    [user] = await rows(storage, User)
    stored = {column: str(getattr(row, column)) for column in columns}
    assert not any(user.channel_user_id in value or value == str(user.id) for name, value in stored.items()
                   if name != "id")


async def test_a_message_too_unsure_even_for_a_choice_is_kept_as_low_confidence(
        dialogue: Dialogue, nlu: FakeNlu, storage: Storage) -> None:
    nlu.says("brauche ich einen termin dafür", "kim_about", 0.12, ranking=[("kim_about", 0.12), ("ki_contact", 0.1)])
    outcome = await dialogue.handle(say("brauche ich einen termin dafür"))
    assert outcome.topic == "out_of_scope"
    [row] = await rows(storage, Unanswered)
    assert (row.kind, row.text) == ("low_confidence", "brauche ich einen termin dafür")
    assert [g["intent"] for g in json.loads(row.guesses)] == ["kim_about", "ki_contact"]


UNSURE = "kurs oder test was brauche ich"


def unsure(nlu: FakeNlu) -> None:
    nlu.says(UNSURE, "courses_integration", 0.34, ranking=[("courses_integration", 0.34), ("courses_placement", 0.3)])


async def test_a_clarification_the_user_chooses_nothing_from_is_kept_with_the_clarified_text(
        dialogue: Dialogue, nlu: FakeNlu, storage: Storage) -> None:
    unsure(nlu)
    assert (await dialogue.handle(say(UNSURE))).topic == "clarify"
    assert await rows(storage, Unanswered) == []  # the user may still choose
    await dialogue.handle(press("m"))  # the menu instead of one of the topics offered
    [row] = await rows(storage, Unanswered)
    assert (row.kind, row.language, row.text) == ("clarification", "de", UNSURE)
    assert [g["intent"] for g in json.loads(row.guesses)] == ["courses_integration", "courses_placement"]
    assert [m.guesses for m in await rows(storage, Message)] == [None] * len(await rows(storage, Message))  # decided
    await dialogue.handle(press("m"))
    assert len(await rows(storage, Unanswered)) == 1  # kept once


async def test_a_clarification_answered_by_choosing_a_topic_offered_is_not_kept(
        dialogue: Dialogue, nlu: FakeNlu, storage: Storage) -> None:
    unsure(nlu)
    await dialogue.handle(say(UNSURE))
    outcome = await dialogue.handle(press("t:courses.placement"))
    assert outcome.topic == "courses.placement"
    assert await rows(storage, Unanswered) == []
    assert all(m.guesses is None for m in await rows(storage, Message))
    await dialogue.handle(press("m"))  # later turns do not look back at it again
    assert await rows(storage, Unanswered) == []


async def test_answered_questions_are_not_kept_but_counted_and_so_are_handoffs(
        dialogue: Dialogue, nlu: FakeNlu, storage: Storage) -> None:
    nlu.says("was ist cafeo", "cafeo_about", 0.95)
    nlu.says("wann ist cafeo offen", "cafeo_hours", 0.93)
    assert (await dialogue.handle(say("was ist cafeo"))).topic == "cafeo.about"
    assert (await dialogue.handle(say("wann ist cafeo offen", user="jonas"))).topic == "cafeo.hours"
    await dialogue.handle(press("t:cafeo.about", user="jonas"))  # a topic chosen from the menu is a question
    await dialogue.handle(press("m"))  # the menu is none
    await dialogue.handle(press("h"))
    await dialogue.handle(press("consent:yes"))
    await dialogue.handle(say("hallo, ist da jemand?"))  # for the case manager: no question to the bot
    assert await rows(storage, Unanswered) == []
    assert await counts(storage) == {("question", "cafeo.about", "de", "web"): 2,
                                     ("question", "cafeo.hours", "de", "web"): 1,
                                     ("handoff", "cafeo.about", "de", "web"): 1}
    assert {c.week for c in await rows(storage, WeeklyCount)} == {week_of(utcnow())[0]}


async def test_retention_deletes_the_texts_after_the_message_retention_time_and_keeps_the_counts(
        storage: Storage) -> None:
    now = utcnow()
    async with storage.session() as session, session.begin():
        for days, text in ((31, "old"), (29, "recent")):
            week, day = week_of(now - dt.timedelta(days=days))
            session.add(Unanswered(kind="out_of_scope", language="de", channel="web", text=text, week=week, day=day,
                                   guesses="[]"))
            session.add(WeeklyCount(week=week, kind="question", topic=text, language="de", channel="web",
                                    count=3))
    purged = await purge(storage, 30, now=now)
    assert purged.unanswered == 1
    assert [row.text for row in await rows(storage, Unanswered)] == ["recent"]
    assert len(await rows(storage, WeeklyCount)) == 2  # anonymous figures outlive the texts


# -- the staff console --------------------------------------------------------------------------

class Console:
    """A staff member's browser on the console API: session cookie and CSRF token."""

    def __init__(self, http: httpx.AsyncClient, name: str) -> None:
        self.http, self.name, self.cookie, self.csrf = http, name, "", ""

    async def sign_in(self) -> None:
        response = await self.http.post("/staff/login", data={"username": self.name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.cookie, self.csrf = response.cookies["ki_staff"], response.json()["csrf_token"]
        self.http.cookies.clear()

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Cookie": f"ki_staff={self.cookie}"})

    async def delete(self, path: str, csrf: bool = True) -> httpx.Response:
        headers = {"Cookie": f"ki_staff={self.cookie}"} | ({"X-CSRF-Token": self.csrf} if csrf else {})
        return await self.http.delete(path, headers=headers)


@pytest.fixture
async def app(database_url: str, guesser: LanguageGuesser) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The application (the NLU is not needed here) with an admin and a case manager."""
    app, http = await start_app(make_settings(database_url), guesser)
    async with app.router.lifespan_context(app), http:
        for name, role in (("ines", "admin"), ("amira", "case_manager")):
            await add_staff_user(app.state.storage, name, role, ["de", "ar"], PASSWORD)
        yield app, http


THIS_WEEK = week_of(utcnow())[0]
LAST_WEEK = week_of(utcnow() - dt.timedelta(days=7))[0]
TEXTS = [  # (language, week, kind, text, suggested intent)
    ("de", THIS_WEEK, "out_of_scope", "wie wird das wetter morgen", "out_of_scope"),
    ("de", THIS_WEEK, "clarification", "[Ali](name) fragt: kurs oder test?\nund wann", "courses_integration"),
    ("ar", THIS_WEEK, "low_confidence", "هل أحتاج موعدًا؟ #سؤال: نعم", "kim_about"),
    ("ar", LAST_WEEK, "out_of_scope", "كم سعر التذكرة", "out_of_scope"),
    ("de", LAST_WEEK, "unknown_detail", '"Parken" - geht das dort? | > {ja: nein}', "cafeo_about"),
]


async def keep(app: Any) -> None:
    now = utcnow()
    async with app.state.storage.session() as session, session.begin():
        for language, week, kind, text, intent in TEXTS:
            session.add(Unanswered(kind=kind, language=language, channel="web", text=text, week=week,
                                   day=now.date(), guesses=guesses_to_json([(intent, 0.4), ("greet", 0.1)])))


async def test_admins_list_unanswered_messages_by_language_and_week_and_delete_them(
        app: tuple[Any, httpx.AsyncClient]) -> None:
    bot, http = app
    await keep(bot)
    ines = Console(http, "ines")
    await ines.sign_in()

    def listed(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [u["text"] for u in response.json()["unanswered"]]

    assert len(listed(await ines.get("/staff/api/unanswered"))) == 5
    assert listed(await ines.get("/staff/api/unanswered?language=ar")) == ["هل أحتاج موعدًا؟ #سؤال: نعم",
                                                                           "كم سعر التذكرة"]
    assert listed(await ines.get(f"/staff/api/unanswered?language=ar&week={LAST_WEEK}")) == ["كم سعر التذكرة"]
    assert listed(await ines.get(f"/staff/api/unanswered?week={THIS_WEEK}&kind=clarification")) == [TEXTS[1][3]]
    summary = (await ines.get("/staff/api/unanswered")).json()["summary"]
    assert {(s["week"], s["language"], s["count"]) for s in summary} == {
        (THIS_WEEK, "de", 2), (THIS_WEEK, "ar", 1), (LAST_WEEK, "ar", 1), (LAST_WEEK, "de", 1)}
    for bad in ("week=49", "week=2026-W60", "language=Deutsch", "kind=whatever"):
        response = await ines.get(f"/staff/api/unanswered?{bad}")
        assert response.status_code == 400 and bad.split("=")[0] in response.json()["error"]

    first = (await ines.get("/staff/api/unanswered?language=ar")).json()["unanswered"][0]
    assert (await ines.delete(f"/staff/api/unanswered/{first['id']}", csrf=False)).status_code == 403
    assert (await ines.delete(f"/staff/api/unanswered/{first['id']}")).json() == {"deleted": first["id"]}
    assert (await ines.delete(f"/staff/api/unanswered/{first['id']}")).status_code == 404
    assert listed(await ines.get("/staff/api/unanswered?language=ar")) == ["كم سعر التذكرة"]
    audit = (await ines.get("/staff/api/audit")).json()["entries"]
    assert {"unanswered_view", "unanswered_delete"} <= {e["action"] for e in audit}


async def test_case_managers_may_not_see_the_unanswered_texts_but_the_statistics(
        app: tuple[Any, httpx.AsyncClient]) -> None:
    bot, http = app
    await keep(bot)
    amira = Console(http, "amira")
    for path in ("/staff/api/unanswered", "/staff/api/unanswered/export.yml", "/staff/api/statistics",
                 "/staff/api/statistics/topics.svg"):
        assert (await amira.get(path)).status_code == 401  # not signed in
    await amira.sign_in()
    assert (await amira.get("/staff/api/unanswered")).status_code == 403
    assert (await amira.get("/staff/api/unanswered/export.yml")).status_code == 403
    assert (await amira.delete("/staff/api/unanswered/1")).status_code == 403
    assert len(await rows(bot.state.storage, Unanswered)) == len(TEXTS)
    assert (await amira.get("/staff/api/statistics")).status_code == 200
    assert (await amira.get("/staff/api/statistics/handoffs.svg")).status_code == 200


def project_intents() -> list[str]:
    return sorted({block["intent"] for path in (PROJECT_ROOT / "nlu_data").glob("*.yml")
                   for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", [])
                   if isinstance(block, dict) and "intent" in block})


def rasa_validate(export: Path) -> subprocess.CompletedProcess[str]:
    """`rasa data validate` on the export with the least it needs: a domain naming the project's
    intents (those of nlu_data/, where the examples are to go) and a config without a pipeline."""
    folder = export.parent
    (folder / "domain.yml").write_text(yaml.safe_dump({"version": "3.1", "intents": project_intents()}))
    (folder / "config.yml").write_text('recipe: default.v1\nlanguage: xx\nassistant_id: export-check\n'
                                       'pipeline: []\npolicies: []\n')
    return subprocess.run(
        [str(RASA), "data", "validate", "--data", str(export), "--domain", str(folder / "domain.yml"),
         "--config", str(folder / "config.yml"), "--fail-on-warnings"],
        capture_output=True, text=True, cwd=folder, timeout=300,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})


@pytest.mark.skipif(not RASA.exists(), reason="needs the Rasa environment (.venv-rasa)")
async def test_the_export_is_rasa_training_data_grouped_by_suggested_intent_that_rasa_accepts(
        app: tuple[Any, httpx.AsyncClient], tmp_path: Path) -> None:
    bot, http = app
    await keep(bot)
    ines = Console(http, "ines")
    await ines.sign_in()
    response = await ines.get("/staff/api/unanswered/export.yml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert 'filename="unanswered-all-all.yml"' in response.headers["content-disposition"]
    data = yaml.safe_load(response.text)
    assert data["version"] == "3.1"
    examples = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert sorted(examples) == ["cafeo_about", "courses_integration", "kim_about", "out_of_scope"]
    assert examples["out_of_scope"] == "- كم سعر التذكرة\n- wie wird das wetter morgen\n"  # oldest week first
    assert "- [Ali] (name) fragt: kurs oder test? und wann\n" == examples["courses_integration"]
    arabic = await ines.get(f"/staff/api/unanswered/export.yml?language=ar&week={LAST_WEEK}")
    assert yaml.safe_load(arabic.text)["nlu"] == [{"intent": "out_of_scope", "examples": "- كم سعر التذكرة\n"}]
    assert f'filename="unanswered-ar-{LAST_WEEK}.yml"' in arabic.headers["content-disposition"]

    export = tmp_path / "export.yml"
    export.write_bytes(response.content)
    checked = rasa_validate(export)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    # Rasa reads every example as we meant it (no entity taken from the user's brackets).
    from_rasa = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c",
         "import sys, json; from rasa.shared.nlu.training_data.loading import load_data; "
         "print(json.dumps([[m.get('intent'), m.get('text'), m.get('entities') or []] "
         "for m in load_data(sys.argv[1]).intent_examples], ensure_ascii=False))", str(export)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert from_rasa.returncode == 0, from_rasa.stderr[-3000:]
    read = json.loads(from_rasa.stdout.strip().splitlines()[-1])
    assert sorted(text for _, text, _ in read) == sorted(
        ["wie wird das wetter morgen", "[Ali] (name) fragt: kurs oder test? und wann",
         "هل أحتاج موعدًا؟ #سؤال: نعم", "كم سعر التذكرة", '"Parken" - geht das dort? | > {ja: nein}'])
    assert all(entities == [] for _, _, entities in read)


async def test_statistics_per_topic_language_channel_and_week_and_handoffs_per_week(
        app: tuple[Any, httpx.AsyncClient]) -> None:
    bot, http = app
    async with bot.state.storage.session() as session, session.begin():
        for week, kind, topic, language, channel, n in (
                (THIS_WEEK, "question", "cafeo.about", "de", "web", 4),
                (THIS_WEEK, "question", "cafeo.about", "ar", "telegram", 2),
                (THIS_WEEK, "question", "out_of_scope", "ar", "whatsapp", 1),
                (LAST_WEEK, "question", "kim.about", "de", "web", 3),
                (LAST_WEEK, "handoff", "kim.about", "de", "web", 1),
                (THIS_WEEK, "handoff", "", "ar", "telegram", 2),
                ("2020-W01", "question", "cafeo.about", "de", "web", 100)):  # outside the chosen weeks
            session.add(WeeklyCount(week=week, kind=kind, topic=topic, language=language, channel=channel, count=n))
    amira = Console(http, "amira")
    await amira.sign_in()

    body = (await amira.get("/staff/api/statistics")).json()
    assert len(body["weeks"]) == 12 and body["weeks"][-1] == THIS_WEEK
    assert body["topics"] == [{"name": "cafeo.about", "count": 6}, {"name": "kim.about", "count": 3},
                              {"name": "out_of_scope", "count": 1}]
    assert body["languages"] == [{"name": "de", "count": 7}, {"name": "ar", "count": 3}]
    assert body["channels"] == [{"name": "web", "count": 7}, {"name": "telegram", "count": 2},
                                {"name": "whatsapp", "count": 1}]
    assert body["questions"][-2:] == [{"name": LAST_WEEK, "count": 3}, {"name": THIS_WEEK, "count": 7}]
    assert body["handoffs"][-2:] == [{"name": LAST_WEEK, "count": 1}, {"name": THIS_WEEK, "count": 2}]

    arabic = (await amira.get(f"/staff/api/statistics?language=ar&week={THIS_WEEK}")).json()
    assert arabic["weeks"] == [THIS_WEEK]
    assert arabic["topics"] == [{"name": "cafeo.about", "count": 2}, {"name": "out_of_scope", "count": 1}]
    assert arabic["handoffs"] == [{"name": THIS_WEEK, "count": 2}]
    old = (await amira.get("/staff/api/statistics?from=2019-W52&to=2020-W02")).json()
    assert [q["count"] for q in old["questions"]] == [0, 100, 0]
    assert (await amira.get("/staff/api/statistics?from=2026-W10&to=2020-W02")).status_code == 400

    chart = await amira.get("/staff/api/statistics/topics.svg?language=ar")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    svg = chart.text
    assert "cafeo.about" in svg and ">2<" in svg and "kim.about" not in svg
    weekly = (await amira.get("/staff/api/statistics/questions.svg")).text
    assert weekly.count("<rect") == 12 and ">7<" in weekly
    assert (await amira.get("/staff/api/statistics/secrets.svg")).status_code == 404


async def test_through_the_real_nlu_an_unanswered_question_reaches_the_admin_and_an_answered_one_does_not(
        client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    answered = await chat.say("Wann hat das CaféO geöffnet?")
    assert answered["topic"] == "cafeo.hours"
    unanswered = await Chat(client).say("Wie wird das Wetter morgen in Herne?")
    assert unanswered["topic"] == "out_of_scope"
    app = client._transport.app  # type: ignore[attr-defined]
    await add_staff_user(app.state.storage, "ines", "admin", ["de"], PASSWORD)
    ines = Console(client, "ines")
    await ines.sign_in()
    listed = (await ines.get("/staff/api/unanswered?language=de")).json()["unanswered"]
    assert [(u["text"], u["channel"]) for u in listed] == [("Wie wird das Wetter morgen in Herne?", "web")]
    assert listed[0]["guesses"] and listed[0]["guesses"][0]["intent"] == "out_of_scope"
    figures = (await ines.get("/staff/api/statistics")).json()
    assert {(t["name"], t["count"]) for t in figures["topics"]} >= {("cafeo.hours", 1), ("out_of_scope", 1)}
    async with app.state.storage.session() as session:
        clarified = (await session.scalars(select(Message).where(Message.guesses.is_not(None)))).all()
    assert clarified == []  # guesses are kept on a message only while a clarification is open


# -- the pages in a browser ---------------------------------------------------------------------

from tests.test_web_page import WebChat, axe_violations, browser, needs_chromium, served  # noqa: E402,F401

ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"


def run(served: WebChat, coroutine: Any) -> Any:
    import asyncio

    return asyncio.run_coroutine_threadsafe(coroutine, served.loop).result(timeout=20)


async def fill_console(app: Any) -> None:
    for name, role in (("ines", "admin"), ("amira", "case_manager")):
        await add_staff_user(app.state.storage, name, role, ["de", "ar"], PASSWORD)
    await keep(app)
    async with app.state.storage.session() as session, session.begin():
        for week, kind, topic, language, channel, n in (
                (THIS_WEEK, "question", "cafeo.about", "de", "web", 4), (THIS_WEEK, "question", "kim.about", "ar", "telegram", 2),
                (LAST_WEEK, "question", "out_of_scope", "ar", "whatsapp", 1), (THIS_WEEK, "handoff", "", "de", "web", 1)):
            session.add(WeeklyCount(week=week, kind=kind, topic=topic, language=language, channel=channel, count=n))


def sign_in(browser: Any, url: str, name: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(f"{url}/staff")
    page.locator("input[name=username]").fill(name)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("#login-form button").click()
    page.locator("#logout").wait_for()
    return page


@needs_chromium
def test_the_unanswered_and_statistics_pages_in_a_browser(served: WebChat, browser: Any, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run(served, fill_console(served.app))
    page = sign_in(browser, served.url, "ines")

    page.locator("#pages a", has_text="Unbeantwortete").click()
    page.locator("#list tbody tr").nth(len(TEXTS) - 1).wait_for()
    arabic = page.locator("#list td.text", has_text="كم سعر التذكرة")
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator("#summary tbody tr").count() == 4
    page.screenshot(path=str(ARTIFACTS / "staff-unanswered.png"), full_page=True)
    assert axe_violations(page) == []

    page.locator("#language").select_option("ar")
    page.locator("#filters button").click()
    page.locator("#list tbody tr").nth(2).wait_for(state="detached")
    assert page.locator("#list tbody tr").count() == 2
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
    assert {e for block in exported["nlu"] for e in block["examples"].splitlines()} == {
        "- هل أحتاج موعدًا؟ #سؤال: نعم", "- كم سعر التذكرة"}
    page.locator("#list tbody tr", has_text="كم سعر التذكرة").locator("button").click()
    page.locator("#list td.text", has_text="كم سعر التذكرة").wait_for(state="detached")
    assert len(run(served, rows(served.app.state.storage, Unanswered))) == len(TEXTS) - 1

    page.locator("nav a", has_text="Statistik").click()
    page.wait_for_function("document.images.length === 5 && "
                           "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.locator("#chart-topics summary").click()
    assert page.locator("#chart-topics tbody tr").first.inner_text().split("\t") == ["cafeo.about", "4"]
    page.screenshot(path=str(ARTIFACTS / "staff-statistics.png"), full_page=True)
    assert axe_violations(page) == []

    amira = sign_in(browser, served.url, "amira")
    amira.goto(f"{served.url}/staff/unanswered")
    amira.locator("#forbidden").wait_for()
    assert amira.locator("#list tbody tr").count() == 0
    amira.goto(f"{served.url}/staff/statistics")
    amira.locator("#chart-handoffs img").wait_for()
