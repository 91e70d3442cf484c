"""The composition root: builds storage, dialogue, delivery core and channels, and the ASGI app.

Nothing here is a channel: each channel brings its routes; `/healthz` reports the database, the
NLU server, each channel, and the content in use (with an edit that could not be loaded);
`/calendar/<topic>.ics` serves a schedule as a calendar file. A channel that cannot start
(Telegram unreachable) is retried in the background and does not hold up the others.
"""

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actions.next_time import calendar_of
from bot import web_page
from bot.channel_ids import channel_ids
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.channels.web import Identity, WebChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.delivery import Delivery, Retries, supervise
from bot.dialogue import Dialogue
from bot.handoff import Notifier, SmtpSettings
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.live_content import LiveContent
from bot.nlu import RasaNluClient
from bot.retention import purge_every
from bot.settings import Settings, kept_secret
from bot.staff import StaffConsole
from bot.storage import DATABASE_ERRORS, Storage, make_engine, migrate, unavailable

log = logging.getLogger(__name__)


def web_secret(settings: Settings) -> bytes:
    """WEB_SECRET, else the key kept in WEB_SECRET_FILE, made on first start (readable by us only)."""
    if settings.web_secret:
        return settings.web_secret.encode()
    return kept_secret(settings.web_secret_file, lambda: secrets.token_urlsafe(32)).encode()


class ChannelStarter:
    """Starts a channel, and keeps trying in the background (with backoff) while it cannot."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.status = "starting"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_trying(), name=f"start-{self.channel.name}")

    async def _keep_trying(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.channel.start()
                self.status = "ok"
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.status = f"not started: {type(error).__name__}: {error}"[:300]
                log.warning("%s channel could not start (%s); trying again in %.0f s", self.channel.name, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.status == "ok":
            await self.channel.stop()


def create_app(settings: Settings, guesser: LanguageGuesser | None = None) -> Starlette:
    """The ASGI application. Content and catalogs are checked before it serves; the database is
    migrated (once, under a lock) at start-up. While it runs, each valid edit of the content is
    swapped in (bot/live_content.py).

    `guesser` may be shared between apps (tests build many); building one takes seconds.
    """
    languages = load_languages(settings.locales_dir)
    content = LiveContent(settings.content_dir, set(languages))
    guesser = guesser or LanguageGuesser(list(languages), settings.contrast_language_list())
    engine = make_engine(settings.database_url)
    storage = Storage(engine)
    nlu = RasaNluClient(settings.rasa_url_list(), settings.rasa_token, settings.nlu_timeout_seconds)
    dialogue = Dialogue(storage, nlu, content, languages, guesser, settings.default_language,
                        settings.answer_threshold, settings.clarify_threshold, settings.context_minutes,
                        case_retention_days=settings.case_retention_days,
                        user_messages_per_minute=settings.user_messages_per_minute,
                        crisis_nlu_threshold=settings.crisis_nlu_threshold)
    smtp = SmtpSettings(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                        tuple(settings.smtp_recipient_list()), settings.staff_console_url) if settings.smtp_host else None
    notifier = Notifier(smtp)
    ids = channel_ids(settings.id_keys, settings.id_hash_key, settings.id_keys_file)
    delivery = Delivery(storage, dialogue, ids, Retries(settings.inbound_max_attempts, settings.inbound_retry_seconds),
                        notifier)
    console = StaffConsole(storage, delivery, dialogue, settings.web_cookie_secure, content.status)
    channels: list[Channel] = [
        WebChannel(storage, Identity(web_secret(settings)), ids, delivery.receive, delivery.answer_now,
                   settings.web_cookie_secure, web_page.routes(languages, settings.default_language), languages,
                   settings.default_language),
    ]
    if settings.telegram_bot_token:
        channels.append(TelegramChannel(
            settings.telegram_bot_token, settings.telegram_api_base_url, settings.telegram_mode,
            settings.telegram_webhook_url, settings.telegram_webhook_secret, delivery.receive, languages,
            settings.telegram_poll_timeout,
        ))
    if settings.whatsapp_access_token:
        channels.append(WhatsAppChannel(
            settings.whatsapp_access_token, settings.whatsapp_app_secret, settings.whatsapp_verify_token,
            settings.whatsapp_phone_number_id, settings.whatsapp_api_base_url, settings.whatsapp_template_name,
            settings.whatsapp_template_language, storage, ids, delivery.receive, delivery.record_report,
            delivery.last_message_at, languages, settings.default_language, public_url=settings.public_url,
        ))
    starters = [ChannelStarter(channel) for channel in channels]
    for channel in channels:
        delivery.add_channel(channel)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate(engine)
        delivery.start()
        watcher = asyncio.create_task(supervise("content watcher", content.watch), name="content-watcher")
        retention = asyncio.create_task(supervise("retention", lambda: purge_every(
            storage, settings.message_retention_days, settings.retention_interval_minutes * 60,
            settings.case_retention_days)), name="retention")
        for starter in starters:
            starter.start()
        try:
            yield
        finally:
            watcher.cancel()
            retention.cancel()
            await asyncio.gather(watcher, retention, return_exceptions=True)
            for starter in starters:
                await starter.stop()
            await delivery.stop()
            await notifier.drain()
            await nlu.aclose()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        nlu_ready, db_ok = await asyncio.gather(nlu.servers_ready(), storage.ping())
        # "nlu" is ok while any Rasa server answers; "nlu_servers" counts those that do ("1/2").
        body = {"status": "ok" if db_ok else "degraded", "nlu": "ok" if any(nlu_ready) else "down",
                "nlu_servers": f"{sum(nlu_ready)}/{len(nlu_ready)}",
                "db": "ok" if db_ok else "down", "channels": {s.channel.name: s.status for s in starters},
                "content": content.status()}
        return JSONResponse(body, status_code=200 if db_ok else 503)

    async def calendar(request: Request) -> Response:
        """The weekly slots of a topic with a calendar, from today, in ?lang= (default: the default language)."""
        version = content.current
        topic = version.store.topics.get(request.path_params["topic"])
        if topic is None or topic.schedule is None or not topic.schedule.calendar:
            return JSONResponse({"error": "no calendar for this topic"}, status_code=404)
        language = request.query_params.get("lang", settings.default_language)
        if language not in languages:
            return JSONResponse({"error": f"unknown language {language!r}"}, status_code=400)
        file = calendar_of(dialogue.turn(language, version), topic)
        return Response(file.ics, media_type="text/calendar; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})

    async def database_away(request: Request, error: Exception) -> Response:
        """503 while the database is away: nothing of the request was stored, and a platform
        (Telegram, Meta) delivers a webhook again after a 5xx; every other error stays a 500."""
        if not unavailable(error):
            raise error
        log.warning("%s %s: 503, the database is unavailable (%s)", request.method, request.url.path,
                    type(error).__name__)
        return JSONResponse({"error": "the database is unavailable for a moment; try again later"},
                            status_code=503, headers={"Retry-After": "10"})

    app = Starlette(
        routes=[Route("/healthz", healthz, methods=["GET"]), Route("/calendar/{topic}.ics", calendar, methods=["GET"]),
                *[r for c in channels for r in c.routes()],
                *console.routes()],
        lifespan=lifespan,
        exception_handlers={kind: database_away for kind in DATABASE_ERRORS},
    )
    app.state.delivery = delivery
    app.state.storage = storage
    app.state.dialogue = dialogue
    app.state.content = content
    app.state.notifier = notifier
    return app
