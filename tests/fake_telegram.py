"""A local fake of Telegram's Bot API, served on loopback for the tests (FAKE, not Telegram).

It answers the methods the bot uses with the real JSON shapes (tests/data/telegram/*.json:
getMe with is_bot, dates in seconds, errors with retry_after), records every call, and can be
told to fail a chat's next sends (flood wait, blocked, 500) or to hand out updates to getUpdates.
Note: the npm emulator telegram-test-api 4.2.1 does not work with PTB 22 unpatched (its getMe
lacks is_bot, its dates are in milliseconds), hence this fake.
"""

import asyncio
import copy
import email.parser
import email.policy
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.serving import served

DATA = Path(__file__).parent / "data" / "telegram"
TOKEN = "7000000001:AAFakeTokenForTestsOnly_abcdefghijk"


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")))


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True  # False when the fake answered with an error


@dataclass
class FakeTelegram:
    """State of the fake: calls received, failures to play, updates to hand out."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)  # chat id -> ["retry_after" | "forbidden" | "internal"]
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    new_update: asyncio.Event = field(default_factory=asyncio.Event)
    next_message_id: int = 100
    storm_kind: str = ""  # every send fails so ("retry_after" | "internal") until `storm_until`
    storm_until: float = 0.0
    storm_every: int = 1  # of the sends meanwhile, every n-th fails (1: all of them)
    storm_calls: int = 0

    def storm(self, kind: str, seconds: float, every: int = 1) -> None:
        """Fail every sendMessage and sendVenue, to any chat, with `kind` for `seconds` from now
        (with `every=2`, every second one: a flaky storm, which also breaks replies sent in parts)."""
        self.storm_kind, self.storm_until, self.storm_every, self.storm_calls = kind, time.monotonic() + seconds, every, 0

    def sent(self, chat_id: int | str | None = None, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Calls that succeeded (failed ones stay in `calls`)."""
        return [c.params for c in self.calls
                if c.ok and c.method == method and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self.new_update.set()

    async def wait_for(self, count: int, chat_id: int | str | None = None, method: str = "sendMessage",
                       timeout: float = 20) -> list[dict[str, Any]]:
        """Wait until `count` calls of `method` (to `chat_id`) arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.sent(chat_id, method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method}: expected {count}, got {self.sent(chat_id, method)}")
            await asyncio.sleep(0.05)
        return self.sent(chat_id, method)

    def _storming(self) -> str:
        if time.monotonic() >= self.storm_until:
            return ""
        self.storm_calls += 1
        return self.storm_kind if self.storm_calls % self.storm_every == 0 else ""

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            token, method = request.path_params["token"], request.path_params["method"]
            if token != TOKEN:
                return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
            params = await _params(request)
            call = Call(method, params, time.monotonic())
            self.calls.append(call)
            response = await self._answer(method, params)
            call.ok = response.status_code == 200
            return response

        return Starlette(routes=[Route("/bot{token}/{method}", endpoint, methods=["POST", "GET"])])

    async def _answer(self, method: str, params: dict[str, Any]) -> Response:
        if method == "getMe":
            return JSONResponse(sample("getMe"))
        if method in ("setWebhook", "deleteWebhook", "setMyCommands", "answerCallbackQuery"):
            if method == "setWebhook":
                self.webhook = params
            return JSONResponse({"ok": True, "result": True})
        if method in ("sendMessage", "sendVenue", "sendDocument"):
            chat = str(params["chat_id"])
            storming = self._storming()
            if storming or self.failures.get(chat):
                failure = storming or self.failures[chat].pop(0)
                body = sample(f"error_{failure}")
                return JSONResponse(body, status_code=body["error_code"])
            body = copy.deepcopy(sample("sendMessage"))
            self.next_message_id += 1
            body["result"].update(message_id=self.next_message_id, date=int(time.time()))
            if method == "sendDocument":
                del body["result"]["text"]
                upload = params["document"]
                body["result"]["document"] = {"file_name": upload["filename"], "file_id": "fake-file-id",
                                              "file_unique_id": "fake-unique-id", "file_size": len(upload["content"])}
                body["result"]["caption"] = params.get("caption", "")
            elif method == "sendVenue":
                del body["result"]["text"]
                body["result"]["venue"] = {
                    "location": {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])},
                    "title": params["title"], "address": params["address"]}
            else:
                body["result"]["text"] = params["text"]
            body["result"]["chat"]["id"] = int(chat)
            return JSONResponse(body)
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            timeout = float(params.get("timeout") or 0)
            deadline = time.monotonic() + timeout
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    return JSONResponse({"ok": True, "result": ready})
                self.new_update.clear()
                try:
                    await asyncio.wait_for(self.new_update.wait(), timeout=max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    pass
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                            status_code=404)


async def _params(request: Request) -> dict[str, Any]:
    """PTB sends form fields, JSON-encoding the complex ones (reply_markup, commands...), and files
    as multipart/form-data: a file field becomes {"filename", "content_type", "content" (bytes)}."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return dict(await request.json())
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + await request.body())
        fields: dict[str, Any] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename():
                fields[str(name)] = {"filename": part.get_filename(), "content_type": part.get_content_type(),
                                     "content": data}
            else:
                text = data.decode("utf-8")
                fields[str(name)] = json.loads(text) if text[:1] in "[{" else text
        return fields
    params: dict[str, Any] = {}
    for key, text in parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True):
        try:
            params[key] = json.loads(text) if text[:1] in "[{" else text
        except json.JSONDecodeError:
            params[key] = text
    return params


@asynccontextmanager
async def serve(fake: FakeTelegram, port: int) -> AsyncIterator[str]:
    """Run the fake on 127.0.0.1:port for the duration; yields PTB's base_url for it."""
    async with served(fake.app(), port) as url:
        yield f"{url}/bot"
