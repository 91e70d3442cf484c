"""Fakes at the edge of the code under test, named as such."""

from bot.errors import NluUnavailable
from bot.nlu import IntentScore, NluResult


class FakeNlu:
    """Answers each text with the scripted (intent, confidence, entities); raises when told to be down."""

    def __init__(self) -> None:
        self.script: dict[str, NluResult] = {}
        self.down = False

    def says(self, text: str, intent: str, confidence: float = 0.95, entities: dict[str, str] | None = None,
             ranking: list[tuple[str, float]] | None = None) -> None:
        scores = tuple(IntentScore(n, c) for n, c in (ranking or [(intent, confidence)]))
        self.script[text] = NluResult(intent, confidence, scores, entities or {})

    async def parse(self, text: str) -> NluResult:
        if self.down:
            raise NluUnavailable("fake NLU is down")
        return self.script.get(text, NluResult("out_of_scope", 0.9, (IntentScore("out_of_scope", 0.9),), {}))
