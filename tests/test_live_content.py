"""Live content: staff edit content/ while the bot runs. A valid edit is served within 2 s while
messages keep coming, none of them failing or mixing old and new content; a broken edit leaves
the last good version in use, and staff see what is wrong until the file is fixed.

Each test runs the application on its own copy of content/ (Settings.content_dir)."""

import asyncio
import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.language_detection import LanguageGuesser
from bot.settings import PROJECT_ROOT
from tests.conftest import Chat, make_settings, start_app, texts
from tests.test_handoff import Console, staff

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
    old, new = copy_content(tmp_path / "v1"), copy_content(tmp_path / "v2")
    edit(new / "topics" / "cafeo.women.yml", OLD_ANSWER, NEW_ANSWER)
    edit(new / "topics" / "cafeo.hours.yml", f'title: "{OLD_TITLE}"', f'title: "{NEW_TITLE}"')
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
