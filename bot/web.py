"""The web chat channel: the page at `/`, its JSON API at `/api/chat`, and `/healthz`.

`chat_request` is a plain function over bytes returning (status, body), so it is tested
without a server; the Starlette routes below only carry bytes in and out.
"""

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.channels.telegram import TelegramChannel
from bot.content import load_content
from bot.dialogue import Dialogue
from bot.errors import BadRequest
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage, Outcome
from bot.nlu import RasaNluClient
from bot.settings import Settings
from bot.storage import Storage, make_engine, migrate

CHANNEL = "web"
MAX_TEXT = 4096
MAX_BODY = 16 * 1024
STATIC = Path(__file__).parent / "static"


def _is_valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_chat_request(body: bytes) -> IncomingMessage:
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
    user, text, button, hint = data.get("user"), data.get("text"), data.get("button"), data.get("language", "")
    if not isinstance(user, str) or not user.strip() or len(user) > 128:
        raise BadRequest("'user' must be a non-empty string of at most 128 characters")
    if text is not None and not isinstance(text, str):
        raise BadRequest("'text' must be a string")
    if button is not None and not isinstance(button, str):
        raise BadRequest("'button' must be a string")
    if not isinstance(hint, str) or len(hint) > 16:
        raise BadRequest("'language' must be a short language tag such as 'de' or 'ar'")
    for name, value in (("user", user), ("text", text), ("button", button)):
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
    return IncomingMessage(channel=CHANNEL, user_ref=user, text=(text or "").strip(), button=button or "",
                           language_hint=hint, received_at=dt.datetime.now(dt.timezone.utc))


def render_outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "language": outcome.language,
        "topic": outcome.topic,
        "replies": [
            {"text": r.text, "buttons": [{"title": b.title, "payload": b.payload} for b in r.buttons]}
            | ({"place": {"name": r.place.name, "address": r.place.address, "map_url": r.place.map_url}}
               if r.place is not None else {})
            for r in outcome.replies
        ],
        "handoff": outcome.handoff,
    }


async def chat_request(body: bytes, handle: Callable[[IncomingMessage], Awaitable[Outcome]]) -> tuple[int, dict[str, Any]]:
    try:
        message = parse_chat_request(body)
    except BadRequest as error:
        return 400, {"error": str(error)}
    return 200, render_outcome(await handle(message))


@dataclass
class Services:
    """What the routes need, built at start-up and closed at shutdown."""

    dialogue: Dialogue
    storage: Storage
    nlu: RasaNluClient
    http: httpx.AsyncClient
    telegram: TelegramChannel | None


def create_app(settings: Settings, guesser: LanguageGuesser | None = None) -> Starlette:
    """The ASGI application. Content, catalogs and the database are checked before it serves.

    `guesser` may be shared between apps (tests build many); building one takes seconds.
    """
    languages = load_languages(settings.locales_dir)
    content = load_content(settings.content_dir, set(languages))
    guesser = guesser or LanguageGuesser(list(languages), settings.contrast_language_list())
    services: dict[str, Services] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        await migrate(engine)
        storage = Storage(engine)
        http = httpx.AsyncClient()
        nlu = RasaNluClient(settings.rasa_url, settings.rasa_token, settings.nlu_timeout_seconds, http)
        dialogue = Dialogue(storage, nlu, content, languages, guesser, settings.default_language,
                            settings.answer_threshold, settings.clarify_threshold, settings.context_minutes)
        telegram = None
        if settings.telegram_bot_token:
            telegram = TelegramChannel(
                settings.telegram_bot_token, settings.telegram_api_base_url, settings.telegram_mode,
                settings.telegram_webhook_url, settings.telegram_webhook_secret, storage, dialogue.handle,
                languages, settings.telegram_poll_timeout,
            )
            await telegram.start()
        services["app"] = Services(dialogue, storage, nlu, http, telegram)
        try:
            yield
        finally:
            if telegram is not None:
                await telegram.stop()
            await http.aclose()
            await engine.dispose()

    async def chat(request: Request) -> Response:
        status, body = await chat_request(await request.body(), services["app"].dialogue.handle)
        return JSONResponse(body, status_code=status)

    async def telegram_webhook(request: Request) -> Response:
        telegram = services["app"].telegram
        if telegram is None or settings.telegram_mode != "webhook":
            return JSONResponse({"error": "Telegram webhook is not enabled"}, status_code=404)
        status, body = await telegram.webhook(
            await request.body(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        )
        return JSONResponse(body, status_code=status)

    async def healthz(request: Request) -> Response:
        app_services = services["app"]
        nlu_ok = await app_services.nlu.is_ready()
        db_ok = await app_services.storage.ping()
        body = {"status": "ok" if db_ok else "degraded", "nlu": "ok" if nlu_ok else "down", "db": "ok" if db_ok else "down"}
        return JSONResponse(body, status_code=200 if db_ok else 503)

    languages_json = json.dumps({code: {"name": l.native_name, "rtl": l.rtl} for code, l in languages.items()},
                                ensure_ascii=False)
    page_html = (STATIC / "chat.html").read_text(encoding="utf-8").replace("__LANGUAGES__", languages_json)

    async def page(request: Request) -> Response:
        return HTMLResponse(page_html)

    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
