"""`make run`: start the Rasa NLU server (RASA_PROCESSES of them) and the application under a
`Supervisor`, wait until both answer, restart either when it dies (with exponential backoff; the application answers with the
topic menu while Rasa is away), and stop both cleanly on Ctrl-C or SIGTERM (each child runs in its
own process group; none is orphaned)."""

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from bot import nlu_model
from bot.errors import ConfigError
from bot.rasa_process import signal_group, start_rasa
from bot.settings import PROJECT_ROOT, Settings, load_settings

READY_TIMEOUT_SECONDS = 300
CANNOT_START = 2  # bot.main's exit code for a broken configuration or content file: restarting cannot help

log = logging.getLogger("bot.run")  # not __main__ under `python -m bot.run`


@dataclass
class Backoff:
    """Waits between restarts: `initial`, doubled after each exit up to `maximum`, and back to
    `initial` once a child had run for `reset_after` seconds (a crash after a good run is news)."""

    initial: float = 1.0
    maximum: float = 60.0
    reset_after: float = 60.0
    next_delay: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_delay = self.initial

    def delay_after(self, ran_for: float) -> float:
        """The wait before the next start of a child that exited after `ran_for` seconds."""
        if ran_for >= self.reset_after:
            self.next_delay = self.initial
        delay = self.next_delay
        self.next_delay = min(delay * 2, self.maximum)
        return delay


class ChildCannotStart(RuntimeError):
    """A child exited with a code that says restarting it cannot help (see `Child.fatal_exit_codes`)."""


@dataclass
class Child:
    """One supervised process: how to start it (in its own process group), and its restart state."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    backoff: Backoff
    fatal_exit_codes: frozenset[int] = frozenset()
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Keeps named children running: `start()` them, call `poll()` every fraction of a second (it
    notices exits and restarts each child once its backoff has passed), `stop()` them all."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._children: dict[str, Child] = {}
        self._stopped = False

    def add(self, name: str, start: Callable[[], subprocess.Popen[bytes]], backoff: Backoff | None = None,
            fatal_exit_codes: Iterable[int] = ()) -> Child:
        child = Child(name, start, backoff or Backoff(), frozenset(fatal_exit_codes))
        self._children[name] = child
        return child

    def __getitem__(self, name: str) -> Child:
        return self._children[name]

    def start(self) -> None:
        for child in self._children.values():
            self._launch(child)

    def poll(self) -> None:
        """One supervision step: schedule a restart for each child that exited, start those due.
        Raises ChildCannotStart for an exit code in the child's `fatal_exit_codes`."""
        if self._stopped:
            return
        now = self._clock()
        for child in self._children.values():
            if child.restart_at is None and child.process is not None and child.process.poll() is not None:
                code = child.process.returncode
                signal_group(child.process, signal.SIGKILL)  # what it left behind in its group
                if code in child.fatal_exit_codes:
                    raise ChildCannotStart(f"{child.name} exited with code {code}")
                delay = child.backoff.delay_after(now - child.started_at)
                child.restart_at = now + delay
                log.warning("%s exited with code %s after %.0f s; restarting in %g s",
                            child.name, code, now - child.started_at, delay)
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                log.warning("restarting %s (restart %d)", child.name, child.restarts)
                self._launch(child)

    def stop(self, timeout_seconds: float = 15) -> None:
        """SIGTERM every child's process group, then SIGKILL what is still there after the timeout."""
        self._stopped = True
        running = [child.process for child in self._children.values() if child.process is not None]
        for process in running:
            if process.poll() is None:
                signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            signal_group(process, signal.SIGKILL)  # still running, or what it left behind in its group
            process.wait()

    def _launch(self, child: Child) -> None:
        child.process = child.start()
        child.started_at = self._clock()
        child.restart_at = None


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, start_new_session=True)


def rasa_urls_to_start(settings: Settings) -> list[str]:
    """The Rasa servers `make run` starts on this machine: each of RASA_URLS, or RASA_PROCESSES of
    them on RASA_URL's port and the ports after it."""
    if settings.rasa_urls:
        return settings.rasa_url_list()
    first = urlparse(settings.rasa_url)
    port = first.port or 5005
    return [f"{first.scheme}://{first.hostname}:{port + n}" for n in range(settings.rasa_processes)]


def supervise(model: Path, rasa_urls: list[str], env: dict[str, str]) -> tuple[Supervisor, list[str]]:
    """A supervisor of one Rasa server per URL (named rasa, rasa-2, …) and the application;
    returns it and the Rasa children's names."""
    supervisor = Supervisor()
    rasa_names = ["rasa" if n == 0 else f"rasa-{n + 1}" for n in range(len(rasa_urls))]
    for name, url in zip(rasa_names, rasa_urls):
        supervisor.add(name, _rasa_at(model, url, env["RASA_TOKEN"]))
    supervisor.add("app", lambda: _start([sys.executable, "-m", "bot.main"], env),
                   fatal_exit_codes=[CANNOT_START])
    return supervisor, rasa_names


def _rasa_at(model: Path, url: str, token: str) -> Callable[[], subprocess.Popen[bytes]]:
    """A start function for the Rasa server that listens where `url` says."""
    address = urlparse(url)
    return lambda: start_rasa(model, address.hostname or "127.0.0.1", address.port or 5005, token)


def _health(url: str) -> dict[str, str]:
    try:
        return dict(httpx.get(url, timeout=2).json())
    except (httpx.HTTPError, ValueError):
        return {}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would log the Rasa token
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("RASA_TOKEN", settings.rasa_token or secrets.token_urlsafe(24))
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    rasa_urls = rasa_urls_to_start(settings)
    env["RASA_URLS"] = ",".join(rasa_urls)  # the application asks every server started here
    env.pop("RASA_PROCESSES", None)
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]
    supervisor, rasa_names = supervise(model, rasa_urls, env)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    health = f"http://{settings.bot_http_host}:{settings.bot_http_port}/healthz"
    started, ready, nlu_restarts = time.monotonic(), False, 0
    supervisor.start()
    try:
        while not stopping:
            try:
                supervisor.poll()
            except ChildCannotStart as error:
                print(f"{error}; stopping the bot", file=sys.stderr)
                return 1
            if not ready:
                body = _health(health)
                ready = body.get("nlu") == "ok" and body.get("db") == "ok"
                if ready:
                    nlu_restarts = sum(supervisor[name].restarts for name in rasa_names)
                    print(f"\nReady after {time.monotonic() - started:.0f} s ({body.get('nlu_servers')} Rasa "
                          f"servers answer). Open the web chat: "
                          f"http://{settings.bot_http_host}:{settings.bot_http_port}/\n"
                          f"Channels on: {', '.join(settings.channels())}\nStop with Ctrl-C.\n", flush=True)
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    print(f"not ready after {READY_TIMEOUT_SECONDS} s; stopping", file=sys.stderr)
                    return 1
            elif sum(supervisor[name].restarts for name in rasa_names) > nlu_restarts and \
                    _health(health).get("nlu_servers") == f"{len(rasa_names)}/{len(rasa_names)}":
                nlu_restarts = sum(supervisor[name].restarts for name in rasa_names)
                log.warning("Rasa is back (all %d servers answer); the bot understands written questions as before",
                            len(rasa_names))
            time.sleep(0.5)
        return 0
    finally:
        supervisor.stop()
        print("Stopped the NLU server(s) and the application.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
