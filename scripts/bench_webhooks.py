"""The Telegram and WhatsApp webhooks under load, for `make bench` (scripts/bench.py).

The FAKE Telegram Bot API and the FAKE WhatsApp Cloud API of the tests run in this process and
receive the bot's answers. Each simulated user posts one message to a webhook, waits until the
fake platform received the answer (that wait is the latency), and sends the next: a closed loop,
so the load is what the bot can answer. Users are spread over the application processes (user i
to process i mod n), as a load balancer would. The messages are ones with exactly one reply
(Telegram: /menu; WhatsApp: the menu button), so that what the fakes received can be counted
against what was sent: lost (a message without its reply) and doubled (a reply too many) must be
0. They skip the NLU: the webhooks measure the delivery path (webhook, inbox, turn, outbox,
platform); POST /api/chat measures the path with Rasa.
"""

import asyncio
import collections
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests import fake_telegram, fake_whatsapp
from tests.serving import served

TELEGRAM_SECRET = "bench-webhook-secret-0123456789"
REPLY_TIMEOUT_SECONDS = 10.0  # an answer later than this counts as an error (and as lost, unless it comes)
DRAIN_SECONDS = 60.0  # after the run: how long answers still due may take before they count as lost
QUIET_SECONDS = 3.0  # then: how long nothing more may arrive before the counts are taken (doubles)


class Notifying(list[Any]):
    """A fake's list of calls that tells the bench of each one as it is recorded."""

    def __init__(self, notify: Callable[[Any], None]) -> None:
        super().__init__()
        self._notify = notify

    def append(self, item: Any) -> None:
        super().append(item)
        self._notify(item)


@dataclass
class Replies:
    """Answers received per user (chat id or wa_id), and a waiter per user for the next one."""

    count: collections.Counter[str] = field(default_factory=collections.Counter)
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    last_at: float = 0.0

    def arrived(self, user: str) -> None:
        self.count[user] += 1
        self.last_at = time.monotonic()
        waiter = self.waiters.pop(user, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(self.last_at)


class Fakes:
    """Both fake platforms on loopback, counting answers per user."""

    def __init__(self) -> None:
        self.telegram = fake_telegram.FakeTelegram()
        self.graph = fake_whatsapp.FakeGraph()
        self.replies = Replies()
        self.telegram.calls = Notifying(self._telegram_call)
        self.graph.sends = Notifying(self._graph_send)

    def _telegram_call(self, call: Any) -> None:
        if call.method == "sendMessage":
            self.replies.arrived(f"telegram:{call.params.get('chat_id')}")

    def _graph_send(self, send: Any) -> None:
        self.replies.arrived(f"whatsapp:{send.body.get('to')}")


def telegram_update(update_id: int, user: int) -> bytes:
    update = copy.deepcopy(fake_telegram.sample("update_text"))
    update["update_id"] = update_id
    update["message"].update(message_id=update_id, text="/menu", date=int(time.time()))
    update["message"]["from"]["id"] = update["message"]["chat"]["id"] = user
    return json.dumps(update).encode()


def whatsapp_tap(wamid: str, user: str) -> bytes:
    body = copy.deepcopy(fake_whatsapp.sample("button_reply"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = user
    value["messages"][0].update(id=wamid, timestamp=str(int(time.time())))
    value["messages"][0]["interactive"] = {"type": "button_reply", "button_reply": {"id": "m", "title": "Menü"}}
    return json.dumps(body).encode()


@dataclass
class Result:
    seconds: float
    latencies: list[float]
    errors: int
    sent: int
    lost: int
    doubled: int

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.latencies) or [0.0]

        def pick(q: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {"seconds": self.seconds, "requests": len(self.latencies), "p50": pick(0.50), "p95": pick(0.95),
                "p99": pick(0.99), "max": 1000 * ordered[-1], "errors": self.errors, "sent": self.sent,
                "lost": self.lost, "doubled": self.doubled}


async def load(fakes: Fakes, channel: str, app_urls: list[str], users: int, seconds: float, first_id: int) -> Result:
    """`users` users on `channel` ("telegram" | "whatsapp") for `seconds`, then the counts."""
    replies = fakes.replies
    latencies: list[float] = []
    sent: collections.Counter[str] = collections.Counter()
    errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=users + 8, max_keepalive_connections=users + 8)

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def user(number: int) -> None:
            nonlocal errors
            user_id = first_id + number
            key = f"{channel}:{user_id}"
            url = app_urls[number % len(app_urls)]
            message = 0
            while time.monotonic() < stop_at:
                message += 1
                if channel == "telegram":
                    body = telegram_update(first_id * 1000 + number * 100_000 + message, user_id)
                    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"}
                    path = "/telegram/webhook"
                else:
                    body = whatsapp_tap(f"wamid.BENCH-{user_id}-{message}", str(user_id))
                    headers = {"X-Hub-Signature-256": fake_whatsapp.sign(body), "Content-Type": "application/json"}
                    path = "/whatsapp/webhook"
                waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                replies.waiters[key] = waiter
                started = time.monotonic()
                try:
                    response = await http.post(url + path, content=body, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    replies.waiters.pop(key, None)
                    await asyncio.sleep(0.5)
                    continue
                if response.status_code != 200:
                    errors += 1
                    replies.waiters.pop(key, None)
                    await asyncio.sleep(0.5)
                    continue
                sent[key] += 1
                try:
                    arrived = await asyncio.wait_for(waiter, REPLY_TIMEOUT_SECONDS)
                    latencies.append(arrived - started)
                except TimeoutError:
                    errors += 1
                    replies.waiters.pop(key, None)

        began = time.monotonic()
        await asyncio.gather(*(user(n) for n in range(users)))
        elapsed = time.monotonic() - began
    keys = [f"{channel}:{first_id + n}" for n in range(users)]
    drain_until = time.monotonic() + DRAIN_SECONDS
    while any(replies.count[k] < sent[k] for k in keys) and time.monotonic() < drain_until:
        await asyncio.sleep(0.2)  # answers still on their way (queued in the inbox or outbox)
    while time.monotonic() - replies.last_at < QUIET_SECONDS:  # and doubles, if any
        await asyncio.sleep(0.2)
    lost = sum(max(0, sent[k] - replies.count[k]) for k in keys)
    doubled = sum(max(0, replies.count[k] - sent[k]) for k in keys)
    return Result(elapsed, latencies, errors, sum(sent.values()), lost, doubled)


def settings_env(telegram_url: str, graph_url: str) -> dict[str, str]:
    """The application's settings for both channels on the fakes."""
    return {
        "TELEGRAM_BOT_TOKEN": fake_telegram.TOKEN, "TELEGRAM_MODE": "webhook", "TELEGRAM_API_BASE_URL": telegram_url,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "WHATSAPP_ACCESS_TOKEN": fake_whatsapp.TOKEN, "WHATSAPP_APP_SECRET": fake_whatsapp.APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "bench-verify-token", "WHATSAPP_PHONE_NUMBER_ID": fake_whatsapp.PHONE_NUMBER_ID,
        "WHATSAPP_API_BASE_URL": graph_url, "WHATSAPP_TEMPLATE_NAME": "ki_reply_waiting",
    }


async def serve_fakes(fakes: Fakes, telegram_port: int, graph_port: int, stop: asyncio.Event) -> None:
    async with fake_telegram.serve(fakes.telegram, telegram_port), fake_whatsapp.serve(fakes.graph, graph_port):
        await stop.wait()
