"""Shared fixtures: a real Rasa NLU server (once per session), real databases, the app in-process.

Databases: every test that takes `database_url` runs on SQLite and, when TEST_DATABASE_URL
is set (as .ci/run does), on PostgreSQL too.
"""

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from bot import nlu_model
from bot.content import load_content
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.rasa_process import start_rasa, stop, wait_until_ready
from bot.settings import PROJECT_ROOT, Settings
from bot.storage import Storage, User, make_engine, migrate
from bot.app import create_app
from tests.fakes import FakeNlu

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def rasa_server() -> Iterator[tuple[str, str]]:
    """The real Rasa NLU server on the model trained from nlu_data/: (url, token)."""
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    port, token = free_port(), secrets.token_urlsafe(16)
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    with open(PROJECT_ROOT / "var" / "rasa-test.log", "wb") as log:
        process = start_rasa(model, "127.0.0.1", port, token, log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(process, url, token)
            yield url, token
        finally:
            stop(process)


@pytest.fixture(scope="session")
def guesser() -> LanguageGuesser:
    languages = load_languages(PROJECT_ROOT / "locales")
    return LanguageGuesser(list(languages), Settings().contrast_language_list())


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a fresh SQLite file, or PostgreSQL's public schema wiped."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    url = Settings(database_url=os.environ["TEST_DATABASE_URL"]).database_url
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    yield url


def make_settings(database_url: str, rasa_url: str = "http://127.0.0.1:9", token: str = "", **overrides: object) -> Settings:
    return Settings(database_url=database_url, rasa_url=rasa_url, rasa_token=token, **overrides)  # type: ignore[arg-type]


class Chat:
    """Talks to the app like the web page in one browser does: `await chat.say("hallo")`,
    `await chat.press("m")`. Each Chat keeps its own identity cookie (one per browser)."""

    def __init__(self, client: httpx.AsyncClient, user: str = "test-user") -> None:
        self.client = client
        self.user = user  # only a name for the test; the server knows the browser by its cookie
        self.cookie = ""

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Cookie": f"ki_chat={self.cookie}"} if self.cookie else {}
        response = await self.client.request(method, url, headers=headers, **kwargs)
        self.cookie = response.cookies.get("ki_chat") or self.cookie
        self.client.cookies.clear()  # the next Chat on this client is another browser
        return response

    async def say(self, text: str, language: str = "") -> dict:
        response = await self.request("POST", "/api/chat", json={"text": text, "language": language})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def press(self, payload: str) -> dict:
        response = await self.request("POST", "/api/chat", json={"button": payload})
        assert response.status_code == 200, response.text
        return dict(response.json())


async def start_app(settings: Settings, guesser: LanguageGuesser) -> tuple[object, httpx.AsyncClient]:
    app = create_app(settings, guesser)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


@pytest.fixture
async def client(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[httpx.AsyncClient]:
    """The application wired to the real Rasa server and a real database."""
    app, http = await start_app(make_settings(database_url, *rasa_server), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        yield http


@pytest.fixture
def nlu() -> FakeNlu:
    """A FAKE NLU: answers each text as scripted by the test, out_of_scope otherwise."""
    return FakeNlu()


@pytest.fixture
async def dialogue(tmp_path: Path, nlu: FakeNlu, guesser: LanguageGuesser) -> AsyncIterator[Dialogue]:
    """The dialogue on the real content and a fresh SQLite database, with the FAKE NLU above."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrate(engine)
    languages = load_languages(PROJECT_ROOT / "locales")
    content = load_content(PROJECT_ROOT / "content", set(languages))
    yield Dialogue(Storage(engine), nlu, content, languages, guesser, "de", 0.45, 0.2, 30)
    await engine.dispose()


async def stored(database_url: str, model: Any) -> list[Any]:
    """Every row of `model` stored in the database, oldest first."""
    engine = make_engine(make_settings(database_url).database_url)
    try:
        async with Storage(engine).session() as session:
            return list((await session.scalars(select(model).order_by(model.id))).all())
    finally:
        await engine.dispose()


async def everything_stored(database_url: str) -> str:
    """Every value in every table of the database, as one text to search."""
    from sqlalchemy import text

    from bot.storage import Base

    engine = make_engine(make_settings(database_url).database_url)
    try:
        async with engine.connect() as connection:
            values = []
            for table in Base.metadata.sorted_tables:
                for row in await connection.execute(text(f"SELECT * FROM {table.name}")):
                    values.extend(str(value) for value in row)
            return "\n".join(values)
    finally:
        await engine.dispose()


async def stored_addresses(database_url: str) -> list[Any]:
    from bot.storage import Address

    engine = make_engine(make_settings(database_url).database_url)
    try:
        async with Storage(engine).session() as session:
            return list((await session.scalars(select(Address).order_by(Address.ref))).all())
    finally:
        await engine.dispose()


async def users(database_url: str) -> list[User]:
    """Every user stored in the database, oldest first."""
    return await stored(database_url, User)


def buttons(body: dict) -> list[str]:
    return [b["payload"] for reply in body["replies"] for b in reply["buttons"]]


def texts(body: dict) -> str:
    return "\n".join(reply["text"] for reply in body["replies"])
