"""A local fake of the WhatsApp Cloud API (Graph API), served on loopback for tests (FAKE, not Meta).

It answers `GET /{version}/{phone-number-id}` and `POST /{version}/{phone-number-id}/messages`
with the real JSON shapes (tests/data/whatsapp/*.json), checks the bearer token, records every
send, and can be told to fail a recipient's next sends with a Graph API error (130429, 131047,
131026; 131000 as an HTTP 500).
"""

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.serving import served

DATA = Path(__file__).parent / "data" / "whatsapp"
TOKEN = "EAAFakeAccessTokenForTestsOnly"
APP_SECRET = "fake-app-secret-for-tests"
PHONE_NUMBER_ID = "106540352242922"
VERSION = "v21.0"


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")))


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 Meta sends with a webhook body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Send:
    body: dict[str, Any]
    at: float
    ok: bool = True
    wamid: str = ""


@dataclass
class FakeGraph:
    sends: list[Send] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)  # wa_id -> ["130429", "131047", ...]
    next_id: int = 0
    storm_code: str = ""  # every send fails with this Graph API error until `storm_until`
    storm_until: float = 0.0
    storm_every: int = 1  # of the sends meanwhile, every n-th fails (1: all of them)
    storm_calls: int = 0

    def storm(self, code: str, seconds: float, every: int = 1) -> None:
        """Fail every send, to anyone, with Graph API error `code` for `seconds` from now
        (with `every=2`, every second one: a flaky storm, which also breaks replies sent in parts)."""
        self.storm_code, self.storm_until, self.storm_every, self.storm_calls = code, time.monotonic() + seconds, every, 0

    def sent(self, to: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Bodies the fake accepted (refused ones stay in `sends`), to one recipient, of one type."""
        return [s.body for s in self.sends
                if s.ok and (to is None or s.body["to"] == to) and (kind is None or s.body["type"] == kind)]

    async def wait_for(self, count: int, to: str | None = None, kind: str | None = None,
                       timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.sent(to, kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} sends, got {self.sent(to, kind)}")
            await asyncio.sleep(0.05)
        return self.sent(to, kind)

    def _storming(self) -> str:
        if time.monotonic() >= self.storm_until:
            return ""
        self.storm_calls += 1
        return self.storm_code if self.storm_calls % self.storm_every == 0 else ""

    def app(self) -> Starlette:
        def authorised(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {TOKEN}" \
                and request.path_params["phone_id"] == PHONE_NUMBER_ID

        async def phone_number(request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status_code=401)
            return JSONResponse({"verified_name": "KI Herne", "display_phone_number": "+1 555-078-3881",
                                 "id": PHONE_NUMBER_ID, "quality_rating": "GREEN"})

        async def messages(request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status_code=401)
            body = await request.json()
            send = Send(body, time.monotonic())
            self.sends.append(send)
            queued = self.failures.get(body["to"])
            code = self._storming() or (queued.pop(0) if queued else "")
            if code:
                send.ok = False
                return JSONResponse(sample(f"error_{code}"), status_code=500 if code == "131000" else 400)
            self.next_id += 1
            answer = copy.deepcopy(sample("send_ok"))
            answer["contacts"] = [{"input": body["to"], "wa_id": body["to"]}]
            send.wamid = answer["messages"][0]["id"] = f"wamid.FAKE-{self.next_id}"
            return JSONResponse(answer)

        return Starlette(routes=[
            Route(f"/{VERSION}/{{phone_id}}", phone_number, methods=["GET"]),
            Route(f"/{VERSION}/{{phone_id}}/messages", messages, methods=["POST"]),
        ])


@asynccontextmanager
async def serve(fake: FakeGraph, port: int) -> AsyncIterator[str]:
    """Run the fake on 127.0.0.1:port; yields WHATSAPP_API_BASE_URL for it."""
    async with served(fake.app(), port) as url:
        yield f"{url}/{VERSION}"
