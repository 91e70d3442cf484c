"""`make bench`: throughput and latency of the Rasa NLU server alone, of POST /api/chat end to end,
and of the Telegram and WhatsApp webhooks with the fake platforms, on one or two bot processes.

    .venv/bin/python scripts/bench.py [--duration 15] [--users 1,8,32,128]
        [--targets rasa,chat,telegram,whatsapp] [--processes 1,2 --database-url postgresql://…]
        [--rasa-processes 1,2] [--py-spy FILE]

Webhooks (scripts/bench_webhooks.py): closed-loop users, each waiting for its answer at the fake
platform before writing again; lost and doubled answers counted from what the fakes received.
Two processes need PostgreSQL (`--database-url`, a database for benchmarks only: its schema is
dropped and made anew for each number of processes); users are spread over the processes.
Peak memory: each process's VmHWM (peak resident set) from /proc, read after every run.
`--rasa-processes 1,2`: everything measured once with one Rasa server and once with two (the
application asks both, RASA_URLS; Rasa alone: one wrk per server at once, the connections split).

One run on loopback: trains the NLU model if its inputs changed (cached by fingerprint), starts a
Rasa NLU server and the application (`python -m bot.main`, SQLite in a temporary directory, free
ports), and drives each with wrk (`apt-get install wrk`) at every number of concurrent connections:
(a) `POST /model/parse` alone, (b) `POST /api/chat` end to end. The bodies rotate over short
questions of tests/nlu/holdout.yml in every language. Each connection is its own user: wrk runs
one thread per connection, and each thread keeps the cookie the server sets on its first answer
(and sends its own `user` field, for an application that still reads it).

Prints one row per run: requests per second, p50/p95/p99/max latency, errors (connect, read,
write, timeout, HTTP >= 400), answers that were not 200, answers that are the "NLU unavailable"
menu (Rasa slower than NLU_TIMEOUT_SECONDS), and the end-to-end throughput over Rasa's at the same
concurrency. `--py-spy FILE` also samples the application with py-spy (`.venv/bin/pip install py-spy`) during
the end-to-end run at the middle concurrency and prints where its Python time goes (FILE gets
py-spy's collapsed stacks).
A benchmark prints figures; it asserts nothing (shared, noisy machine).
"""

import argparse
import asyncio
import collections
import threading
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import collections.abc
from dataclasses import dataclass
from multiprocessing.pool import ThreadPool
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import nlu_model  # noqa: E402
from bot.rasa_process import start_rasa, stop, wait_until_ready  # noqa: E402
from bot.settings import PROJECT_ROOT  # noqa: E402
from scripts import bench_webhooks  # noqa: E402

HOLDOUT = PROJECT_ROOT / "tests" / "nlu" / "holdout.yml"
PER_LANGUAGE = 8  # questions taken from each language of the held-out set
MAX_CHARS = 80  # "short" questions, as people type them into a chat
WARM_UP_SECONDS = 3
PY_SPY_RATE = 250  # samples per second
WRK_TIMEOUT = "10s"  # longer than any answer should take: a timeout is a real failure

# One wrk thread per connection, so each thread (a Lua state of its own) is one user.
# `init` receives: path, mode ("rasa" or "chat"), then the questions as JSON strings.
WRK_SCRIPT = r"""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  path, mode = args[1], args[2]
  bodies = {}
  for i = 3, #args do
    if mode == "chat" then
      bodies[#bodies + 1] = string.format('{"user": "bench-%d", "text": %s}', id, args[i])
    else
      bodies[#bodies + 1] = string.format('{"text": %s}', args[i])
    end
  end
  counter = id * 7  -- users start at different questions
  cookie = nil
  not_ok = 0
  degraded = 0
end

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if cookie then headers["Cookie"] = cookie end
  return wrk.format("POST", path, headers, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
  if body and string.find(body, "nlu_unavailable", 1, true) then degraded = degraded + 1 end
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set then cookie = string.match(set, "^[^;]+") end
end

function done(summary, latency, requests)
  local not_ok_total, degraded_total = 0, 0
  for _, thread in ipairs(threads) do
    not_ok_total = not_ok_total + thread:get("not_ok")
    degraded_total = degraded_total + thread:get("degraded")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"seconds": %f, "requests": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50": %f, "p95": %f, "p99": %f, "max": %f, "not_ok": %d, "degraded": %d}\n',
    summary.duration / 1e6, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, not_ok_total, degraded_total))
end
"""


