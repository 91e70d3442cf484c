"""`make run`: start the Rasa NLU server and the application, wait until both answer, and stop
both cleanly on Ctrl-C or SIGTERM (each child runs in its own process group; none is orphaned)."""

import os
import secrets
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx

from bot import nlu_model
from bot.errors import ConfigError
from bot.rasa_process import start_rasa
from bot.settings import PROJECT_ROOT, load_settings

READY_TIMEOUT_SECONDS = 300


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, start_new_session=True)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("RASA_TOKEN", settings.rasa_token or secrets.token_urlsafe(24))
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    rasa = urlparse(settings.rasa_url)
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]
    processes = [
        start_rasa(model, rasa.hostname or "127.0.0.1", rasa.port or 5005, env["RASA_TOKEN"]),
        _start([sys.executable, "-m", "bot.main"], env),
    ]
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    health = f"http://{settings.bot_http_host}:{settings.bot_http_port}/healthz"
    started, ready = time.monotonic(), False
    try:
        while not stopping:
            if any(p.poll() is not None for p in processes):
                print("a process stopped unexpectedly; stopping the bot", file=sys.stderr)
                return 1
            if not ready:
                try:
                    body = httpx.get(health, timeout=2).json()
                    ready = body.get("nlu") == "ok" and body.get("db") == "ok"
                except (httpx.HTTPError, ValueError):
                    pass
                if ready:
                    print(f"\nReady after {time.monotonic() - started:.0f} s. Open the web chat: "
                          f"http://{settings.bot_http_host}:{settings.bot_http_port}/\n"
                          f"Channels on: {', '.join(settings.channels())}\nStop with Ctrl-C.\n", flush=True)
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    print(f"not ready after {READY_TIMEOUT_SECONDS} s; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        _stop(processes)
        print("Stopped the NLU server and the application.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
