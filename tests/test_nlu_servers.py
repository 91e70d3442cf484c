"""Several Rasa servers (RASA_URLS): texts are spread over them, and a text one server cannot
answer (connection refused, 5xx) is answered by another; `make run` starts RASA_PROCESSES of them.
The servers are FAKE Rasa servers on loopback (real HTTP; each answers `/model/parse` with a
scripted intent and counts the texts)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import run
from bot.errors import NluUnavailable
from bot.language_detection import LanguageGuesser
from bot.nlu import RasaNluClient
from bot.settings import Settings
from tests.conftest import Chat, free_port, make_settings, start_app, texts
from tests.serving import served


class FakeRasa:
    """A FAKE Rasa NLU server: every text is `intent` at 0.95; `status` other than 200 answers
    that instead; `hold` keeps texts waiting until released."""

    def __init__(self, intent: str = "cafeo_women", status: int = 200) -> None:
        self.intent, self.status = intent, status
        self.texts: list[str] = []
        self.held = asyncio.Event()
        self.held.set()
        self.app = Starlette(routes=[Route("/model/parse", self.parse, methods=["POST"]),
                                     Route("/status", self.model_status)])

    async def parse(self, request: Request) -> JSONResponse:
        text = (await request.json())["text"]
        self.texts.append(text)
        await self.held.wait()
        if self.status != 200:
            return JSONResponse({"error": "fake failure"}, status_code=self.status)
        intent = {"name": self.intent, "confidence": 0.95}
        return JSONResponse({"text": text, "intent": intent, "intent_ranking": [intent], "entities": []})

    async def model_status(self, request: Request) -> JSONResponse:
        return JSONResponse({"model_file": "fake.tar.gz"})


@asynccontextmanager
async def serving(*fakes: FakeRasa) -> AsyncIterator[list[str]]:
    """Each fake on a port of its own; yields their URLs."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(served(fake.app, free_port())) for fake in fakes]


def nobody_listening() -> str:
    """The URL of a Rasa server that is down: a free port, connections refused."""
    return f"http://127.0.0.1:{free_port()}"


async def test_texts_are_spread_evenly_over_two_servers() -> None:
    first, second = FakeRasa(), FakeRasa()
    async with serving(first, second) as urls:
        nlu = RasaNluClient(urls, "", 2)
        for n in range(10):
            assert (await nlu.parse(f"frage {n}")).intent == "cafeo_women"
        await nlu.aclose()
    assert (len(first.texts), len(second.texts)) == (5, 5)


async def test_a_busy_server_gets_no_more_texts_while_the_other_is_free() -> None:
    """Rasa answers one text at a time: the texts go to the server with none in flight."""
    slow, free = FakeRasa(), FakeRasa()
    slow.held.clear()
    async with serving(slow, free) as urls:
        nlu = RasaNluClient(urls, "", 2)
        waiting = asyncio.create_task(nlu.parse("die erste frage"))
        try:
            while not slow.texts and not free.texts:
                await asyncio.sleep(0.01)
            busy, other = (slow, free) if slow.texts else (free, slow)
            for n in range(4):
                await nlu.parse(f"frage {n}")
        finally:
            slow.held.set()  # the fake server can stop only once its texts are answered
            await asyncio.gather(waiting, return_exceptions=True)
            await nlu.aclose()
    assert len(busy.texts) == 1 and len(other.texts) == 4


@pytest.mark.parametrize("down", ["connection refused", "HTTP 503"])
async def test_a_server_that_is_down_leaves_every_text_to_the_other(down: str) -> None:
    failing, answering = FakeRasa(status=503), FakeRasa()
    async with serving(failing, answering) as urls:
        if down == "connection refused":
            urls[0] = nobody_listening()
        nlu = RasaNluClient(urls, "", 2)
        results = [await nlu.parse(f"frage {n}") for n in range(6)]
        await nlu.aclose()
    assert [r.intent for r in results] == ["cafeo_women"] * 6
    assert answering.texts == [f"frage {n}" for n in range(6)]
    # Asked once, then last while it is likely still down: later texts did not wait for it.
    assert len(failing.texts) <= 1


async def test_no_server_answering_is_nlu_unavailable_naming_each() -> None:
    failing = FakeRasa(status=500)
    async with serving(failing) as urls:
        refused = nobody_listening()
        nlu = RasaNluClient([refused, urls[0]], "", 2)
        with pytest.raises(NluUnavailable) as raised:
            await nlu.parse("hallo")
        await nlu.aclose()
    assert refused in str(raised.value) and "HTTP 500" in str(raised.value)