@dataclass(frozen=True)
class Run:
    target: str
    connections: int
    figures: dict[str, float]
    processes: int = 1
    peak_mb: tuple[float, ...] = ()  # each application process's peak RSS so far
    rasa_processes: int = 1
    rasa_peak_mb: tuple[float, ...] = ()  # each Rasa process's peak RSS so far

    @property
    def throughput(self) -> float:
        return self.figures["requests"] / self.figures["seconds"]

    @property
    def errors(self) -> int:
        if "errors" in self.figures:
            return int(self.figures["errors"])
        return int(sum(self.figures[k] for k in ("connect", "read", "write", "status", "timeout")))


def questions() -> list[str]:
    """Short held-out questions, PER_LANGUAGE of each language, interleaved across languages."""
    data = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))
    per_language = [[m["text"] for m in section.get("messages", []) if len(m["text"]) <= MAX_CHARS][:PER_LANGUAGE]
                    for section in data["languages"].values()]
    return [texts[i] for i in range(PER_LANGUAGE) for texts in per_language if i < len(texts)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(script: Path, base_url: str, path: str, mode: str, texts: list[str], connections: int,
        seconds: float) -> dict[str, float]:
    command = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds:.0f}s",
               "--timeout", WRK_TIMEOUT, "-s", str(script), base_url, "--", path, mode,
               *(json.dumps(t) for t in texts)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((l for l in output.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    return dict(json.loads(line[len("BENCH "):]))


def wait_for_app(base_url: str, app: subprocess.Popen[bytes], timeout_seconds: float = 120,
                 channels: tuple[str, ...] = ()) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"the application exited with code {app.returncode}")
        try:
            health = httpx.get(f"{base_url}/healthz", timeout=2).json()
            if health.get("nlu") == "ok" and all(health["channels"].get(c) == "ok" for c in channels):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the application was not ready after {timeout_seconds:.0f} s")


def _frame(frame: str) -> str:
    """'name (file:line)' -> 'name (file)'; a thread frame -> 'thread <name without its number>'."""
    if frame.startswith("thread ("):
        name = frame.split(": ", 1)[-1]
        return "thread " + (name.split(" (", 1)[1].rstrip(")") if " (" in name else name)
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def where_time_goes(collapsed: Path, seconds: float, rate: int, count: int = 30) -> tuple[dict[str, float], list[tuple[float, float, str]]]:
    """From py-spy's collapsed stacks, sampled only from the thread holding the GIL (so: Python
    running, not waiting; SQLite's C code and the event loop's wait release it): per kind of
    thread, the share of the run it ran Python; for the event loop's thread, (inclusive %,
    self %, function) of the run, by inclusive share. Near 100 % in all: one core is the limit."""
    possible = seconds * rate
    threads: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")]
        n = int(samples)
        threads[frames[0]] += n
        if frames[0] == "thread MainThread":
            for frame in set(frames[1:]):
                inclusive[frame] += n
            own[frames[-1]] += n
    busy = {thread: 100 * n / possible for thread, n in threads.most_common()}
    return busy, [(100 * n / possible, 100 * own[f] / possible, f) for f, n in inclusive.most_common(count)]


def settle(app_urls: list[str], timeout_seconds: float = 60) -> None:
    """Wait until every process answers /healthz within 0.2 s: requests a run left in flight (wrk
    stops counting, the server goes on answering them) must not slow the next run down."""
    deadline = time.monotonic() + timeout_seconds
    for url in app_urls:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                httpx.get(f"{url}/healthz", timeout=5)
            except httpx.HTTPError:
                pass
            if time.monotonic() - started < 0.2:
                break
            time.sleep(0.5)


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set size so far (VmHWM), in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wrk_split(script: Path, urls: list[str], texts: list[str], connections: int, seconds: float,
              path: str = "/api/chat", mode: str = "chat") -> dict[str, float]:
    """wrk on `path` (POST /api/chat, or Rasa's /model/parse), the connections spread over the
    processes (one wrk per process, at once); requests and errors added up, latency percentiles
    the worst of the processes'."""
    shares = [connections // len(urls) + (i < connections % len(urls)) for i in range(len(urls))]
    with ThreadPool(len(urls)) as pool:
        parts = pool.starmap(wrk, [(script, url, path, mode, texts, share, seconds)
                                   for url, share in zip(urls, shares) if share])
    combined = {key: sum(p[key] for p in parts) for key in ("requests", "connect", "read", "write", "status",
                                                            "timeout", "not_ok", "degraded")}
    combined |= {key: max(p[key] for p in parts) for key in ("seconds", "p50", "p95", "p99", "max")}
    return combined


class FakePlatforms:
    """The fake Telegram and WhatsApp APIs, served from an event loop in a thread of this process."""

    def __init__(self) -> None:
        self.fakes = bench_webhooks.Fakes()
        self.telegram_port, self.graph_port = free_port(), free_port()
        self.loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._serving = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await bench_webhooks.serve_fakes(self.fakes, self.telegram_port, self.graph_port, self._stop)

    def env(self) -> dict[str, str]:
        return bench_webhooks.settings_env(f"http://127.0.0.1:{self.telegram_port}/bot",
                                           f"http://127.0.0.1:{self.graph_port}/{bench_webhooks.fake_whatsapp.VERSION}")

    def run(self, coroutine: "collections.abc.Coroutine[object, object, bench_webhooks.Result]") -> bench_webhooks.Result:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        try:
            self._serving.result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


def reset_database(database_url: str) -> None:
    """A benchmark database made empty (PostgreSQL's public schema dropped and made anew)."""
    from sqlalchemy import text
    from bot.settings import Settings
    from bot.storage import make_engine

    async def reset() -> None:
        engine = make_engine(Settings(database_url=database_url).database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


def print_table(runs: list[Run], rasa_peaks: dict[int, tuple[float, ...]]) -> None:
    """One row per run; `rasa_peaks`: each Rasa process's peak RSS (MB) by number of Rasa processes."""
    rasa = {(r.rasa_processes, r.connections): r.throughput for r in runs if r.target == "rasa"}
    print(f"\n{'target':<24}{'rasa':>5}{'procs':>6}{'users':>6}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'errors':>8}{'lost':>6}{'doubled':>8}{'peak MB/process':>17}{'Rasa MB':>10}{'of Rasa':>9}")
    labels = {"rasa": "Rasa /model/parse", "chat": "POST /api/chat", "telegram": "Telegram webhook",
              "whatsapp": "WhatsApp webhook"}
    for run in runs:
        f = run.figures
        alone = rasa.get((run.rasa_processes, run.connections))
        ratio = f"{run.throughput / alone:.0%}" if run.target != "rasa" and alone else ""
        lost = str(int(f["lost"])) if "lost" in f else "-"
        doubled = str(int(f["doubled"])) if "doubled" in f else "-"
        peak = "/".join(f"{mb:.0f}" for mb in run.peak_mb) if run.peak_mb else "-"
        rasa_peak = "/".join(f"{mb:.0f}" for mb in run.rasa_peak_mb) or "-"
        print(f"{labels[run.target]:<24}{run.rasa_processes:>5}{run.processes if run.target != 'rasa' else '':>6}"
              f"{run.connections:>6}{run.throughput:>8.1f}{f['p50']:>8.1f}{f['p95']:>8.1f}{f['p99']:>8.1f}"
              f"{run.errors:>8}{lost:>6}{doubled:>8}{peak:>17}{rasa_peak:>10}{ratio:>9}")
    for count, peaks in rasa_peaks.items():
        print(f"Peak RSS with {count} Rasa process(es): {' / '.join(f'{mb:.0f}' for mb in peaks)} MB "
              f"({sum(peaks):.0f} MB in all).")
    print(f"rasa: Rasa processes (the application asks all of them; Rasa alone: wrk on each at once, the "
          f"connections split). Rasa MB: each Rasa process's peak RSS after the run. errors: "
          f"connect/read/write/timeout/HTTP>=400 (webhooks: not 200, "
          f"or no answer within {bench_webhooks.REPLY_TIMEOUT_SECONDS:.0f} s); lost/doubled: answers the fake platform "
          "received fewer/more than messages sent (webhooks only: /api/chat answers in its response). "
          "POST /api/chat on 2 processes and Rasa alone on 2: the worst process's percentiles.")


def measure(args: argparse.Namespace, targets: list[str], levels: list[int], middle: int, texts: list[str],
            script: Path, tmp: Path, platforms: FakePlatforms, py_spy: str, token: str, rasa_urls: list[str],
            rasas: list[subprocess.Popen[bytes]], process_counts: list[int], postgres: bool, runs: list[Run],
            first_user: int) -> int:
    """Every run on the Rasa servers at `rasa_urls`: Rasa alone, then the application on each number
    of processes; appends to `runs`, returns the next webhook user number."""
    def rasa_mb() -> tuple[float, ...]:
        return tuple(peak_rss_mb(rasa.pid) for rasa in rasas)

    parse = f"/model/parse?token={token}"
    if "rasa" in targets:
        wrk_split(script, rasa_urls, texts, 4, WARM_UP_SECONDS, parse, "rasa")
        for users in levels:
            figures = wrk_split(script, rasa_urls, texts, users, args.duration, parse, "rasa")
            runs.append(Run("rasa", users, figures, rasa_processes=len(rasas), rasa_peak_mb=rasa_mb()))
            print(f"  rasa x{users} on {len(rasas)} Rasa process(es): {runs[-1].throughput:.1f} req/s, "
                  f"p95 {figures['p95']:.0f} ms", file=sys.stderr)
    for count in process_counts:
        if not {"chat", "telegram", "whatsapp"} & set(targets):
            break
        if postgres:
            reset_database(args.database_url)
        env = {**os.environ, "RASA_URL": rasa_urls[0], "RASA_URLS": ",".join(rasa_urls), "RASA_PROCESSES": "1",
               "RASA_TOKEN": token, "BOT_HTTP_HOST": "127.0.0.1",
               "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
               "WEB_SECRET": secrets.token_urlsafe(32), "WEB_SECRET_FILE": f"{tmp}/web-secret",
               # Each user writes many messages a second: the per-user limit protects
               # against people doing that, the bench measures the answering.
               "USER_MESSAGES_PER_MINUTE": "1000000", **platforms.env()}
        ports = [free_port() for _ in range(count)]
        apps = [subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT,
                                 env=env | {"BOT_HTTP_PORT": str(port)},
                                 stdout=open(tmp / f"app-{len(rasas)}-{count}-{n}.log", "wb"), stderr=subprocess.STDOUT)
                for n, port in enumerate(ports)]
        app_urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            for url, app in zip(app_urls, apps):
                wait_for_app(url, app, channels=("telegram", "whatsapp"))
            for target in [t for t in ("chat", "telegram", "whatsapp") if t in targets]:
                if target == "chat":
                    wrk_split(script, app_urls, texts, 4, WARM_UP_SECONDS)
                for users in levels:
                    settle(app_urls)
                    sampler = None
                    sampled = any(r.target == "chat" and r.connections == middle and r.processes == 1 for r in runs)
                    if args.py_spy and target == "chat" and users == middle and count == 1 and not sampled:
                        sampler = subprocess.Popen(
                            [py_spy, "record", "--pid", str(apps[0].pid), "--duration", f"{args.duration:.0f}",
                             "--rate", str(PY_SPY_RATE), "--format", "raw", "--threads", "--gil",
                             "--output", str(args.py_spy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    if target == "chat":
                        figures = wrk_split(script, app_urls, texts, users, args.duration)
                    else:
                        result = platforms.run(bench_webhooks.load(platforms.fakes, target, app_urls, users,
                                                                   args.duration, first_user))
                        first_user += users + 1
                        figures = result.figures()
                    runs.append(Run(target, users, figures, count, tuple(peak_rss_mb(a.pid) for a in apps),
                                    len(rasas), rasa_mb()))
                    print(f"  {target} x{users} on {count} process(es), {len(rasas)} Rasa: "
                          f"{runs[-1].throughput:.1f} req/s, "
                          f"p95 {figures['p95']:.0f} ms", file=sys.stderr)
                    if sampler is not None:
                        sampler.wait(timeout=args.duration + 30)
        finally:
            for app in apps:
                app.terminate()
            for n, app in enumerate(apps):
                try:
                    app.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    app.kill()
                if app.returncode not in (0, -15):
                    print((tmp / f"app-{len(rasas)}-{count}-{n}.log").read_text(errors="replace")[-3000:],
                          file=sys.stderr)
    return first_user


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run (default 15)")
    parser.add_argument("--users", "--connections", dest="users", default="1,8,32,128",
                        help="concurrent users (wrk connections), comma-separated (default 1,8,32,128)")
    parser.add_argument("--targets", default="rasa,chat,telegram,whatsapp",
                        help="what to measure, comma-separated, of rasa,chat,telegram,whatsapp (default all)")
    parser.add_argument("--processes", default="1", help="numbers of bot processes, comma-separated (default 1; "
                        "2 needs --database-url postgresql://…)")
    parser.add_argument("--database-url", help="the application's database (default: SQLite in a temporary "
                        "directory); e.g. postgresql://postgres@127.0.0.1:5432/bench, a database for benchmarks "
                        "only: it is emptied")
    parser.add_argument("--rasa-processes", default="1", help="numbers of Rasa servers, comma-separated "
                        "(default 1; e.g. 1,2: everything measured with one, then with two)")
    parser.add_argument("--py-spy", type=Path, help="sample the application during the middle /api/chat run "
                        "(one process) into FILE")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - {"rasa", "chat", "telegram", "whatsapp"}
    if unknown:
        print(f"unknown --targets: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    process_counts = [int(p) for p in args.processes.split(",")]
    rasa_counts = [int(p) for p in args.rasa_processes.split(",")]
    postgres = bool(args.database_url and args.database_url.startswith("postgresql"))
    if max(process_counts) > 1 and not postgres:
        print("several bot processes need PostgreSQL: --database-url postgresql://…", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None and {"rasa", "chat"} & set(targets):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if args.py_spy and not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.users.split(",")]
    middle = levels[len(levels) // 2]
    texts = questions()
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token = secrets.token_urlsafe(16)
    runs: list[Run] = []
    rasa_peaks: dict[int, tuple[float, ...]] = {}
    platforms = FakePlatforms()
    first_user = 1_000
    print(f"{len(texts)} questions in {len(set(texts))} variants, {args.duration:.0f} s per run; "
          f"wrk -t N -c N (one user per connection)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        try:
            for rasa_count in rasa_counts:
                rasa_ports = [free_port() for _ in range(rasa_count)]
                rasa_urls = [f"http://127.0.0.1:{port}" for port in rasa_ports]
                rasas = [start_rasa(model, "127.0.0.1", port, token, open(tmp / f"rasa-{rasa_count}-{n}.log", "wb"))
                         for n, port in enumerate(rasa_ports)]
                try:
                    for rasa, url in zip(rasas, rasa_urls):
                        wait_until_ready(rasa, url, token)
                    first_user = measure(args, targets, levels, middle, texts, script, tmp, platforms, py_spy,
                                         token, rasa_urls, rasas, process_counts, postgres, runs, first_user)
                    rasa_peaks[rasa_count] = tuple(peak_rss_mb(rasa.pid) for rasa in rasas)
                finally:
                    for rasa in rasas:
                        stop(rasa)
        finally:
            platforms.close()
    print_table(runs, rasa_peaks)
    if args.py_spy and args.py_spy.exists():
        busy, functions = where_time_goes(args.py_spy, args.duration, PY_SPY_RATE)
        print(f"\nWhere the application's time goes (py-spy over the /api/chat run at {middle} users, "
              f"% of the run's wall time; raw stacks in {args.py_spy}):")
        for thread, share in busy.items():
            print(f"{share:>7.1f} %  running Python: {thread}")
        print(f"\n{'incl %':>7}{'self %':>7}  event loop thread (MainThread)")
        for inclusive, own, function in functions:
            print(f"{inclusive:>7.1f}{own:>7.1f}  {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
