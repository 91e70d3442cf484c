"""Latency of POST /api/chat for one user, over real HTTP: prints p50 / p95 / max in ms.

    .venv/bin/python scripts/bench_chat.py [messages=200]

Starts its own Rasa NLU server and application (temporary SQLite database, free ports) and
stops both at the end. A benchmark prints figures; it asserts nothing (shared, noisy machine).
"""

import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import nlu_model  # noqa: E402
from bot.rasa_process import start_rasa, stop, wait_until_ready  # noqa: E402
from bot.settings import PROJECT_ROOT  # noqa: E402

MESSAGES = [
    "wann ist das cafeo offen", "gibt es eine frauensprechstunde", "ich brauche einen deutschkurs",
    "was ist kim", "ich wohne in wanne wer hilft mir", "danke", "wo ist der einstufungstest",
    "wann hat das jobcenter offen", "hallo", "wie erreiche ich das integrationszentrum",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token, rasa_port, app_port = secrets.token_urlsafe(16), free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        rasa = start_rasa(model, "127.0.0.1", rasa_port, token, open(os.devnull, "wb"))
        env = {**os.environ, "RASA_URL": f"http://127.0.0.1:{rasa_port}", "RASA_TOKEN": token,
               "BOT_HTTP_PORT": str(app_port), "DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        app = subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT, env=env)
        try:
            wait_until_ready(rasa, f"http://127.0.0.1:{rasa_port}", token)
            base = f"http://127.0.0.1:{app_port}"
            with httpx.Client(base_url=base, timeout=10) as client:
                for _ in range(120):
                    try:
                        if client.get("/healthz").json().get("nlu") == "ok":
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.5)
                client.post("/api/chat", json={"user": "warm-up", "text": "hallo"})
                timings = []
                for number in range(count):
                    started = time.perf_counter()
                    response = client.post("/api/chat", json={"user": "bench", "text": MESSAGES[number % len(MESSAGES)]})
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
        finally:
            app.terminate()
            app.wait(timeout=20)
            stop(rasa)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"POST /api/chat, one user, {count} messages: p50 {statistics.median(timings):.1f} ms, "
          f"p95 {p95:.1f} ms, max {timings[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
