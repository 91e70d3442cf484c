"""The web chat channel: `POST /api/chat`, `GET /api/history`, `GET /api/events`, and the page.

Identity: a random id in a signed, HttpOnly, SameSite=Lax cookie that the server issues; a `user`
in the request body is ignored, so one browser can neither read nor act for another.
In:   a POST is stored in the inbox (unique on the page's message id, so a double send is
      answered once) and answered in the request: its replies come back in the response.
Out:  replies queued later (a retried message, a case manager's answer) are sent by the outbox
      to the page's event stream (server-sent events, resumable with Last-Event-ID).
`parse_chat_request` and `render_outcome` are plain functions over bytes and objects, tested
without a server.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from bot.channel_ids import ChannelIds
from bot.channels.base import Outgoing, Received, SendResult, Sent
from bot.errors import BadRequest
from bot.i18n import Language
from bot.messages import IncomingMessage, Outcome, reply_from_json
from bot.storage import DATABASE_ERRORS, Message, Outbound, Storage, User, as_seen, iso, unavailable
from bot.web_page import choose_language

CHANNEL = "web"
MAX_TEXT = 4096
MAX_BODY = 16 * 1024
COOKIE = "ki_chat"
COOKIE_MAX_AGE = 180 * 24 * 3600  # the retention period of a conversation's messages
KEEPALIVE_SECONDS = 15.0
EVENT_POLL_SECONDS = 1.0  # how often a stream looks for replies another process queued
RETRY_AFTER_SECONDS = 10  # what a 503 asks the client to wait while the database is away


def _(message: str) -> str:
    """Marks a string for `make i18n-extract`; translated per request."""
    return message


UNAVAILABLE = _("The chat is unavailable for a moment and your message did not arrive. Please send it again "
                "in a minute.")


@dataclass(frozen=True)
class ChatRequest:
    """A validated POST /api/chat body (the user comes from the cookie, not from here)."""

    text: str
    button: str
    language_hint: str
    client_id: str


def _is_valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_chat_request(body: bytes) -> ChatRequest:
    """Validate a POST /api/chat body; BadRequest says what is wrong in words a developer can act on."""
    if len(body) > MAX_BODY:
        raise BadRequest(f"request body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body must be JSON") from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    text, button, hint, client_id = data.get("text"), data.get("button"), data.get("language", ""), data.get("id", "")
    if text is not None and not isinstance(text, str):
        raise BadRequest("'text' must be a string")
    if button is not None and not isinstance(button, str):
        raise BadRequest("'button' must be a string")
    if not isinstance(hint, str) or len(hint) > 16:
        raise BadRequest("'language' must be a short language tag such as 'de' or 'ar'")
    if not isinstance(client_id, str) or len(client_id) > 64:
        raise BadRequest("'id' must be a string of at most 64 characters")
    for name, value in (("text", text), ("button", button), ("id", client_id)):
        if isinstance(value, str) and not _is_valid_unicode(value):
            raise BadRequest(f"'{name}' contains invalid characters (lone surrogates)")
    if (text is None) == (button is None):
        raise BadRequest("send exactly one of 'text' or 'button'")
    if text is not None and not text.strip():
        raise BadRequest("'text' must not be empty")
    if text is not None and len(text) > MAX_TEXT:
        raise BadRequest(f"'text' is longer than {MAX_TEXT} characters")
    if button is not None and (not button or len(button) > 64):
        raise BadRequest("'button' must be a payload of 1 to 64 characters")
    return ChatRequest((text or "").strip(), button or "", hint, client_id)


def render_reply(reply: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": reply.text, "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons]}
    if reply.place is not None:
        body["place"] = {"name": reply.place.name, "address": reply.place.address, "map_url": reply.place.map_url}
    if reply.calendar is not None:
        body["calendar"] = {"title": reply.calendar.title, "url": reply.calendar.path, "filename": reply.calendar.filename}
    return body


def render_outcome(outcome: Outcome) -> dict[str, Any]:
    return {"language": outcome.language, "topic": outcome.topic,
            "replies": [render_reply(r) for r in outcome.replies], "handoff": outcome.handoff}


class Identity:
    """Signs and checks the cookie that names a web chat user: `<random id>.<HMAC-SHA256>`."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, user_ref: str) -> str:
        digest = hmac.new(self._secret, user_ref.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self) -> tuple[str, str]:
        """(user id, cookie value) for a new browser."""
        user_ref = secrets.token_urlsafe(18)
        return user_ref, f"{user_ref}.{self._mac(user_ref)}"

    def user_of(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        user_ref, mac = cookie.rsplit(".", 1)
        return user_ref if hmac.compare_digest(mac, self._mac(user_ref)) else None


class WebChannel:
    """The web chat: its API routes, and `send`, which wakes the event streams."""

    name = CHANNEL
    pace_seconds = 0.0

    def __init__(self, storage: Storage, identity: Identity, ids: ChannelIds, receive: Callable[[Received, bool], Awaitable[int | None]],
                 answer_now: Callable[[int], Awaitable[Outcome | None]], secure_cookie: bool,
                 page_routes: Sequence[BaseRoute], languages: dict[str, Language], default_language: str) -> None:
        self._storage = storage
        self._identity = identity
        self._ids = ids  # the database knows a browser by its id's keyed hash (bot/channel_ids.py)
        self._receive = receive
        self._answer_now = answer_now
        self._secure_cookie = secure_cookie
        self._page_routes = list(page_routes)
        self._languages = languages
        self._default_language = default_language
        self._new_event = asyncio.Condition()

    def routes(self) -> list[BaseRoute]:
        pages = [Route(r.path, self._issuing_cookie(r.endpoint), methods=["GET"]) if isinstance(r, Route) and r.path == "/"
                 else r for r in self._page_routes]
        return pages + [
            Route("/api/chat", self._chat, methods=["POST"]),
            Route("/api/history", self._history, methods=["GET"]),
            Route("/api/events", self._events, methods=["GET"]),
        ]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, item: Outgoing) -> SendResult:
        """The event streams read sent rows from the database; wake the ones in this process."""
        async with self._new_event:
            self._new_event.notify_all()
        return Sent()

    # -- identity ------------------------------------------------------------------------

    def _user(self, request: Request) -> tuple[str, str | None]:
        """(user id, a new cookie to set or None): the cookie's user, or a new one."""
        user_ref = self._identity.user_of(request.cookies.get(COOKIE))
        if user_ref is not None:
            return user_ref, None
        return self._identity.issue()

    def _with_cookie(self, response: Response, request: Request, cookie: str | None) -> Response:
        if cookie is not None:
            secure = self._secure_cookie or request.url.scheme == "https"
            response.set_cookie(COOKIE, cookie, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax", secure=secure,
                                path="/")
        return response

    def _issuing_cookie(self, page: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """The chat page with the browser's identity: issued with the page, so the page's first
        requests (history, events, the opening menu) all belong to one user."""
        async def endpoint(request: Request) -> Response:
            _, cookie = self._user(request)
            return self._with_cookie(await page(request), request, cookie)
        return endpoint

    # -- routes --------------------------------------------------------------------------

    async def _chat(self, request: Request) -> Response:
        user_ref, cookie = self._user(request)
        try:
            parsed = parse_chat_request(await request.body())
        except BadRequest as error:
            return self._with_cookie(JSONResponse({"error": str(error)}, status_code=400), request, cookie)
        now = dt.datetime.now(dt.timezone.utc)
        message = IncomingMessage(channel=CHANNEL, user_ref=user_ref, text=parsed.text, button=parsed.button,
                                  language_hint=parsed.language_hint, received_at=now)
        external_id = f"{user_ref}:{parsed.client_id or uuid.uuid4().hex}"
        try:
            row_id = await self._receive(Received(external_id, message, user_ref, now), True)
        except DATABASE_ERRORS as error:
            if not unavailable(error):
                raise
            return self._with_cookie(self._unavailable(request, parsed.language_hint), request, cookie)
        if row_id is None:  # the same message again (a double click): answered once already
            return self._with_cookie(JSONResponse({"duplicate": True, "replies": [], "handoff": False}), request, cookie)
        outcome = await self._answer_now(row_id)
        if outcome is None:
            # Not answered now (a fault on our side): it stays in the inbox and is retried; the
            # reply comes over /api/events.
            body = {"queued": True, "replies": [], "handoff": False}
            return self._with_cookie(JSONResponse(body, status_code=202), request, cookie)
        return self._with_cookie(JSONResponse(render_outcome(outcome)), request, cookie)

    def _unavailable(self, request: Request, language_hint: str) -> Response:
        """503 while the database is away: nothing was stored, so the client sends it again (the
        page keeps the text and its id for that). In the browser's language: the user's stored one
        cannot be read now."""
        code = choose_language(self._languages, language_hint, request.headers.get("accept-language", ""),
                               self._default_language)
        body = {"error": self._languages[code].gettext(UNAVAILABLE), "language": code, "retry": True}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    async def _history(self, request: Request) -> Response:
        browser, cookie = self._user(request)
        user_ref = self._ids.ref(CHANNEL, browser)
        async with self._storage.session() as session:
            user = await session.scalar(select(User).where(User.channel == CHANNEL, User.channel_user_id == user_ref))
            rows = [] if user is None else list((await session.scalars(
                select(Message).where(Message.user_id == user.id).order_by(Message.id))).all())
            last_event = await session.scalar(select(func.max(Outbound.id)).where(
                Outbound.channel == CHANNEL, Outbound.recipient == user_ref))
        body = {"messages": _history(rows), "language": user.language if user is not None else None,
                "last_event_id": last_event or 0}
        return self._with_cookie(JSONResponse(body, headers={"Cache-Control": "no-store"}), request, cookie)

    async def _events(self, request: Request) -> Response:
        user_ref = self._identity.user_of(request.cookies.get(COOKIE))
        if user_ref is None:
            return JSONResponse({"error": "no conversation yet: the chat cookie is missing"}, status_code=401)
        after_text = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        try:
            after = int(after_text)
        except ValueError:
            return JSONResponse({"error": "'after' / Last-Event-ID must be an event id (a number)"}, status_code=400)
        return StreamingResponse(self._stream(request, self._ids.ref(CHANNEL, user_ref), after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _stream(self, request: Request, user_ref: str, after: int) -> AsyncIterator[str]:
        """The user's replies as they are sent (`user_ref`: the stored reference)."""
        yield "retry: 3000\n\n"
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while not await request.is_disconnected():
            async with self._storage.session() as session:
                rows = list((await session.scalars(
                    select(Outbound).where(Outbound.channel == CHANNEL, Outbound.recipient == user_ref,
                                           Outbound.status == "sent", Outbound.id > after).order_by(Outbound.id)
                )).all())
                # The user's language now, so the page follows a switch made elsewhere (a case
                # manager's answer comes in the language the user chose last).
                language = await session.scalar(select(User.language).where(
                    User.channel == CHANNEL, User.channel_user_id == user_ref)) if rows else None
            for row in rows:
                reply = render_reply(reply_from_json(json.loads(row.payload)))
                data = json.dumps({**reply, "language": language} if language else reply, ensure_ascii=False)
                yield f"id: {row.id}\nevent: reply\ndata: {data}\n\n"
                after, quiet_since = row.id, loop.time()
            if loop.time() - quiet_since > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            try:
                async with self._new_event:
                    await asyncio.wait_for(self._new_event.wait(), timeout=EVENT_POLL_SECONDS)
            except TimeoutError:
                pass


def _history(rows: list[Message]) -> list[dict[str, Any]]:
    """The conversation as the page shows it (a case manager's answers as the other side, too)."""
    messages: list[dict[str, Any]] = []
    for row, seen in zip(rows, as_seen(rows)):
        if row.direction == "in":
            messages.append({"direction": "in", "text": seen, "buttons": [], "at": iso(row.created_at)})
        else:
            buttons = json.loads(row.buttons) if row.buttons else []
            reply = render_reply(reply_from_json({"text": row.text, "buttons": buttons,
                                                  "place": json.loads(row.place) if row.place else None}))
            messages.append({"direction": "out", **reply, "at": iso(row.created_at)})
    return messages
