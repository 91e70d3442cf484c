"""Messages per user per minute (USER_MESSAGES_PER_MINUTE), on the web chat: the extra messages are
kept in the conversation, the user hears "please slow down" once a minute in their language.
Real databases; buttons only, so no NLU is asked (Rasa is not started)."""

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from bot.language_detection import LanguageGuesser
from bot.storage import Message, Storage, make_engine
from tests.conftest import Chat, make_settings, start_app, texts, users

LIMIT = 3
SLOW_DOWN_AR = "أنت ترسل الرسائل بسرعة كبيرة"


@pytest.fixture
async def limited(database_url: str, guesser: LanguageGuesser) -> AsyncIterator[httpx.AsyncClient]:
    app, http = await start_app(make_settings(database_url, user_messages_per_minute=LIMIT), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        yield http


async def conversation(database_url: str, user_id: int) -> list[Message]:
    engine = make_engine(make_settings(database_url).database_url)
    try:
        async with Storage(engine).session() as session:
            return list((await session.scalars(select(Message).where(Message.user_id == user_id)
                                               .order_by(Message.id))).all())
    finally:
        await engine.dispose()


async def a_minute_passes(database_url: str) -> None:
    """Moves every stored message a minute and a second into the past (the test cannot wait)."""
    engine = make_engine(make_settings(database_url).database_url)
    try:
        async with Storage(engine).session() as session, session.begin():
            rows = (await session.scalars(select(Message))).all()
            for row in rows:
                await session.execute(update(Message).where(Message.id == row.id)
                                      .values(created_at=row.created_at - dt.timedelta(seconds=61)))
    finally:
        await engine.dispose()


async def test_too_many_messages_are_kept_and_the_user_is_asked_once_to_slow_down(
        limited: httpx.AsyncClient, database_url: str) -> None:
    amira = Chat(limited, "amira")
    assert (await amira.press("l:ar"))["replies"]  # 1: Arabic chosen
    assert (await amira.press("m"))["replies"]  # 2
    assert (await amira.press("m"))["replies"]  # 3: the last one answered this minute

    slow_down = await amira.press("m")  # 4: one too many
    assert [r["text"] for r in slow_down["replies"]] and SLOW_DOWN_AR in texts(slow_down)
    assert (await amira.press("m"))["replies"] == []  # 5: kept, not answered, not told twice
    assert (await amira.press("m"))["replies"] == []  # 6

    [stored] = await users(database_url)
    rows = await conversation(database_url, stored.id)
    assert [r.direction for r in rows].count("in") == 6  # none of them dropped
    assert [r.topic for r in rows if r.direction == "in"][3:] == ["too_fast"] * 3
    assert stored.language == "ar"

    other = Chat(limited, "other")
    assert (await other.press("m"))["replies"]  # the limit is per user

    await a_minute_passes(database_url)
    again = await amira.press("m")
    assert again["replies"] and SLOW_DOWN_AR not in texts(again)  # answered again, in Arabic
    assert again["replies"][0]["buttons"]


async def test_the_slow_down_reply_comes_again_after_a_minute(limited: httpx.AsyncClient, database_url: str) -> None:
    amira = Chat(limited, "amira")
    await amira.press("l:ar")
    for _ in range(LIMIT - 1):
        await amira.press("m")
    assert SLOW_DOWN_AR in texts(await amira.press("m"))
    await a_minute_passes(database_url)
    for _ in range(LIMIT):
        assert SLOW_DOWN_AR not in texts(await amira.press("m"))
    assert SLOW_DOWN_AR in texts(await amira.press("m"))


async def test_a_crisis_is_answered_even_past_the_limit(limited: httpx.AsyncClient, database_url: str) -> None:
    amira = Chat(limited, "amira")
    await amira.press("l:en")
    for _ in range(LIMIT):
        await amira.press("m")
    assert (await amira.press("m"))["replies"] == []  # past the limit, already told
    crisis = await amira.say("i really want to die tonight nobody would care")
    assert "112" in texts(crisis)  # the emergency numbers, not silence
