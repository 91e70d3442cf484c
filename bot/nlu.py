"""Client of the Rasa NLU server (`rasa run --enable-api`): text in, a typed NluResult out."""

from dataclasses import dataclass

import httpx

from bot.errors import NluUnavailable


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True)
class NluResult:
    """What Rasa understood: the best intent, the ranking, and entities as {entity: value}."""

    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...]
    entities: dict[str, str]


class RasaNluClient:
    """Asks `/model/parse` over one shared `httpx.AsyncClient`; raises NluUnavailable, never returns None."""

    def __init__(self, base_url: str, token: str, timeout_seconds: float, client: httpx.AsyncClient) -> None:
        self._url = f"{base_url}/model/parse"
        self._params = {"token": token} if token else {}
        self._timeout = timeout_seconds
        self._client = client

    async def parse(self, text: str) -> NluResult:
        try:
            response = await self._client.post(
                self._url, params=self._params, json={"text": text}, timeout=self._timeout
            )
            response.raise_for_status()
            body = response.json()
            intent = body["intent"]
            ranking = tuple(
                IntentScore(str(item["name"]), float(item["confidence"]))
                for item in body.get("intent_ranking") or [intent]
            )
            entities = _one_value_each(body.get("entities") or [])
            return NluResult(
                intent=str(intent["name"]),
                confidence=float(intent["confidence"]),
                ranking=ranking,
                entities=entities,
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise NluUnavailable(f"NLU server at {self._url}: {type(error).__name__}: {error}") from error

    async def is_ready(self) -> bool:
        """True when the server answers and has a model loaded."""
        try:
            response = await self._client.get(self._url.rsplit("/model", 1)[0] + "/status",
                                              params=self._params, timeout=self._timeout)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False


def _one_value_each(found: list[dict[str, object]]) -> dict[str, str]:
    """{entity: value}; an entity named with two different values ("Wanne-Eickel", "Wanne or
    Eickel?") is left out, so the bot asks rather than picks one."""
    values: dict[str, set[str]] = {}
    for entity in found:
        values.setdefault(str(entity["entity"]), set()).add(str(entity["value"]))
    return {name: next(iter(named)) for name, named in values.items() if len(named) == 1}
