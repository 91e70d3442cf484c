"""Telegram channel (python-telegram-bot v22's Bot): webhook or long polling in, Bot API calls out.

In:  a webhook request (secret token checked before the body is read as JSON) or getUpdates ->
     each update parsed into an IncomingMessage and handed to the inbox (unique on the bot and
     the update id) before Telegram is acknowledged. A pressed button's spinner is stopped at
     once (answerCallbackQuery), outside the outbox: it is an acknowledgement, not a reply.
Out: `send` renders one channel-neutral reply as sendMessage calls (split at 4096 characters,
     buttons as an inline keyboard), a sendVenue for a place with coordinates and a sendDocument
     for a calendar file (.ics), and reports
     sent / retry after t (RetryAfter, network errors, 5xx) / blocked (Forbidden) / rejected
     (BadRequest). The outbox keeps Telegram's pace of about one message per second per chat.
Polling serves one process (Telegram allows one getUpdates consumer); run several processes
with the webhook.
PTB objects never leave this module.
"""

import asyncio
import datetime as dt
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels import base
from bot.channels.base import Blocked, Outgoing, Received, Rejected, SendResult, Sent
from bot.channels.rendering import split_text
from bot.i18n import Language
from bot.messages import IncomingMessage, Outcome, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
CHAT_INTERVAL_SECONDS = 1.05  # Telegram allows about one message per second in a chat
ALLOWED_UPDATES = ["message", "callback_query"]
UNSUPPORTED_KINDS = ("voice", "audio", "photo", "video", "video_note", "sticker", "document", "animation",
                     "location", "contact", "poll")


@dataclass(frozen=True)
class Send:
    """One Bot API call for the outbox."""

    chat_id: str
    method: str
    params: dict[str, Any]


