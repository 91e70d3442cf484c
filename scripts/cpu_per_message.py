"""CPU time per message: what one POST /api/chat costs the application and the Rasa server.

    .venv/bin/python scripts/cpu_per_message.py [--messages 800] [--users 8] [--database-url URL] [--py-spy FILE]
        [--processes 2]

Throughput on these shared 2 cores depends on whatever else runs; the CPU seconds a process
spends per message do much less, so this is the figure to compare between two versions of the
code. Starts Rasa and the application like scripts/bench.py, sends the held-out questions as
`--users` concurrent web chat users (each its own cookie), and reads each process's user+system
CPU time from /proc before and after: the application's, Rasa's, and with PostgreSQL that of all
the server's processes on this machine (backends, WAL writer; others' queries count too, so run it
alone). `--processes 2` (PostgreSQL only) spreads the users over two application processes, to
see what a second process costs per message. `--py-spy FILE` samples the application meanwhile (raw
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
IDLE_SECONDS = 5


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (fields 14 and 15 of /proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (the postmaster and its children)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" (", 1)[1].startswith("postgres"):
                pids.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return pids


def total_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # ended meanwhile
            continue
    return total


async def drive(urls: list[str], texts: list[str], messages: int, users: int) -> tuple[int, float]:
    """Send `messages` questions as `users` concurrent users, spread over `urls`; (errors, seconds)."""
    errors = 0
    counter = iter(range(messages))

    async def user(number: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=urls[number % len(urls)], timeout=30) as client:
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
    parser.add_argument("--py-spy", type=Path, help="sample the (first) application process into FILE (raw stacks)")
    parser.add_argument("--processes", type=int, default=1, help="application processes (more than one: PostgreSQL)")
    args = parser.parse_args()
    if args.processes > 1 and not (args.database_url or "").startswith("postgresql"):
        parser.error("several application processes need PostgreSQL: --database-url postgresql://…")
    texts = questions()
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token, rasa_port = secrets.token_urlsafe(16), free_port()
    app_ports = [free_port() for _ in range(args.processes)]
    rasa_url, app_urls = f"http://127.0.0.1:{rasa_port}", [f"http://127.0.0.1:{port}" for port in app_ports]
    with tempfile.TemporaryDirectory() as tmp:
        rasa = start_rasa(model, "127.0.0.1", rasa_port, token, open(Path(tmp) / "rasa.log", "wb"))
        env = {**os.environ, "RASA_URL": rasa_url, "RASA_TOKEN": token, "BOT_HTTP_HOST": "127.0.0.1",
               "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/cpu.db",
               "WEB_SECRET": secrets.token_urlsafe(32), "WEB_SECRET_FILE": f"{tmp}/web-secret",
               "TELEGRAM_BOT_TOKEN": "", "USER_MESSAGES_PER_MINUTE": "1000000"}
        apps: list[subprocess.Popen[bytes]] = []
        try:
            wait_until_ready(rasa, rasa_url, token)
            for number, port in enumerate(app_ports):
                apps.append(subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT,
                                             env=env | {"BOT_HTTP_PORT": str(port)},
                                             stdout=open(Path(tmp) / f"app{number}.log", "wb"), stderr=subprocess.STDOUT))
                wait_for_app(app_urls[number], apps[number])  # one after the other: migrations once
            asyncio.run(drive(app_urls, texts, 100, args.users))  # warm up
            idle_before = total_cpu([a.pid for a in apps])
            time.sleep(IDLE_SECONDS)
            idle_cpu = (total_cpu([a.pid for a in apps]) - idle_before) / IDLE_SECONDS / len(apps)
            sampler = None
            if args.py_spy:
                py_spy = str(Path(sys.executable).parent / "py-spy")
                sampler = subprocess.Popen([py_spy, "record", "--pid", str(apps[0].pid), "--rate", "250", "--format",
                                            "raw", "--threads", "--output", str(args.py_spy)],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            database = postgres_pids() if args.database_url else []
            app_before, rasa_before = total_cpu([a.pid for a in apps]), cpu_seconds(rasa.pid)
            database_before = total_cpu(database)
            errors, seconds = asyncio.run(drive(app_urls, texts, args.messages, args.users))
            app_cpu, rasa_cpu = total_cpu([a.pid for a in apps]) - app_before, cpu_seconds(rasa.pid) - rasa_before
            database_cpu = total_cpu(database + [p for p in postgres_pids() if p not in database]) - database_before
            if sampler is not None:
                sampler.send_signal(2)
                sampler.wait(timeout=30)
            print(f"{args.messages} messages, {args.users} users, {args.processes} application process(es), {errors} "
                  f"errors, {seconds:.1f} s wall ({args.messages / seconds:.0f} msg/s on this machine now)")
            print(f"application: {1000 * app_cpu / args.messages:.2f} ms CPU per message (all processes), RSS "
                  + ", ".join(f"{rss_mb(a.pid):.0f}" for a in apps) + " MB")
            print(f"idle:        {1000 * idle_cpu:.1f} ms CPU a second per application process, with no message")
            print(f"rasa:        {1000 * rasa_cpu / args.messages:.2f} ms CPU per message, RSS {rss_mb(rasa.pid):.0f} MB")
            if args.database_url:
                print(f"postgresql:  {1000 * database_cpu / args.messages:.2f} ms CPU per message (every process of the server)")
        finally:
            for app in apps:
                app.terminate()
            for app in apps:
                try:
                    app.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    app.kill()
            stop(rasa)
    return 0


if __name__ == "__main__":
    sys.exit(main())
