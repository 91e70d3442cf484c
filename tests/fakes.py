"""Fakes at the edge of the code under test, named as such."""

import asyncio
import datetime as dt

from bot.channels.base import Received
from bot.errors import NluUnavailable
from bot.messages import IncomingMessage
from bot.nlu import IntentScore, NluResult


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
