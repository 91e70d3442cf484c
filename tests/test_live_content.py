"""Live content: staff edit content/ while the bot runs. A valid edit is served within 2 s while
messages keep coming, none of them failing or mixing old and new content; a broken edit leaves
the last good version in use, and staff see what is wrong until the file is fixed.

Each test runs the application on its own copy of content/ (Settings.content_dir)."""

import asyncio
import datetime as dt
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.app import create_app
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.live_content import ContentVersion, load_version
from bot.messages import IncomingMessage, Outcome
from bot.nlu import NluResult
from bot.settings import PROJECT_ROOT
from bot.storage import Storage, make_engine, migrate
from tests.conftest import Chat, free_port, make_settings, start_app, texts
from tests.fakes import FakeNlu
from tests.test_handoff import PASSWORD, Console, staff
from tests.test_web_page import axe_violations, browser, needs_chromium  # noqa: F401

LIVE_WITHIN = 2.0  # seconds from saving a file to the bot answering with it

# cafeo.women's German answer, and the German title of cafeo.hours, a button under that answer.
OLD_ANSWER = "Im CaféO gibt es jeden Donnerstag eine Sprechstunde für Frauen."
NEW_ANSWER = "Im CaféO gibt es donnerstags die Frauensprechstunde (neu formuliert)."
OLD_TITLE = "CaféO: Öffnungszeiten"
NEW_TITLE = "CaféO: Zeiten (neu)"


