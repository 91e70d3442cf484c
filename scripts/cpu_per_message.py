"""CPU time per message: what one POST /api/chat costs the application and the Rasa server.

    .venv/bin/python scripts/cpu_per_message.py [--messages 800] [--users 8] [--database-url URL] [--py-spy FILE]

Throughput on these shared 2 cores depends on whatever else runs; the CPU seconds a process
spends per message do much less, so this is the figure to compare between two versions of the
code. Starts Rasa and the application like scripts/bench.py, sends the held-out questions as
`--users` concurrent web chat users (each its own cookie), and reads each process's user+system
CPU time from /proc before and after. `--py-spy FILE` samples the application meanwhile (raw
stacks). Prints figures; asserts nothing.
"""

import argparse
import asyncio
import os
import secrets
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
from scripts.bench import free_port, questions, wait_for_app  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (fields 14 and 15 of /proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def drive(url: str, texts: list[str], messages: int, users: int) -> tuple[int, float]:
    """Send `messages` questions as `users` concurrent users; (errors, seconds)."""
    errors = 0
    counter = iter(range(messages))

    async def user(number: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for index in counter:
                response = await client.post("/api/chat", json={"text": texts[(index * 7 + number) % len(texts)]})
                errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(users)))
    return errors, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=800)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--py-spy", type=Path, help="sample the application into FILE (raw stacks)")
    args = parser.parse_args()
    texts = questions()
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token, rasa_port, app_port = secrets.token_urlsafe(16), free_port(), free_port()
    rasa_url, app_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{app_port}"
    with tempfile.TemporaryDirectory() as tmp:
        rasa = start_rasa(model, "127.0.0.1", rasa_port, token, open(Path(tmp) / "rasa.log", "wb"))
        env = {**os.environ, "RASA_URL": rasa_url, "RASA_TOKEN": token, "BOT_HTTP_PORT": str(app_port),
               "BOT_HTTP_HOST": "127.0.0.1", "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/cpu.db",
               "WEB_SECRET": secrets.token_urlsafe(32), "WEB_SECRET_FILE": f"{tmp}/web-secret",
               "TELEGRAM_BOT_TOKEN": "", "USER_MESSAGES_PER_MINUTE": "1000000"}
        app = subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT, env=env,
                               stdout=open(Path(tmp) / "app.log", "wb"), stderr=subprocess.STDOUT)
        try:
            wait_until_ready(rasa, rasa_url, token)
            wait_for_app(app_url, app)
            asyncio.run(drive(app_url, texts, 100, args.users))  # warm up
            sampler = None
            if args.py_spy:
                py_spy = str(Path(sys.executable).parent / "py-spy")
                sampler = subprocess.Popen([py_spy, "record", "--pid", str(app.pid), "--rate", "250", "--format",
                                            "raw", "--threads", "--output", str(args.py_spy)],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            app_before, rasa_before = cpu_seconds(app.pid), cpu_seconds(rasa.pid)
            errors, seconds = asyncio.run(drive(app_url, texts, args.messages, args.users))
            app_cpu, rasa_cpu = cpu_seconds(app.pid) - app_before, cpu_seconds(rasa.pid) - rasa_before
            if sampler is not None:
                sampler.send_signal(2)
                sampler.wait(timeout=30)
            print(f"{args.messages} messages, {args.users} users, {errors} errors, {seconds:.1f} s wall "
                  f"({args.messages / seconds:.0f} msg/s on this machine now)")
            print(f"application: {1000 * app_cpu / args.messages:.2f} ms CPU per message, RSS {rss_mb(app.pid):.0f} MB")
            print(f"rasa:        {1000 * rasa_cpu / args.messages:.2f} ms CPU per message, RSS {rss_mb(rasa.pid):.0f} MB")
        finally:
            app.terminate()
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
            stop(rasa)
    return 0


if __name__ == "__main__":
    sys.exit(main())
