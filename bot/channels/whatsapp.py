"""WhatsApp channel on the WhatsApp Business Cloud API (Meta's Graph API), over a thin httpx client.

In:  `GET /whatsapp/webhook` answers Meta's verification handshake. `POST` checks the
     X-Hub-Signature-256 (HMAC-SHA256 of the raw bytes with the app secret) before anything is
     parsed, refuses bodies over 3 MB, parses every message of every entry into an
     IncomingMessage for the inbox (unique on its wamid) and records every delivery report
     (`statuses`) on the message it is about, all before Meta gets its 200. A reply typed as a
     number after numbered options counts as pressing that option.
Out: `send` renders one channel-neutral reply: text (split at 4096 characters), reply buttons
     for 1-3 options, a list for 4-10, numbered text beyond, a location pin for a place with
     coordinates. Free-form messages go only inside the 24-hour customer-service window (by
     Meta's timestamp of the user's last message); outside it the approved template goes
     instead and the reply is held (`Held`) until the user writes again.
Phone numbers (wa_id) are the users' addresses: never logged, and stored only encrypted (the
inbox seals them; every table finds a user by the number's keyed hash, bot/channel_ids.py).
WhatsApp's JSON never leaves this module.
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channel_ids import ChannelIds
from bot.channels import base
from bot.channels.base import Blocked, Held, Outgoing, Received, Rejected, SendResult, Sent
from bot.channels.rendering import split_text
from bot.i18n import Language
from bot.messages import Button, IncomingMessage, Location, Reply
from bot.storage import Message, Storage, User

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
MAX_BODY_BYTES = 3 * 1024 * 1024
MAX_TEXT = 4096
MAX_INTERACTIVE_TEXT = 1024  # the body of a button or list message
MAX_BUTTONS, MAX_BUTTON_TITLE = 3, 20
MAX_ROWS, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION = 10, 24, 72
MAX_BUTTON_ID, MAX_ROW_ID = 256, 200
WINDOW = dt.timedelta(hours=24)
# A message must reach Meta inside the window, not only leave here inside it.
WINDOW_MARGIN = dt.timedelta(minutes=2)

# Graph API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
OUTSIDE_WINDOW = 131047  # "Re-engagement message": more than 24 hours since the user wrote
UNDELIVERABLE = 131026  # not on WhatsApp, an old app, terms not accepted...
BACK_OFF = {130429, 131056, 131048, 80007, 4}  # throughput, pair rate, spam rate, app rate limits
TRANSIENT = {1, 2, 131000, 131016}  # unknown error, service unavailable: try again


class GraphError(Exception):
    """The Graph API refused a call: its error code, the HTTP status and its message."""

    def __init__(self, code: int, status: int, message: str) -> None:
        super().__init__(f"({code}) {message}")
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Wording:
    """What the channel adds in the user's language: the list's button, the hint under numbers."""

    choose: str
    numbered_hint: str


def wording(language: Language) -> Wording:
    return Wording(language.pgettext("button, at most 20 characters", "Choose"),
                   language.gettext("Reply with the number of your choice."))


# -- out: rendering ------------------------------------------------------------------------

def _fits(button: Button, limit: int) -> str | None:
    """The title to show within `limit` characters: the title, else its short title."""
    for title in (button.title, button.short):
        if title and len(title) <= limit:
            return title
    return None


def _split_keeping_tail(text: str, tail_limit: int) -> tuple[list[str], str]:
    """Text pieces of at most 4096 characters and a last piece of at most `tail_limit` (the body
    of a button or list message), all cut at paragraph, line or word boundaries."""
    text = text.strip()
    if len(text) <= tail_limit:
        return [], text
    tail = split_text(text, tail_limit)[-1]
    head = text[: text.rfind(tail)]
    return split_text(head, MAX_TEXT), tail


def _buttons(body: str, buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    titles = [_fits(b, MAX_BUTTON_TITLE) for b in buttons]
    if len(buttons) > MAX_BUTTONS or None in titles or len(set(titles)) < len(titles) \
            or any(len(b.payload) > MAX_BUTTON_ID for b in buttons):
        return None
    return {"type": "button", "body": {"text": body},
            "action": {"buttons": [{"type": "reply", "reply": {"id": b.payload, "title": t}}
                                   for b, t in zip(buttons, titles)]}}


def _list(body: str, buttons: tuple[Button, ...], choose: str) -> dict[str, Any] | None:
    if len(buttons) > MAX_ROWS or len(choose) > MAX_BUTTON_TITLE \
            or len({b.payload for b in buttons}) < len(buttons):
        return None
    rows = []
    for button in buttons:
        title = _fits(button, MAX_ROW_TITLE)
        if title is None or len(button.payload) > MAX_ROW_ID:
            return None
        row = {"id": button.payload, "title": title}
        if title != button.title:  # shortened: the whole title below it
            if len(button.title) > MAX_ROW_DESCRIPTION:
                return None
            row["description"] = button.title
        rows.append(row)
    return {"type": "list", "body": {"text": body}, "action": {"button": choose, "sections": [{"rows": rows}]}}


def render_reply(to: str, reply: Reply, words: Wording, public_url: str = "") -> list[dict[str, Any]]:
    """A reply as Cloud API message bodies: reply buttons for up to 3 options (titles of at most
    20 characters, unique), a list for up to 10 (row titles of at most 24, the whole title as the
    row's description where a short one is shown), numbered text otherwise; a place with
    coordinates as a location pin, one without as its address and a map link in the text; a
    calendar file as a link to the web app (`public_url`, none without it) in the text."""
    text = reply.text.strip()
    place = reply.place
    if place is not None and place.latitude is None:
        text = f"{text}\n\n📍 {place.address}\n{place.map_url}".strip()
    if reply.calendar is not None and public_url:
        text = f"{text}\n\n📅 {reply.calendar.title}: {public_url.rstrip('/')}{reply.calendar.path}".strip()
    messages: list[dict[str, Any]] = []
    if reply.buttons:
        head, tail = _split_keeping_tail(text or "…", MAX_INTERACTIVE_TEXT)
        interactive = _buttons(tail, reply.buttons) or _list(tail, reply.buttons, words.choose)
        if interactive is not None:
            messages += [_text(piece) for piece in head]
            messages.append({"type": "interactive", "interactive": interactive})
        else:
            options = "\n".join(f"{number}. {button.title}" for number, button in enumerate(reply.buttons, 1))
            messages += [_text(piece) for piece in split_text(f"{text}\n\n{options}\n\n{words.numbered_hint}", MAX_TEXT)]
    else:
        messages += [_text(piece) for piece in split_text(text, MAX_TEXT)]
    if place is not None and place.latitude is not None and place.longitude is not None:
        messages.append({"type": "location", "location": {"latitude": place.latitude, "longitude": place.longitude,
                                                          "name": place.name, "address": place.address}})
    return [{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to} | m for m in messages]


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


# -- in: parsing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    """A delivery report on a message we sent."""

    external_id: str
    status: str
    error: str | None
    unreachable: bool
    hold: bool  # refused for the 24-hour window: send again when the user writes


@dataclass(frozen=True)
class Update:
    """What one webhook request carries: messages for the inbox and delivery reports."""

    received: list[Received]
    reports: list[Report]


def _timestamp(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value), dt.timezone.utc)


def parse_message(message: dict[str, Any]) -> Received:
    """One message of a webhook's `messages` as an IncomingMessage, unique on its wamid."""
    wa_id, kind, sent_at = str(message["from"]), str(message["type"]), _timestamp(message["timestamp"])
    incoming = IncomingMessage(CHANNEL, wa_id, sent_at)
    if kind == "text":
        incoming = dataclasses.replace(incoming, text=str(message["text"]["body"])[:MAX_TEXT])
    elif kind == "interactive" and message["interactive"]["type"] in ("button_reply", "list_reply"):
        choice = message["interactive"][message["interactive"]["type"]]
        incoming = dataclasses.replace(incoming, button=str(choice["id"])[:MAX_BUTTON_ID])
    elif kind == "button":  # a quick-reply button of a template: its text is what the user said
        incoming = dataclasses.replace(incoming, text=str(message["button"]["text"])[:MAX_TEXT])
    elif kind == "location":
        where = message["location"]
        incoming = dataclasses.replace(incoming, location=Location(
            float(where["latitude"]), float(where["longitude"]), str(where.get("name", "")),
            str(where.get("address", ""))))
    else:  # audio, image, sticker, document, video, contacts, reaction, unsupported...
        incoming = dataclasses.replace(incoming, unsupported=kind)
    return Received(str(message["id"]), incoming, wa_id, sent_at)


def parse_report(status: dict[str, Any]) -> Report:
    errors = status.get("errors") or []
    error = "; ".join(f"({e.get('code')}) {e.get('title', '')}: {(e.get('error_data') or {}).get('details', '')}"
                      for e in errors) or None
    codes = {e.get("code") for e in errors}
    return Report(str(status["id"]), str(status["status"]), error, UNDELIVERABLE in codes, OUTSIDE_WINDOW in codes)


def parse_update(data: Any, phone_number_id: str) -> Update:
    """Every message and report in a webhook body, for our phone number; raises KeyError,
    TypeError or ValueError on a body that is not a WhatsApp webhook (nothing is stored then)."""
    if data["object"] != "whatsapp_business_account":
        raise ValueError("not a WhatsApp Business Account webhook")
    received, reports = [], []
    for entry in data["entry"]:
        for change in entry["changes"]:
            if change["field"] != "messages":
                continue
            value = change["value"]
            if str(value["metadata"]["phone_number_id"]) != phone_number_id:
                log.warning("webhook for another phone number id (%s) ignored", value["metadata"]["phone_number_id"])
                continue
            received += [parse_message(m) for m in value.get("messages", [])]
            reports += [parse_report(s) for s in value.get("statuses", [])]
    return Update(received, reports)


# -- the channel ---------------------------------------------------------------------------

class WhatsAppChannel:
    """The webhook route, the Graph API client and `send`."""

    name = CHANNEL
    pace_seconds = 0.0  # Meta allows bursts; its pair rate limit (131056) is backed off from

    def __init__(self, access_token: str, app_secret: str, verify_token: str, phone_number_id: str,
                 api_base_url: str, template_name: str, template_language: str, storage: Storage,
                 ids: ChannelIds, receive: Callable[[Received], Awaitable[int | None]],
                 record_report: Callable[[str, str, str, str | None, bool, bool], Awaitable[None]],
                 last_message_at: Callable[[str, str], Awaitable[dt.datetime | None]],
                 languages: dict[str, Language], default_language: str,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
                 public_url: str = "") -> None:
        self._public_url = public_url
        self._secret = app_secret.encode()
        self._verify_token = verify_token.encode()
        self._phone_number_id = phone_number_id
        self._template = {"name": template_name, "language": {"code": template_language}}
        self._storage = storage
        self._ids = ids
        self._receive = receive
        self._record_report = record_report
        self._last_message_at = last_message_at
        self._languages = languages
        self._default = default_language
        self._clock = clock
        self.http = httpx.AsyncClient(base_url=api_base_url.rstrip("/") + "/", timeout=15.0,
                                      headers={"Authorization": f"Bearer {access_token}"})

    def routes(self) -> list[BaseRoute]:
        return [Route("/whatsapp/webhook", self._route, methods=["GET", "POST"])]

    async def start(self) -> None:
        """Check the token and the phone number id once (the webhook is set in Meta's dashboard)."""
        response = await self.http.get(self._phone_number_id)
        if response.status_code != 200:
            raise _error(response)

    async def stop(self) -> None:
        await self.http.aclose()

    # -- in ------------------------------------------------------------------------------

    async def _route(self, request: Request) -> Response:
        if request.method == "GET":
            query = request.query_params
            status, text = self.verify(query.get("hub.mode"), query.get("hub.verify_token"), query.get("hub.challenge"))
            return PlainTextResponse(text, status_code=status)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body over 3 MB"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"error": "body over 3 MB"}, status_code=413)
        status, answer = await self.webhook(bytes(body), request.headers.get("X-Hub-Signature-256"))
        return JSONResponse(answer, status_code=status)

    def verify(self, mode: str | None, token: str | None, challenge: str | None) -> tuple[int, str]:
        """Meta's subscription handshake: echo the challenge when the verify token is ours."""
        if mode == "subscribe" and token is not None and challenge is not None \
                and hmac.compare_digest(token.encode(), self._verify_token):
            return 200, challenge
        return 403, "verification failed"

    async def webhook(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Authenticate the raw bytes, parse all of it, then store each message and record each
        report; Meta gets its 200 only after that (it retries anything else)."""
        if not signature:
            return 401, {"error": "missing X-Hub-Signature-256"}
        expected = "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return 403, {"error": "wrong X-Hub-Signature-256"}
        try:
            update = parse_update(json.loads(body), self._phone_number_id)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return 400, {"error": "not a WhatsApp webhook"}
        for received in update.received:
            await self._receive(await self._numbered_choice(received))
        for report in update.reports:
            await self._record_report(CHANNEL, report.external_id, report.status, report.error, report.unreachable,
                                      report.hold)
        return 200, {"ok": True}

    async def _numbered_choice(self, received: Received) -> Received:
        """A bare number ("2", "٢") right after a message with options is that option."""
        message = received.message
        if not re.fullmatch(r"\s*\d{1,2}\s*", message.text):
            return received
        number = int(message.text.strip())
        async with self._storage.session() as session:
            user = await session.scalar(select(User).where(User.channel == CHANNEL,
                                                           User.channel_user_id == self._ids.ref(CHANNEL, message.user_ref)))
            last = await session.scalar(select(Message).where(Message.user_id == user.id, Message.direction == "out")
                                        .order_by(Message.id.desc()).limit(1)) if user is not None else None
        options = json.loads(last.buttons) if last is not None and last.buttons else []
        if not 1 <= number <= len(options):
            return received
        chosen = dataclasses.replace(message, text="", button=str(options[number - 1]["payload"]))
        return dataclasses.replace(received, message=chosen)

    # -- out -----------------------------------------------------------------------------

    async def send(self, item: Outgoing) -> SendResult:
        """Send one reply inside the 24-hour window; outside it the template, and hold the reply."""
        last = await self._last_message_at(CHANNEL, item.ref)
        if last is None or self._clock() - last >= WINDOW - WINDOW_MARGIN:
            return await self._hold(item, "outside the 24-hour window")
        sent: list[str] = []  # wamids of the parts sent now; a retry sends only the parts that did not go out
        bodies = render_reply(item.recipient, item.reply or Reply(""), await self._wording(item.ref),
                              self._public_url)
        try:
            for body in bodies[item.sent_parts:]:
                sent.append(await self._post(body))
        except GraphError as error:
            result = await self._hold(item, str(error)) if error.code == OUTSIDE_WINDOW else _result(error, item.attempts)
            return _with_progress(result, item.sent_parts + len(sent), tuple(sent))
        except httpx.TransportError as error:
            return base.RetryAfter(None, f"{type(error).__name__}: {error}", item.sent_parts + len(sent), tuple(sent))
        return Sent(tuple(sent))

    async def _hold(self, item: Outgoing, reason: str) -> SendResult:
        """Tell the user with the approved template that a reply waits; the outbox holds it."""
        try:
            await self._post({"messaging_product": "whatsapp", "recipient_type": "individual", "to": item.recipient,
                              "type": "template", "template": self._template})
        except GraphError as error:
            if error.code in BACK_OFF or error.code in TRANSIENT or error.status >= 500 or error.code == UNDELIVERABLE:
                return _result(error, item.attempts)
            log.error("outbox row %s: the template %r was refused (%s); the reply waits without notice",
                      item.id, self._template["name"], error)
            return Held(f"{reason}; template refused: {error}")
        except httpx.TransportError as error:
            return base.RetryAfter(None, f"{type(error).__name__}: {error}")
        return Held(f"{reason}; template sent")

    async def _post(self, body: dict[str, Any]) -> str:
        """One message to the Cloud API; its wamid."""
        response = await self.http.post(f"{self._phone_number_id}/messages", json=body)
        if response.status_code != 200:
            raise _error(response)
        return str(response.json()["messages"][0]["id"])

    async def _wording(self, ref: str) -> Wording:
        async with self._storage.session() as session:
            code = await session.scalar(select(User.language).where(User.channel == CHANNEL,
                                                                    User.channel_user_id == ref))
        return wording(self._languages.get(code or "", self._languages[self._default]))


def _error(response: httpx.Response) -> GraphError:
    try:
        error = response.json()["error"]
        details = (error.get("error_data") or {}).get("details", "")
        return GraphError(int(error["code"]), response.status_code, f"{error.get('message', '')} {details}".strip())
    except (ValueError, KeyError, TypeError):
        return GraphError(0, response.status_code, response.text[:200])


def _with_progress(result: SendResult, sent_parts: int, external_ids: tuple[str, ...]) -> SendResult:
    """A retry or a hold after some parts went out: say which, so they are not sent again."""
    if isinstance(result, (base.RetryAfter, Held)):
        return dataclasses.replace(result, sent_parts=sent_parts, external_ids=external_ids)
    return result


def _result(error: GraphError, attempts: int) -> SendResult:
    """What the outbox does after an error: back off from rate limits (and keep trying), retry
    server and network errors, stop for an unreachable user, give up on the rest."""
    if error.code in BACK_OFF:
        return base.RetryAfter(min(2.0 ** (attempts + 1), 300.0), str(error))
    if error.code in TRANSIENT or error.status >= 500:
        return base.RetryAfter(None, str(error))
    if error.code == UNDELIVERABLE:
        return Blocked(str(error))
    return Rejected(str(error))
