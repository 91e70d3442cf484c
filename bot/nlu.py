"""Client of the Rasa NLU servers (`rasa run --enable-api`): text in, a typed NluResult out. One
server or several (RASA_URLS): each text goes to the server with the fewest texts in flight, in
turn when they are even, and to the next server when one refuses the connection or answers 5xx."""

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.errors import NluUnavailable

# A server that failed is asked last for this long (then in turn again): while one of two Rasa
# processes restarts, texts do not wait for its refusal first.
ASK_LAST_AFTER_FAILURE_SECONDS = 5.0
# The server is away or broke the connection: the text was not answered, another server may be asked.
_SERVER_AWAY = (aiohttp.ClientConnectionError,)


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


@dataclass
class _Server:
    """One Rasa server and what the client knows of it."""

    url: str
    in_flight: int = 0
    failed_at: float = float("-inf")


class RasaNluClient:
    """Asks `/model/parse` over one shared `aiohttp.ClientSession`, made on first use (in the event
    loop) and closed by `aclose`; raises NluUnavailable, never returns None. With several servers,
    a text one of them could not answer is asked of the next: within `timeout_seconds` in all, so
    the user waits no longer than with one server.

    aiohttp here, httpx elsewhere: every written message asks Rasa at least once, and an httpx
    request cost about 1.2 ms of CPU on this machine against aiohttp's 0.2 ms (its C parser; no
    cookie jar and URL merging per request), a fifth of the application's CPU per message."""

    def __init__(self, base_urls: str | Sequence[str], token: str, timeout_seconds: float,
                 max_connections: int = 64) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("no NLU server URL")
        self._servers = [_Server(url.rstrip("/")) for url in urls]
        self._turn = itertools.count()
        self._params = {"token": token} if token else {}
        self._timeout = timeout_seconds
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections), cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def parse(self, text: str) -> NluResult:
        deadline = time.monotonic() + self._timeout
        failures: list[str] = []
        for server in self._in_order_to_ask():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            server.in_flight += 1
            try:
                async with self._client().post(f"{server.url}/model/parse", params=self._params, json={"text": text},
                                               timeout=aiohttp.ClientTimeout(total=remaining)) as response:
                    status, raw = response.status, await response.read()
            except _SERVER_AWAY as error:
                server.failed_at = time.monotonic()
                failures.append(f"{server.url}: {type(error).__name__}: {error}")
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:  # a timeout: the time to wait is spent
                raise NluUnavailable(f"NLU server at {server.url}: {type(error).__name__}: {error}") from error
            finally:
                server.in_flight -= 1
            if status >= 500:
                server.failed_at = time.monotonic()
                failures.append(f"{server.url}: HTTP {status}")
                continue
            return _result(server.url, status, raw)
        raise NluUnavailable(f"no NLU server answered within {self._timeout:g} s: {'; '.join(failures) or 'no time left'}")

    def _in_order_to_ask(self) -> list[_Server]:
        """Servers that failed lately last, then the fewest texts in flight first, ties in turn."""
        start = next(self._turn) % len(self._servers)
        rotated = self._servers[start:] + self._servers[:start]
        now = time.monotonic()
        return sorted(rotated, key=lambda s: (now - s.failed_at < ASK_LAST_AFTER_FAILURE_SECONDS, s.in_flight))

    async def is_ready(self) -> bool:
        """True when at least one server answers and has a model loaded."""
        return any(await self.servers_ready())

    async def servers_ready(self) -> list[bool]:
        """For each server in the order configured: it answers and has a model loaded."""
        return list(await asyncio.gather(*(self._server_ready(server) for server in self._servers)))

    async def _server_ready(self, server: _Server) -> bool:
        try:
            async with self._client().get(f"{server.url}/status", params=self._params,
                                          timeout=aiohttp.ClientTimeout(total=self._timeout)) as response:
                return response.status == 200 and bool(json.loads(await response.read()).get("model_file"))
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError):
            return False


def _result(url: str, status: int, raw: bytes) -> NluResult:
    """The NluResult of a `/model/parse` answer; NluUnavailable for anything else (401, garbage)."""
    try:
        if status != 200:
            raise ValueError(f"HTTP {status}")
        body: Any = json.loads(raw)
        intent = body["intent"]
        ranking = tuple(
            IntentScore(str(item["name"]), float(item["confidence"]))
            for item in body.get("intent_ranking") or [intent]
        )
        return NluResult(
            intent=str(intent["name"]),
            confidence=float(intent["confidence"]),
            ranking=ranking,
            entities=_one_value_each(body.get("entities") or []),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise NluUnavailable(f"NLU server at {url}: {type(error).__name__}: {error}") from error


def _one_value_each(found: list[dict[str, object]]) -> dict[str, str]:
    """{entity: value}; an entity named with two different values ("Wanne-Eickel", "Wanne or
    Eickel?") is left out, so the bot asks rather than picks one."""
    values: dict[str, set[str]] = {}
    for entity in found:
        values.setdefault(str(entity["entity"]), set()).add(str(entity["value"]))
    return {name: next(iter(named)) for name, named in values.items() if len(named) == 1}
