"""A bot process killed (SIGKILL) between receiving a message and answering it: the restarted
process, or the other one on the same PostgreSQL, answers it, exactly once. Real Rasa behind a
gate the test holds shut (so the killed process is mid-turn, waiting on the NLU), real
PostgreSQL, two `python -m bot.main` processes, the FAKE Telegram Bot API."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.delivery import SEND_LEASE
from bot.settings import PROJECT_ROOT
from tests.conftest import free_port
from tests.fake_telegram import TOKEN, FakeTelegram, serve
from tests.serving import served
from tests.test_delivery import post, update_from
from tests.test_telegram import SECRET


@dataclass
class GatedRasa:
    """A pass-through to the real Rasa server that holds every /model/parse while shut (FAKE
    in front of the real one: it only delays)."""

    rasa_url: str
    open: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0  # parse requests held right now

    def app(self) -> Starlette:
        async def forward(request: Request) -> Response:
            if request.url.path == "/model/parse":
                self.waiting += 1
                try:
                    await self.open.wait()
                finally:
                    self.waiting -= 1
            async with httpx.AsyncClient() as http:
                answer = await http.request(request.method, self.rasa_url + request.url.path,
                                            params=request.query_params, content=await request.body(), timeout=30)
            return Response(answer.content, answer.status_code, media_type="application/json")

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


class Processes:
    """`python -m bot.main` processes on one database, Telegram by webhook, Rasa behind the gate."""

    def __init__(self, database_url: str, rasa_url: str, rasa_token: str, telegram_url: str) -> None:
        self.env = dict(os.environ, DATABASE_URL=database_url, RASA_URL=rasa_url, RASA_TOKEN=rasa_token,
                        NLU_TIMEOUT_SECONDS="30", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_MODE="webhook",
                        TELEGRAM_API_BASE_URL=telegram_url,
                        TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram/webhook",
                        TELEGRAM_WEBHOOK_SECRET=SECRET, WEB_SECRET="shared-by-every-process",
                        PYTHONPATH=str(PROJECT_ROOT))
        self.running: list[subprocess.Popen[bytes]] = []

    async def start(self) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT,
                                   env=self.env | {"BOT_HTTP_PORT": str(port)})
        self.running.append(process)
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).json()["channels"]["telegram"] == "ok":
                        return process, port
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, "the application process died at start"
                assert time.monotonic() < deadline, "the application process did not start"
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            process.wait(timeout=30)


@asynccontextmanager
async def setup(database_url: str, rasa_server: tuple[str, str]) -> AsyncIterator[tuple[GatedRasa, FakeTelegram,
                                                                                          Processes]]:
    gate, telegram = GatedRasa(rasa_server[0]), FakeTelegram()
    async with served(gate.app(), free_port()) as gate_url, serve(telegram, free_port()) as telegram_url:
        processes = Processes(database_url, gate_url, rasa_server[1], telegram_url)
        try:
            yield gate, telegram, processes
        finally:
            gate.open.set()  # let held requests end, or the gate's server waits for them
            processes.stop()


async def held_at_the_gate(gate: GatedRasa, count: int = 1) -> None:
    """Wait until `count` turns are waiting on the NLU (a worker takes the messages due at once,
    and the next ones after those: the others are stored and not yet answered)."""
    deadline = time.monotonic() + 30
    while gate.waiting < count:
        assert time.monotonic() < deadline, f"{gate.waiting} turns waiting on the NLU, expected {count}"
        await asyncio.sleep(0.05)


async def test_a_process_killed_mid_turn_is_answered_once_by_the_restarted_one_or_the_other(
    database_url: str, rasa_server: tuple[str, str],
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL (SQLite serves one process)")
    question = "wann ist das cafeo offen"
    async with setup(database_url, rasa_server) as (gate, telegram, processes):
        # One process; killed while its turns wait on the NLU; restarted.
        first, port = await processes.start()
        first_users = [9101, 9102, 9103, 9104]
        for number, user in enumerate(first_users):
            assert await post(port, update_from(1000 + number, user, question)) == 200
        await held_at_the_gate(gate)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert telegram.sent() == []
        gate.open.set()
        _restarted, restarted_port = await processes.start()
        # What one answer to the question is (a user no process died on), to compare with.
        assert await post(restarted_port, update_from(999, 9001, question)) == 200
        await telegram.wait_for(1, 9001, timeout=30)
        await asyncio.sleep(2)  # the rest of that answer (a first answer offers the languages too)
        parts = len(telegram.sent(9001))
        # A reply the killed process had leased for sending waits for its lease to end (SEND_LEASE).
        for user in first_users:
            await telegram.wait_for(parts, user, timeout=SEND_LEASE.total_seconds() + 15)

        # Two processes; the one that received the messages is killed mid-turn; the other answers.
        _other, _other_port = await processes.start()
        gate.open.clear()
        second_users = [9201, 9202, 9203, 9204]
        for number, user in enumerate(second_users):
            assert await post(restarted_port, update_from(2000 + number, user, question)) == 200
        await held_at_the_gate(gate)
        _restarted.send_signal(signal.SIGKILL)
        _restarted.wait(timeout=10)
        gate.open.set()
        for user in second_users:
            await telegram.wait_for(parts, user, timeout=SEND_LEASE.total_seconds() + 15)

        await asyncio.sleep(5)  # time for a second answer, if there were one
        one_answer = [sent["text"] for sent in telegram.sent(9001)]
        assert "CaféO" in one_answer[0]
        assert {user: [sent["text"] for sent in telegram.sent(user)] for user in first_users + second_users} == \
            {user: one_answer for user in first_users + second_users}
