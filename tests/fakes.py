"""Fakes at the edge of the code under test, named as such."""

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, cast

from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channel_ids import ChannelIds, channel_ids
from bot.channels.base import Received
from bot.delivery import Delivery
from bot.dialogue import Dialogue
from bot.errors import NluUnavailable
from bot.messages import IncomingMessage
from bot.language_detection import LanguageGuesser
from bot.nlu import IntentScore, NluResult
from bot.settings import Settings
from bot.storage import Address, Storage, make_engine, migrate


class FakeNlu:
    """Answers each text with the scripted (intent, confidence, entities); raises when told to be down."""

    def __init__(self) -> None:
        self.script: dict[str, NluResult] = {}
        self.down = False
        self._held: dict[str, asyncio.Event] = {}

    def hold(self, text: str) -> asyncio.Event:
        """Rasa busy with `text`: its parse waits until the returned event is set."""
        self._held[text] = asyncio.Event()
        return self._held[text]

    def says(self, text: str, intent: str, confidence: float = 0.95, entities: dict[str, str] | None = None,
             ranking: list[tuple[str, float]] | None = None) -> None:
        scores = tuple(IntentScore(n, c) for n, c in (ranking or [(intent, confidence)]))
        self.script[text] = NluResult(intent, confidence, scores, entities or {})

    async def parse(self, text: str) -> NluResult:
        if text in self._held:
            await self._held[text].wait()
        if self.down:
            raise NluUnavailable("fake NLU is down")
        return self.script.get(text, NluResult("out_of_scope", 0.9, (IntentScore("out_of_scope", 0.9),), {}))


def web_message(user: str, text: str = "", button: str = "") -> Received:
    """A web chat message of `user` as its channel hands it to the delivery core."""
    now = dt.datetime.now(dt.timezone.utc)
    return Received(f"{user}:1", IncomingMessage("web", user, now, text=text, button=button), user, now)


def fresh_ids() -> ChannelIds:
    """Real channel-id keys, made for one test."""
    return ChannelIds((Fernet.generate_key(),), Fernet.generate_key())


async def left_pending(settings: Settings, received: Received) -> None:
    """A message an earlier run stored, as the inbox stores it, and stopped before answering."""
    engine = make_engine(settings.database_url)
    await migrate(engine)
    try:
        ids = channel_ids(settings.id_keys, settings.id_hash_key, settings.id_keys_file)
        await Delivery(Storage(engine), cast(Dialogue, None), ids).receive(received)  # receiving needs no dialogue
    finally:
        await engine.dispose()


async def reachable(app: Any, channel: str, user_id: str) -> str:
    """The stored reference of a channel's user, with their address sealed as the inbox seals it
    when they write: replies queued for it can be sent (to a chat that never wrote, in a test)."""
    delivery: Delivery = app.state.delivery
    storage: Storage = app.state.storage
    ref = delivery.ids.ref(channel, user_id)
    async with storage.session() as session, session.begin():
        if await session.get(Address, (channel, ref)) is None:
            session.add(Address(channel=channel, ref=ref, sealed=delivery.ids.seal(user_id)))
    return ref


async def sqlite_delivery(path: Path, nlu: FakeNlu, guesser: LanguageGuesser) -> tuple[Delivery, AsyncEngine]:
    """A delivery core on a new SQLite file in `path`, with the real content and catalogs and the
    FAKE NLU, and its engine (the caller disposes of it)."""
    from bot.content import load_content
    from bot.i18n import load_languages
    from bot.settings import PROJECT_ROOT

    engine = make_engine(f"sqlite+aiosqlite:///{path / 'bot.db'}")
    await migrate(engine)
    languages = load_languages(PROJECT_ROOT / "locales")
    storage = Storage(engine)
    dialogue = Dialogue(storage, nlu, load_content(PROJECT_ROOT / "content", set(languages)), languages, guesser,
                        "de", 0.45, 0.2, 30)
    return Delivery(storage, dialogue, fresh_ids()), engine
