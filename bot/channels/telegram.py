"""Telegram channel (python-telegram-bot v22): webhook or long polling, inbox, outbox.

In:  webhook request (secret checked) or getUpdates -> the update is stored in the inbox
     (unique per bot and update id) before Telegram is acknowledged -> a worker feeds stored
     updates to PTB's Application (no Updater) -> the handler turns them into IncomingMessages
     for the dialogue -> the replies go into the outbox, in the same transaction that marks the
     update done. A redelivered update is acknowledged and not answered twice; updates left
     pending by a restart are picked up at start.
Out: a worker sends outbox rows in order per chat, at most one message per second per chat,
     honouring RetryAfter, retrying network errors and 5xx with backoff, and marking the user
     inactive when Telegram says they blocked the bot.
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
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning

from bot.channels.rendering import split_text
from bot.i18n import Language
from bot.messages import IncomingMessage, Outcome
from bot.storage import InboxUpdate, OutboxMessage, Storage, User, utcnow

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
CHAT_INTERVAL_SECONDS = 1.05  # Telegram allows about one message per second in a chat
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300
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
    """Replies as sendMessage calls: plain text (no parse mode, so nothing to escape), split at
    4096 characters on paragraph boundaries, buttons as an inline keyboard under the last piece."""
    sends = []
    for reply in outcome.replies:
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
    return sends


def parse_update(update: Update) -> tuple[IncomingMessage, str, str] | None:
    """(message, chat id, callback query id) for an update we answer; None for others."""
    now = dt.datetime.now(dt.timezone.utc)
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        message = IncomingMessage(CHANNEL, str(query.from_user.id), now, button=query.data or "",
                                  language_hint=query.from_user.language_code or "")
        return message, str(chat), query.id
    incoming = update.message
    if incoming is not None and incoming.from_user is not None:
        hint = incoming.from_user.language_code or ""
        user_ref, chat_id = str(incoming.from_user.id), str(incoming.chat.id)
        if incoming.text:
            return IncomingMessage(CHANNEL, user_ref, now, text=incoming.text[:MAX_TEXT], language_hint=hint), chat_id, ""
        kind = next((k for k in UNSUPPORTED_KINDS if getattr(incoming, k, None)), "other")
        return IncomingMessage(CHANNEL, user_ref, now, unsupported=kind, language_hint=hint), chat_id, ""
    return None


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramChannel:
    """Holds the PTB Application (which holds the Bot); started and stopped with the web app."""

    def __init__(self, token: str, base_url: str, mode: str, webhook_url: str, webhook_secret: str,
                 storage: Storage, handle: Callable[[IncomingMessage], Awaitable[Outcome]],
                 languages: dict[str, Language], poll_timeout: int = 25) -> None:
        self._application = (
            Application.builder().token(token).base_url(base_url).updater(None).build()
        )
        self._application.add_handler(TypeHandler(Update, self._on_update))
        self._application.add_error_handler(self._on_error)
        self._mode = mode
        self._webhook_url = webhook_url
        self._secret = webhook_secret
        self._storage = storage
        self._handle = handle
        self._languages = languages
        self._poll_timeout = poll_timeout
        self._bot_id = ""
        self._results: dict[int, list[Send]] = {}
        self._inbox_ready = asyncio.Event()
        self._outbox_ready = asyncio.Event()
        self._last_sent: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def bot(self) -> Any:
        return self._application.bot

    async def start(self) -> None:
        await self._application.initialize()  # getMe
        self._bot_id = str(self.bot.id)
        await self._register_commands()
        if self._mode == "webhook":
            await self.bot.set_webhook(self._webhook_url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES)
        else:
            await self.bot.delete_webhook()
            self._tasks.append(asyncio.create_task(self._poll(), name="telegram-poll"))
        self._tasks.append(asyncio.create_task(self._inbox_worker(), name="telegram-inbox"))
        self._tasks.append(asyncio.create_task(self._outbox_worker(), name="telegram-outbox"))
        self._inbox_ready.set()  # pick up updates a previous run left pending
        self._outbox_ready.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._application.shutdown()

    async def _register_commands(self) -> None:
        for code, language in self._languages.items():
            _ = language.gettext
            commands = [
                BotCommand("start", _("Start")),
                BotCommand("menu", _("Main menu")),
                BotCommand("language", _("Change language")),
                BotCommand("human", _("Talk to a person")),
                BotCommand("privacy", _("What I store about you")),
                BotCommand("delete", _("Delete my data")),
            ]
            await self.bot.set_my_commands(commands, language_code=code)

    # -- in ------------------------------------------------------------------------------

    async def webhook(self, body: bytes, secret_header: str | None) -> tuple[int, dict[str, Any]]:
        """Authenticate, store, acknowledge. Processing happens in the inbox worker."""
        if secret_header is None or not hmac.compare_digest(secret_header.encode(), self._secret.encode()):
            return 403, {"error": "wrong or missing secret token"}
        try:
            data = json.loads(body)
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return 400, {"error": "not a Telegram update"}
        await self._store(update_id, data)
        return 200, {"ok": True}

    async def _store(self, update_id: int, data: dict[str, Any]) -> None:
        try:
            async with self._storage.session() as session:
                session.add(InboxUpdate(channel=CHANNEL, bot_id=self._bot_id, update_id=update_id,
                                        payload=json.dumps(data, ensure_ascii=False), status="pending"))
                await session.commit()
        except IntegrityError:
            log.info("telegram update %s redelivered; already stored", update_id)
            return
        self._inbox_ready.set()

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
                await self._store(item.update_id, item.to_dict())
                offset = item.update_id + 1

    async def _inbox_worker(self) -> None:
        while True:
            await self._inbox_ready.wait()
            self._inbox_ready.clear()
            while True:
                async with self._storage.session() as session:
                    row = await session.scalar(
                        select(InboxUpdate).where(InboxUpdate.channel == CHANNEL, InboxUpdate.bot_id == self._bot_id,
                                                  InboxUpdate.status == "pending").order_by(InboxUpdate.id).limit(1)
                    )
                if row is None:
                    break
                if not await self._process(row):
                    # The dialogue failed (e.g. the database was away): keep the update pending
                    # and try again shortly, rather than marking it done unanswered.
                    await asyncio.sleep(5)
                    self._inbox_ready.set()
                    break

    async def _process(self, row: InboxUpdate) -> bool:
        update = Update.de_json(json.loads(row.payload), self.bot)
        await self._application.process_update(update)
        if update.update_id not in self._results:
            return False
        sends = self._results.pop(update.update_id)
        async with self._storage.session() as session:
            for send in sends:
                session.add(OutboxMessage(channel=CHANNEL, chat_id=send.chat_id, method=send.method,
                                          payload=json.dumps(send.params, ensure_ascii=False), status="pending"))
            # Done, and the update's text is no longer kept here (the dialogue stored what it needs).
            await session.execute(update_row(row.id))
            await session.commit()
        self._outbox_ready.set()
        return True

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB handler: one update in, the sends it needs collected for `_process`."""
        parsed = parse_update(update)
        if parsed is None:
            self._results[update.update_id] = []  # nothing we answer (an edit, a channel post...)
            return
        message, chat_id, callback_query_id = parsed
        sends = []
        if callback_query_id:
            sends.append(Send(chat_id, "answerCallbackQuery", {"callback_query_id": callback_query_id}))
        outcome = await self._handle(message)
        sends.extend(render(chat_id, outcome))
        self._results[update.update_id] = sends

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update could not be answered, will retry: %r", context.error)

    # -- out -----------------------------------------------------------------------------

    async def _outbox_worker(self) -> None:
        while True:
            wait = await self._send_due()
            try:
                await asyncio.wait_for(self._outbox_ready.wait(), timeout=wait)
            except TimeoutError:
                pass
            self._outbox_ready.clear()

    async def _send_due(self) -> float:
        """Send what is due, oldest first, one per chat at a time; return seconds until the next try."""
        loop = asyncio.get_running_loop()
        async with self._storage.session() as session:
            rows = (await session.scalars(
                select(OutboxMessage).where(OutboxMessage.channel == CHANNEL, OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id).limit(100)
            )).all()
        now, wait, seen = utcnow(), 5.0, set()
        for row in rows:
            if row.chat_id in seen:
                continue  # keep each chat's messages in order
            seen.add(row.chat_id)
            due = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=dt.timezone.utc)
            if due > now:
                wait = min(wait, (due - now).total_seconds())
                continue
            if row.method in ("sendMessage", "sendVenue"):
                pause = self._last_sent.get(row.chat_id, 0.0) + CHAT_INTERVAL_SECONDS - loop.time()
                if pause > 0:
                    wait = min(wait, pause)
                    continue
            await self._send(row)
            if row.method in ("sendMessage", "sendVenue"):
                self._last_sent[row.chat_id] = loop.time()
            wait = min(wait, 0.05)
        return max(wait, 0.01)

    async def _send(self, row: OutboxMessage) -> None:
        params = json.loads(row.payload)
        status, error, retry_in = "sent", None, 0.0
        try:
            if row.method == "sendMessage":
                markup = params.get("reply_markup")
                keyboard = InlineKeyboardMarkup(
                    [[InlineKeyboardButton(b["text"], callback_data=b.get("callback_data"), url=b.get("url"))
                      for b in line] for line in markup["inline_keyboard"]]
                ) if markup else None
                await self.bot.send_message(chat_id=row.chat_id, text=params["text"], reply_markup=keyboard)
            elif row.method == "sendVenue":
                await self.bot.send_venue(chat_id=row.chat_id, latitude=params["latitude"],
                                          longitude=params["longitude"], title=params["title"],
                                          address=params["address"])
            elif row.method == "answerCallbackQuery":
                await self.bot.answer_callback_query(params["callback_query_id"])
            else:
                raise ValueError(f"unknown outbox method {row.method!r}")
        except RetryAfter as exc:
            status, error, retry_in = "pending", str(exc), _retry_after_seconds(exc)
        except Forbidden as exc:
            status, error = "blocked", str(exc)
        except BadRequest as exc:
            status, error = ("sent" if row.method == "answerCallbackQuery" else "failed"), str(exc)
        except (NetworkError, TelegramError) as exc:
            attempts = row.attempts + 1
            status = "pending" if attempts < MAX_ATTEMPTS else "failed"
            error, retry_in = str(exc), min(2.0 ** attempts, MAX_BACKOFF_SECONDS)
        async with self._storage.session() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    status=status, attempts=OutboxMessage.attempts + 1, last_error=error,
                    next_attempt_at=utcnow() + dt.timedelta(seconds=retry_in),
                    sent_at=utcnow() if status == "sent" else None,
                )
            )
            if status == "blocked":
                # The user blocked the bot: stop everything queued for them and remember it.
                await session.execute(update(OutboxMessage).where(
                    OutboxMessage.channel == CHANNEL, OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.status == "pending").values(status="blocked"))
                await session.execute(update(User).where(
                    User.channel == CHANNEL, User.channel_user_id == row.chat_id).values(active=False))
            await session.commit()
        if status == "failed":
            log.error("telegram %s to chat %s failed for good: %s", row.method, row.chat_id, error)


def update_row(row_id: int) -> Any:
    return update(InboxUpdate).where(InboxUpdate.id == row_id).values(status="done", payload="", processed_at=utcnow())