def _callback_data(payload: str) -> str:
    if len(payload.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise ValueError(f"button payload longer than Telegram's {MAX_CALLBACK_DATA} bytes: {payload!r}")
    return payload


def render(chat_id: str, outcome: Outcome) -> list[Send]:
    """Every reply of an outcome as Bot API calls (see `render_reply`)."""
    return [send for reply in outcome.replies for send in render_reply(chat_id, reply)]


def render_reply(chat_id: str, reply: Reply) -> list[Send]:
    """A reply as sendMessage calls: plain text (no parse mode, so nothing to escape), split at
    4096 characters on paragraph boundaries, buttons as an inline keyboard under the last piece."""
    sends = []
    pieces = split_text(reply.text, MAX_TEXT) or [""]
    rows: list[list[dict[str, str]]] = []
    place = reply.place
    if place is not None and place.latitude is None:
        rows.append([{"text": f"📍 {place.address}", "url": place.map_url}])
    rows += [[{"text": b.title, "callback_data": _callback_data(b.payload)}] for b in reply.buttons]
    for number, piece in enumerate(pieces):
        params: dict[str, Any] = {"text": piece}
        if rows and number == len(pieces) - 1:
            params["reply_markup"] = {"inline_keyboard": rows}
        sends.append(Send(chat_id, "sendMessage", params))
    if place is not None and place.latitude is not None and place.longitude is not None:
        sends.append(Send(chat_id, "sendVenue", {"latitude": place.latitude, "longitude": place.longitude,
                                                 "title": place.name, "address": place.address}))
    if reply.calendar is not None:
        sends.append(Send(chat_id, "sendDocument", {"filename": reply.calendar.filename, "caption": reply.calendar.title,
                                                    "content": reply.calendar.ics}))
    return sends


T = TypeVar("T")


def parse_update(data: dict[str, Any], bot: Bot, bot_id: str) -> Received | None:
    """The message in an update, ready for the inbox; None for updates the bot does not answer.
    Raises ValueError, KeyError, TypeError or AttributeError on a body that is no Telegram update
    (PTB reads it without checking types: a chat id of null would otherwise reach the inbox)."""
    update = Update.de_json(data, bot)
    external_id = f"{bot_id}:{_typed(update.update_id, int)}"
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        now = dt.datetime.now(dt.timezone.utc)
        message = IncomingMessage(CHANNEL, str(_typed(query.from_user.id, int)), now,
                                  button=_typed(query.data or "", str)[:MAX_CALLBACK_DATA],
                                  language_hint=_typed(query.from_user.language_code or "", str))
        return Received(external_id, message, str(_typed(chat, int)), now)
    incoming = update.message
    if incoming is None or incoming.from_user is None:
        return None  # an edit, a channel post...
    hint = _typed(incoming.from_user.language_code or "", str)
    user_ref, chat_id = str(_typed(incoming.from_user.id, int)), str(_typed(incoming.chat.id, int))
    sent_at = _typed(incoming.date, dt.datetime)
    if incoming.text:
        message = IncomingMessage(CHANNEL, user_ref, sent_at, text=_typed(incoming.text, str)[:MAX_TEXT],
                                  language_hint=hint)
    else:
        kind = next((k for k in UNSUPPORTED_KINDS if getattr(incoming, k, None)), "other")
        message = IncomingMessage(CHANNEL, user_ref, sent_at, unsupported=kind, language_hint=hint)
    return Received(external_id, message, chat_id, sent_at)


def _typed(value: Any, kind: type[T]) -> T:
    """`value`, if the update carried it with the type the Bot API documents (bool is no id)."""
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramChannel:
    """The Bot API client, the webhook route or the polling loop, and `send`."""

    name = CHANNEL
    pace_seconds = CHAT_INTERVAL_SECONDS

    def __init__(self, token: str, base_url: str, mode: str, webhook_url: str, webhook_secret: str,
                 receive: Callable[[Received], Awaitable[int | None]], languages: dict[str, Language],
                 poll_timeout: int = 25) -> None:
        self.bot = Bot(token, base_url=base_url)
        self._bot_id = token.split(":", 1)[0]  # a token starts with the bot's id: known before getMe
        self._mode = mode
        self._webhook_url = webhook_url
        self._secret = webhook_secret
        self._receive = receive
        self._languages = languages
        self._poll_timeout = poll_timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[BaseRoute]:
        return [Route("/telegram/webhook", self._webhook_route, methods=["POST"])]

    async def start(self) -> None:
        """getMe, commands, webhook (setWebhook is idempotent: every process may call it) or polling."""
        await self.bot.initialize()
        await self._register_commands()
        if self._mode == "webhook":
            await self.bot.set_webhook(self._webhook_url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES)
        else:
            await self.bot.delete_webhook()
            self._spawn(self._poll(), "telegram-poll")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.bot.shutdown()

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _register_commands(self) -> None:
        for code, language in self._languages.items():
            _ = language.gettext
            commands = [
                BotCommand("start", _("Start")),
                BotCommand("menu", _("Main menu")),
                BotCommand("language", _("Change language")),
                BotCommand("human", _("Talk to a person")),
                BotCommand("cancel", _("Withdraw the handoff request (back to the chatbot)")),
                BotCommand("privacy", _("What I store about you")),
                BotCommand("delete", _("Delete my data")),
            ]
            await self.bot.set_my_commands(commands, language_code=code)

    # -- in ------------------------------------------------------------------------------

    async def _webhook_route(self, request: Request) -> Response:
        if self._mode != "webhook":
            return JSONResponse({"error": "Telegram webhook is not enabled"}, status_code=404)
        status, body = await self.webhook(await request.body(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        return JSONResponse(body, status_code=status)

    async def webhook(self, body: bytes, secret_header: str | None) -> tuple[int, dict[str, Any]]:
        """Authenticate, store, acknowledge. The inbox worker answers."""
        if secret_header is None or not hmac.compare_digest(secret_header.encode(), self._secret.encode()):
            return 403, {"error": "wrong or missing secret token"}
        try:
            data = json.loads(body)
            received = parse_update(data, self.bot, self._bot_id)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return 400, {"error": "not a Telegram update"}
        await self._take(data, received)
        return 200, {"ok": True}

    async def _take(self, data: dict[str, Any], received: Received | None) -> None:
        if received is None:
            return
        await self._receive(received)
        query = data.get("callback_query")
        if query:
            self._spawn(self._stop_spinner(str(query.get("id", ""))), "telegram-callback-answer")

    async def _stop_spinner(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:  # too old, or Telegram away: the spinner stops by itself
            log.info("answerCallbackQuery %s: %s", query_id, error)

    async def _poll(self) -> None:
        offset: int | None = None
        while True:
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=self._poll_timeout,
                                                     allowed_updates=ALLOWED_UPDATES)
            except NetworkError as error:
                log.warning("getUpdates failed: %s", error)
                await asyncio.sleep(2)
                continue
            for item in updates:
                data = item.to_dict()
                await self._take(data, parse_update(data, self.bot, self._bot_id))
                offset = item.update_id + 1

    # -- out -----------------------------------------------------------------------------

    async def send(self, item: Outgoing) -> SendResult:
        """Send one reply; a long one goes as several messages, at Telegram's pace."""
        done = item.sent_parts  # a retry sends only the parts that did not go out
        try:
            for send in render_reply(item.recipient, item.reply or Reply(""))[done:]:
                if done > item.sent_parts:
                    await asyncio.sleep(CHAT_INTERVAL_SECONDS)
                await self._call(send)
                done += 1
        except RetryAfter as error:
            return base.RetryAfter(_retry_after_seconds(error), str(error), sent_parts=done)
        except Forbidden as error:
            return Blocked(str(error))
        except BadRequest as error:
            return Rejected(str(error))
        except (NetworkError, TelegramError) as error:
            return base.RetryAfter(None, f"{type(error).__name__}: {error}", sent_parts=done)
        except ValueError as error:  # a button payload Telegram cannot carry
            return Rejected(str(error))
        return Sent()

    async def _call(self, send: Send) -> None:
        params = send.params
        if send.method == "sendVenue":
            await self.bot.send_venue(chat_id=send.chat_id, latitude=params["latitude"], longitude=params["longitude"],
                                      title=params["title"], address=params["address"])
            return
        if send.method == "sendDocument":
            document = InputFile(params["content"].encode("utf-8"), filename=params["filename"])
            await self.bot.send_document(chat_id=send.chat_id, document=document, caption=params["caption"])
            return
        markup = params.get("reply_markup")
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b["text"], callback_data=b.get("callback_data"), url=b.get("url")) for b in line]
             for line in markup["inline_keyboard"]]
        ) if markup else None
        await self.bot.send_message(chat_id=send.chat_id, text=params["text"], reply_markup=keyboard)