async def test_one_url_alone_works_as_before() -> None:
    only = FakeRasa()
    async with serving(only) as urls:
        nlu = RasaNluClient(urls[0], "", 2)
        assert (await nlu.parse("hallo")).intent == "cafeo_women"
        assert await nlu.servers_ready() == [True]
        await nlu.aclose()
    assert only.texts == ["hallo"]


async def test_with_one_rasa_server_down_the_user_is_answered_not_given_the_menu(
    database_url: str, guesser: LanguageGuesser
) -> None:
    """The app on RASA_URLS with one server down: the question is answered (the topic, not the
    "NLU unavailable" menu), and /healthz says one of two servers answers."""
    answering = FakeRasa(intent="cafeo_women")
    async with serving(answering) as urls:
        settings = make_settings(database_url, rasa_urls=f"{nobody_listening()},{urls[0]}")
        app, http = await start_app(settings, guesser)
        async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
            chat = Chat(http)
            questions = ("gibt es eine sprechstunde nur fuer frauen im cafeo", "und wann ist die")
            for question in questions:
                body = await chat.say(question, language="de")
                assert body["topic"] == "cafeo.women", body
                assert "10:00" in texts(body)
            health = (await http.get("/healthz")).json()
            assert (health["nlu"], health["nlu_servers"]) == ("ok", "1/2")
    assert set(questions) <= set(answering.texts)


@pytest.mark.rasa
async def test_the_real_rasa_answers_when_the_server_named_before_it_is_down(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    url, token = rasa_server
    settings = make_settings(database_url, token=token, rasa_urls=f"{nobody_listening()},{url}")
    app, http = await start_app(settings, guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        chat = Chat(http)
        for _ in range(3):
            body = await chat.say("Wo ist das CaféO?")
            assert body["topic"] == "cafeo.about" and "Overwegstr" in texts(body)


def test_rasa_urls_default_to_rasa_url_and_are_checked() -> None:
    assert Settings(rasa_url="http://rasa:5005").rasa_url_list() == ["http://rasa:5005"]
    both = Settings(rasa_urls=" http://a:5005/, http://b:5005 ")
    assert both.rasa_url_list() == ["http://a:5005", "http://b:5005"]
    for wrong in ("a:5005,http://b:5005", "http://a:5005,http://a:5005"):
        with pytest.raises(ValueError):
            Settings(rasa_urls=wrong)
    with pytest.raises(ValueError, match="not both"):
        Settings(rasa_urls="http://a:5005,http://b:5005", rasa_processes=2)


def test_make_run_starts_rasa_processes_on_consecutive_ports_and_restarts_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """RASA_PROCESSES=2: `make run` supervises two Rasa servers (on RASA_URL's port and the next),
    restarts the second when it dies, and the application is given both URLs. FAKE Rasa
    processes: each a sleeping Python child, recording where it was asked to listen."""
    settings = Settings(rasa_url="http://127.0.0.1:5105", rasa_processes=2)
    urls = run.rasa_urls_to_start(settings)
    assert urls == ["http://127.0.0.1:5105", "http://127.0.0.1:5106"]
    assert Settings(rasa_urls=",".join(urls)).rasa_url_list() == urls  # what the application reads
    assert run.rasa_urls_to_start(Settings(rasa_url="http://127.0.0.1:5105")) == ["http://127.0.0.1:5105"]

    listening: list[tuple[str, int]] = []

    def fake_rasa(model: Path, host: str, port: int, token: str) -> subprocess.Popen[bytes]:
        listening.append((host, port))
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)

    monkeypatch.setattr(run, "start_rasa", fake_rasa)
    monkeypatch.setattr(run, "_start", lambda argv, env: fake_rasa(Path(), "app", 0, ""))
    supervisor, names = run.supervise(Path("model.tar.gz"), urls, {"RASA_TOKEN": "t"})
    assert names == ["rasa", "rasa-2"]
    supervisor.start()
    try:
        assert listening == [("127.0.0.1", 5105), ("127.0.0.1", 5106), ("app", 0)]
        second = supervisor["rasa-2"].process
        assert second is not None
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
        deadline = time.monotonic() + 10
        while supervisor["rasa-2"].restarts == 0 and time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.1)
        assert supervisor["rasa-2"].restarts == 1 and supervisor["rasa"].restarts == 0
        assert listening[-1] == ("127.0.0.1", 5106)
    finally:
        supervisor.stop()
