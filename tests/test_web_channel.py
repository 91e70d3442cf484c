"""The web chat as a channel: identity from the server's cookie, history, events, deletion.
Real Rasa, real databases; the event stream through a real HTTP server (uvicorn)."""

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select, update

from bot.delivery import Delivery
from bot.language_detection import LanguageGuesser
from bot.messages import Button, Reply
from bot.storage import Inbound, Message, Outbound, Storage, User, make_engine
from tests.conftest import Chat, free_port, make_settings, start_app, stored, users


async def test_the_server_issues_a_signed_httponly_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/chat", json={"text": "hallo"})
    header = response.headers["set-cookie"]
    assert header.startswith("ki_chat=") and "HttpOnly" in header and "SameSite=lax" in header
    assert "Secure" not in header  # plain http on loopback; Secure behind TLS (see the next test)


async def test_the_cookie_is_secure_when_configured_for_tls(database_url: str, rasa_server: tuple[str, str],
                                                             guesser: LanguageGuesser) -> None:
    app, http = await start_app(make_settings(database_url, *rasa_server, web_cookie_secure=True), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        assert "Secure" in (await http.get("/api/history")).headers["set-cookie"]


async def test_the_chat_page_issues_the_cookie_its_requests_then_share(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.headers["set-cookie"].startswith("ki_chat=") and "HttpOnly" in page.headers["set-cookie"]
    await client.post("/api/chat", json={"text": "hallo"})  # the client sends the page's cookie back
    history = await client.get("/api/history")
    assert "set-cookie" not in history.headers  # the same user, no new identity
    assert [m["direction"] for m in history.json()["messages"]][:2] == ["in", "out"]
    assert "set-cookie" not in (await client.get("/")).headers  # a reload keeps the user


async def test_a_user_field_in_the_body_is_ignored(client: httpx.AsyncClient, database_url: str) -> None:
    alice = Chat(client, "alice")
    await alice.say("was ist das cafeo")
    [stored] = await users(database_url)
    mallory = Chat(client, "mallory")
    await mallory.request("POST", "/api/chat", json={"user": stored.channel_user_id, "text": "hallo"})
    assert len(await users(database_url)) == 2


async def test_another_browser_can_neither_read_nor_delete_a_users_data(client: httpx.AsyncClient,
                                                                         database_url: str) -> None:
    alice = Chat(client, "alice")
    await alice.say("wo ist das cafeo")
    [alice_user] = await users(database_url)
    mallory = Chat(client, "mallory")
    assert (await mallory.request("GET", "/api/history")).json()["messages"] == []
    # Alice's id with a made-up signature is not Alice.
    forged = Chat(client, "forged")
    forged.cookie = f"{alice_user.channel_user_id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert (await forged.request("GET", "/api/history")).json()["messages"] == []
    await forged.request("POST", "/api/chat", json={"user": alice_user.channel_user_id, "button": "d"})
    await forged.request("POST", "/api/chat", json={"user": alice_user.channel_user_id, "button": "d!"})
    history = (await alice.request("GET", "/api/history")).json()["messages"]
    assert [m["direction"] for m in history][:2] == ["in", "out"] and "Overwegstr" in history[1]["text"]
    assert alice_user.id in [u.id for u in await users(database_url)]


async def test_deleting_needs_the_confirmation_within_five_minutes(client: httpx.AsyncClient, database_url: str) -> None:
    chat = Chat(client)
    await chat.say("hallo")
    # "Yes, delete" without the question before it: asked again, nothing deleted.
    assert (await chat.press("d!"))["topic"] == "delete"
    assert len(await users(database_url)) == 1
    # Asked six minutes ago: too old, asked again.
    engine = make_engine(make_settings(database_url).database_url)
    async with Storage(engine).session() as session, session.begin():
        await session.execute(update(User).values(delete_asked_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6)))
    await engine.dispose()
    assert (await chat.press("d!"))["topic"] == "delete"
    assert len(await users(database_url)) == 1
    # Asked, and confirmed at once: deleted.
    assert (await chat.press("d"))["topic"] == "delete"
    assert (await chat.press("d!"))["topic"] == "deleted"
    assert await users(database_url) == []
    assert (await chat.request("GET", "/api/history")).json()["messages"] == []


async def test_the_history_comes_back_after_a_reload(client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    first = await chat.say("was ist das cafeo")
    await chat.press("l:uk")
    history = (await chat.request("GET", "/api/history")).json()
    messages = history["messages"]
    assert [m["direction"] for m in messages[:2]] == ["in", "out"]
    assert messages[0]["text"] == "was ist das cafeo"
    assert messages[1]["text"] == first["replies"][0]["text"]
    assert messages[1]["buttons"] == first["replies"][0]["buttons"]
    placed = [(m, r) for m, r in zip(messages[1:], first["replies"]) if "place" in r]
    assert placed and all(m["place"] == r["place"] for m, r in placed)  # the map link, too
    pressed = [m for m in messages if m["direction"] == "in"][1]
    assert pressed["text"] == "Українська"  # a pressed button shows as its title, not its payload
    assert history["language"] == "uk"
    assert all(dt.datetime.fromisoformat(m["at"]) for m in messages)


async def test_a_double_send_is_answered_once(client: httpx.AsyncClient, database_url: str) -> None:
    chat = Chat(client)
    await chat.request("GET", "/api/history")
    body = {"text": "wo ist das cafeo", "id": "msg-1"}
    first, second = await asyncio.gather(chat.request("POST", "/api/chat", json=body),
                                         chat.request("POST", "/api/chat", json=body))
    answers = sorted([first.json(), second.json()], key=lambda b: bool(b.get("duplicate")))
    assert answers[0]["topic"] == "cafeo.about"
    assert answers[1] == {"duplicate": True, "replies": [], "handoff": False}
    [user] = await users(database_url)
    engine = make_engine(make_settings(database_url).database_url)
    async with Storage(engine).session() as session:
        inbound = (await session.scalars(select(Message).where(Message.direction == "in"))).all()
    await engine.dispose()
    assert [m.text for m in inbound] == ["wo ist das cafeo"]


# -- the event stream, through a real server ------------------------------------------------


class Server:
    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.delivery: Delivery = app.state.delivery


@pytest.fixture
async def server(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[Server]:
    port = free_port()
    app, _ = await start_app(make_settings(database_url, *rasa_server, inbound_retry_seconds=0.3), guesser)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.05)
    try:
        yield Server(app, port)
    finally:
        uv.should_exit = True
        await task


async def read_events(response: httpx.Response, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    """The next `count` events of a stream: {"id", "event", "data"}."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}

    async def read() -> None:
        async for line in response.aiter_lines():
            if line == "":
                if "data" in current:
                    events.append(dict(current))
                    if len(events) == count:
                        return
                current.clear()
                continue
            field, _, value = line.partition(":")
            if field in ("id", "event", "data"):
                current[field] = value.strip()

    await asyncio.wait_for(read(), timeout)
    return events


async def test_a_reply_queued_later_arrives_over_the_event_stream_once(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        chat = Chat(browser)
        await chat.say("hallo")
        user = (await chat.request("GET", "/api/history")).json()
        async with browser.stream("GET", f"/api/events?after={user['last_event_id']}",
                                  headers={"Cookie": f"ki_chat={chat.cookie}"}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            user_ref = server.delivery.ids.ref("web", chat.cookie.rsplit(".", 1)[0])
            await server.delivery.enqueue("web", user_ref, (Reply("Eine Antwort von Frau K.", (Button("Menü", "m"),)),))
            [event] = await read_events(stream, 1)
        assert event["event"] == "reply"
        # With the user's language, so the page shows the answer in the language chosen last.
        assert json.loads(event["data"]) == {"text": "Eine Antwort von Frau K.", "buttons": [{"title": "Menü", "payload": "m"}],
                                             "language": "de"}

        # The page reconnects with the last id it saw: only what came after it arrives.
        await server.delivery.enqueue("web", user_ref, (Reply("Und noch etwas."),))
        async with browser.stream("GET", "/api/events", headers={"Cookie": f"ki_chat={chat.cookie}",
                                                                  "Last-Event-ID": event["id"]}) as stream:
            [second] = await read_events(stream, 1)
        assert json.loads(second["data"])["text"] == "Und noch etwas."
        assert int(second["id"]) > int(event["id"])


async def test_another_browser_gets_no_events_of_a_user(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        alice, mallory = Chat(browser, "alice"), Chat(browser, "mallory")
        await alice.say("hallo")
        await mallory.say("hallo")
        async with browser.stream("GET", "/api/events?after=0", headers={"Cookie": f"ki_chat={mallory.cookie}"}) as stream:
            await server.delivery.enqueue("web", server.delivery.ids.ref("web", alice.cookie.rsplit(".", 1)[0]), (Reply("nur für Alice"),))
            await server.delivery.enqueue("web", server.delivery.ids.ref("web", mallory.cookie.rsplit(".", 1)[0]), (Reply("für Mallory"),))
            [event] = await read_events(stream, 1)
        assert json.loads(event["data"])["text"] == "für Mallory"
        assert (await browser.get("/api/events")).status_code == 401  # no cookie, no stream


async def test_a_message_that_fails_in_the_request_is_answered_later_over_the_events(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt fails (a fault of ours): 202, and the answer comes over the stream."""
    from bot.dialogue import Dialogue

    real, failures = Dialogue.respond, []

    async def fail_once(self: Dialogue, *args: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("database hiccup")
        return await real(self, *args)

    async with httpx.AsyncClient(base_url=server.url) as browser:
        chat = Chat(browser)
        await chat.say("hallo")
        monkeypatch.setattr(Dialogue, "respond", fail_once)
        async with browser.stream("GET", "/api/events?after=0", headers={"Cookie": f"ki_chat={chat.cookie}"}) as stream:
            response = await chat.request("POST", "/api/chat", json={"text": "wo ist das cafeo"})
            assert response.status_code == 202 and response.json()["queued"] is True
            [event] = await read_events(stream, 1)
        assert "Overwegstr" in json.loads(event["data"])["text"]


async def test_deleting_erases_the_inbox_rows_and_the_replies_sent_or_queued(server: Server, database_url: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as browser:
        chat, other = Chat(browser, "amira"), Chat(browser, "other")
        await chat.say("hallo")
        await other.say("hallo")
        user_ref = server.delivery.ids.ref("web", chat.cookie.rsplit(".", 1)[0])
        await server.delivery.enqueue("web", user_ref, (Reply("Eine Antwort von Frau K."),))
        for _ in range(100):  # sent: the event stream reads it from the outbox
            if [row for row in await stored(database_url, Outbound) if row.status == "sent"]:
                break
            await asyncio.sleep(0.05)
        assert [row.recipient for row in await stored(database_url, Outbound)] == [user_ref]
        earlier = {row.id for row in await stored(database_url, Inbound) if row.user_ref == user_ref}
        assert len(earlier) == 1

        await chat.press("d")
        assert (await chat.press("d!"))["topic"] == "deleted"

        assert await stored(database_url, Outbound) == []
        left = [row for row in await stored(database_url, Inbound) if row.user_ref == user_ref]
        # Only the message that asked for it is left, emptied (retention removes it).
        assert [(row.message, row.status) for row in left] == [("", "done")] and left[0].id not in earlier
        assert [row.user_ref for row in await stored(database_url, Inbound) if row.user_ref != user_ref] \
            == [server.delivery.ids.ref("web", other.cookie.rsplit(".", 1)[0])]  # another user's data stays
        assert len(await users(database_url)) == 1