def copy_content(into: Path) -> Path:
    target = into / "content"
    shutil.copytree(PROJECT_ROOT / "content", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Change a file in place, as a staff member's editor saves it."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def edited_copy(into: Path) -> Path:
    """A copy of content/ with a new answer for cafeo.women and a new title for cafeo.hours."""
    content = copy_content(into)
    edit(content / "topics" / "cafeo.women.yml", OLD_ANSWER, NEW_ANSWER)
    edit(content / "topics" / "cafeo.hours.yml", f'title: "{OLD_TITLE}"', f'title: "{NEW_TITLE}"')
    return content


def line_of(path: Path, fragment: str) -> int:
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return lines[0]


async def within(seconds: float, condition: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `condition` holds, asking every 50 ms; fails after `seconds`."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
async def live_bot(database_url: str, guesser: LanguageGuesser, tmp_path: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Path]]:
    """The application on a copy of content/, with a signed-in staff member; no NLU server (its
    questions get the menu), the answers here come from buttons and the crisis check."""
    content = copy_content(tmp_path)
    app, http = await start_app(make_settings(database_url, content_dir=content), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        yield app, http, content


async def signed_in(app: Any, http: httpx.AsyncClient) -> Console:
    await staff(app, "amira")
    console = Console(http, "amira")
    assert (await console.sign_in()).status_code == 200
    return console


async def test_an_edit_is_served_within_2_s_while_messages_keep_coming(
        database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser, tmp_path: Path) -> None:
    # Two files change at once: content/ is a link swapped to the edited copy (as a Kubernetes
    # ConfigMap or a deploy script does), so every reply shows either both edits or neither.
    old, new = copy_content(tmp_path / "v1"), edited_copy(tmp_path / "v2")
    content = tmp_path / "content"
    content.symlink_to(old, target_is_directory=True)
    settings = make_settings(database_url, *rasa_server, content_dir=content, user_messages_per_minute=100_000)
    app, http = await start_app(settings, guesser)
    answers: list[tuple[float, float, int, str, str]] = []  # sent, received, status, what was asked, reply
    saved_at = 0.0

    async def keep_asking(chat: Chat, question: dict[str, str]) -> None:
        while not saved_at or time.monotonic() < saved_at + LIVE_WITHIN + 1.0:
            sent = time.monotonic()
            response = await chat.request("POST", "/api/chat", json=question | {"language": "de"})
            body = response.json() if response.status_code == 200 else {}
            reply = texts(body) + "\n" + "\n".join(b["title"] for r in body.get("replies", []) for b in r["buttons"])
            answers.append((sent, time.monotonic(), response.status_code, str(question), reply))

    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        questions = [{"button": "t:cafeo.women"}, {"text": "wann ist die frauensprechstunde im cafeo"},
                     {"button": "m"}]
        askers = [asyncio.create_task(keep_asking(Chat(http, f"user-{n}"), q)) for n, q in enumerate(questions)]
        await asyncio.sleep(1.0)
        swap = tmp_path / "content.new"
        swap.symlink_to(new, target_is_directory=True)
        os.replace(swap, content)
        saved_at = time.monotonic()
        await asyncio.gather(*askers)

    assert all(status == 200 for _, _, status, _, _ in answers), [a for a in answers if a[2] != 200]
    for question in map(str, questions):  # every question asked before, around and after the edit
        times = [sent - saved_at for sent, _, _, asked, _ in answers if asked == question]
        assert min(times) < 0 and max(times) > LIVE_WITHIN and len(times) >= 6, (question, times)
    for sent, received, _, question, reply in answers:
        if "frauensprechstunde" in question or "cafeo.women" in question:
            # The answer and the buttons under it come from one version.
            assert (OLD_ANSWER in reply and OLD_TITLE in reply) or (NEW_ANSWER in reply and NEW_TITLE in reply), reply
        else:
            assert (OLD_TITLE in reply) != (NEW_TITLE in reply), reply  # the menu
        if sent > saved_at + LIVE_WITHIN:
            assert NEW_TITLE in reply, f"old content {sent - saved_at:.2f} s after the edit: {reply}"
    first_new = min(received for _, received, _, _, reply in answers if NEW_TITLE in reply)
    assert first_new - saved_at <= LIVE_WITHIN
    # Once the new version answered, nothing asked later gets the old one.
    assert all(NEW_TITLE in reply for sent, _, _, _, reply in answers if sent > first_new)


async def test_a_broken_edit_keeps_the_last_good_content_and_staff_see_why(
        live_bot: tuple[Any, httpx.AsyncClient, Path], caplog: pytest.LogCaptureFixture) -> None:
    app, http, content = live_bot
    console = await signed_in(app, http)
    chat = Chat(http)
    before = (await console.get("/staff/api/content")).json()
    assert before["error"] is None and before["version"]
    assert (await http.get("/healthz")).json()["content"] == before

    caplog.set_level(logging.ERROR, logger="bot.live_content")
    women = content / "topics" / "cafeo.women.yml"
    edit(women, OLD_ANSWER, NEW_ANSWER)
    edit(women, 'opens: "10:00"', 'opens: "25:00"')  # no such time: the file is invalid

    async def staff_see_an_error() -> bool:
        return (await console.get("/staff/api/content")).json()["error"] is not None

    await within(LIVE_WITHIN, staff_see_an_error)
    shown = (await console.get("/staff/api/content")).json()
    assert shown["version"] == before["version"]
    message = shown["error"]["message"]
    assert f"content/topics/cafeo.women.yml:{line_of(women, '25:00')}:" in message
    assert "opening_hours.0.opens" in message
    assert (await http.get("/healthz")).json()["content"] == shown
    assert any("cafeo.women.yml" in r.getMessage() and "not loaded" in r.getMessage() for r in caplog.records)
    # The bot still answers with the last good version.
    answer = texts(await chat.press("t:cafeo.women"))
    assert OLD_ANSWER in answer and "10:00" in answer and NEW_ANSWER not in answer
    http.cookies.clear()
    assert (await http.get("/staff/api/content")).status_code == 401  # not for the public

    edit(women, 'opens: "25:00"', 'opens: "10:00"')

    async def fixed_edit_is_served() -> bool:
        return NEW_ANSWER in texts(await chat.press("t:cafeo.women"))

    await within(LIVE_WITHIN, fixed_edit_is_served)
    after = (await console.get("/staff/api/content")).json()
    assert after["error"] is None and after["version"] != before["version"]
    assert (await http.get("/healthz")).json()["content"] == after


async def test_a_broken_edit_undone_clears_the_error(live_bot: tuple[Any, httpx.AsyncClient, Path]) -> None:
    """Back to the version in use: nothing to load, and nothing is wrong any more."""
    app, http, content = live_bot
    console = await signed_in(app, http)
    before = (await console.get("/staff/api/content")).json()
    words = content / "words.yml"
    original = words.read_text(encoding="utf-8")
    words.write_text(original + "\nlanguage: [unclosed\n", encoding="utf-8")

    async def error_shown() -> bool:
        return (await console.get("/staff/api/content")).json()["error"] is not None

    await within(LIVE_WITHIN, error_shown)
    assert "content/words.yml:" in (await console.get("/staff/api/content")).json()["error"]["message"]
    words.write_text(original, encoding="utf-8")

    async def error_gone() -> bool:
        return (await console.get("/staff/api/content")).json()["error"] is None

    await within(LIVE_WITHIN, error_gone)
    assert (await console.get("/staff/api/content")).json()["version"] == before["version"]


async def test_a_new_crisis_expression_takes_effect(live_bot: tuple[Any, httpx.AsyncClient, Path]) -> None:
    _, http, content = live_bot
    message = "der nachbar hat einen quarkbrotgenerator im keller gebaut"
    assert (await Chat(http, "before").say(message, "de"))["topic"] != "crisis"
    crisis = content / "crisis.yml"
    edit(crisis, "      - suizi\n", "      - suizi\n      - quarkbrotgenerator\n")
    chats = iter(range(1000))

    async def crisis_reply() -> bool:
        return (await Chat(http, f"user-{next(chats)}").say(message, "de"))["topic"] == "crisis"

    await within(LIVE_WITHIN, crisis_reply)
    reply = await Chat(http, "after").say(message, "de")
    assert "110" in texts(reply) and "112" in texts(reply)


async def test_team_hours_follow_an_edit_of_team_yml(live_bot: tuple[Any, httpx.AsyncClient, Path]) -> None:
    app, http, content = live_bot
    thursday_morning = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone.utc)  # 10:00 in Herne
    app.state.dialogue.clock = lambda: thursday_morning
    unknown = texts(await Chat(http, "before").press("consent:yes"))
    assert "Wann genau, können wir nicht sagen" in unknown
    edit(content / "team.yml", "hours: []", 'hours:\n  - {weekday: thursday, opens: "09:00", closes: "15:00"}')
    users = iter(range(1000))

    async def team_at_work() -> bool:
        return "Das Team arbeitet gerade" in texts(await Chat(http, f"user-{next(users)}").press("consent:yes"))

    await within(LIVE_WITHIN, team_at_work)


class Swappable:
    """The content source of a running process, swapped by hand."""

    def __init__(self, current: ContentVersion) -> None:
        self.current = current


class EditLandsWhileAsking(FakeNlu):
    """A FAKE NLU during whose answer an edit of the content is swapped in."""

    def __init__(self, source: Swappable, edited: ContentVersion) -> None:
        super().__init__()
        self._source, self._edited = source, edited

    async def parse(self, text: str) -> NluResult:
        self._source.current = self._edited
        return await super().parse(text)


async def test_a_turn_reads_one_version_even_when_an_edit_lands_midway(tmp_path: Path, guesser: LanguageGuesser) -> None:
    languages = load_languages(PROJECT_ROOT / "locales")
    old = load_version(copy_content(tmp_path / "v1"), set(languages), "v1")
    new = load_version(edited_copy(tmp_path / "v2"), set(languages), "v2")
    source = Swappable(old)
    nlu = EditLandsWhileAsking(source, new)
    question = "wann ist die frauensprechstunde im cafeo"
    nlu.says(question, "cafeo_women")
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrate(engine)
    dialogue = Dialogue(Storage(engine), nlu, source, languages, guesser, "de", 0.45, 0.2, 30)

    def shown(outcome: Outcome) -> str:
        return "\n".join([r.text for r in outcome.replies] + [b.title for r in outcome.replies for b in r.buttons])

    async def ask() -> str:
        return shown(await dialogue.handle(IncomingMessage("web", "u1", dt.datetime.now(dt.timezone.utc),
                                                           text=question, language_hint="de")))

    try:
        during = await ask()  # the edit lands while the NLU is asked: the answer and its buttons are the old ones
        assert source.current is new
        assert OLD_ANSWER in during and OLD_TITLE in during and NEW_TITLE not in during, during
        after = await ask()
        assert NEW_ANSWER in after and NEW_TITLE in after, after
    finally:
        await engine.dispose()


@needs_chromium
def test_the_console_shows_a_broken_edit_until_it_is_fixed(tmp_path: Path, guesser: LanguageGuesser,
                                                            browser: Any) -> None:
    content = copy_content(tmp_path)
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'bot.db'}", content_dir=content), guesser)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the application did not start"
            time.sleep(0.05)
        asyncio.run_coroutine_threadsafe(staff(app, "amira"), loop).result(timeout=20)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/staff")
        page.locator("input[name=username]").fill("amira")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("#login-form button").click()
        page.locator("#queue-empty").wait_for(state="visible")
        assert not page.locator("#content-error").is_visible()

        women = content / "topics" / "cafeo.women.yml"
        edit(women, 'opens: "10:00"', 'opens: "25:00"')
        banner = page.locator("#content-error")
        banner.wait_for(state="visible", timeout=10_000)  # the page asks every 3 s
        assert f"content/topics/cafeo.women.yml:{line_of(women, '25:00')}:" in banner.inner_text()
        assert "nicht übernommen" in banner.inner_text()
        assert axe_violations(page) == []
        artifacts = PROJECT_ROOT / "var" / "test-artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "staff-content-error.png"), full_page=True)

        edit(women, 'opens: "25:00"', 'opens: "10:00"')
        banner.wait_for(state="hidden", timeout=10_000)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
