"""`make bench`: throughput and latency of the Rasa NLU server alone and of POST /api/chat end to end.

    .venv/bin/python scripts/bench.py [--duration 15] [--connections 1,8,32] [--py-spy FILE]

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
import collections
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import nlu_model  # noqa: E402
from bot.rasa_process import start_rasa, stop, wait_until_ready  # noqa: E402
from bot.settings import PROJECT_ROOT  # noqa: E402

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

    @property
    def throughput(self) -> float:
        return self.figures["requests"] / self.figures["seconds"]

    @property
    def errors(self) -> int:
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


def wait_for_app(base_url: str, app: subprocess.Popen[bytes], timeout_seconds: float = 120) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"the application exited with code {app.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).json().get("nlu") == "ok":
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


def print_table(runs: list[Run]) -> None:
    rasa = {r.connections: r.throughput for r in runs if r.target == "rasa"}
    print(f"\n{'target':<22}{'conns':>6}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
          f"{'errors':>8}{'not 200':>8}{'no NLU':>8}{'e2e/rasa':>10}")
    for run in runs:
        f = run.figures
        label = "Rasa /model/parse" if run.target == "rasa" else "app /api/chat (e2e)"
        ratio = f"{run.throughput / rasa[run.connections]:.0%}" if run.target == "chat" and rasa.get(run.connections) else ""
        print(f"{label:<22}{run.connections:>6}{run.throughput:>8.1f}{f['p50']:>8.1f}{f['p95']:>8.1f}"
              f"{f['p99']:>8.1f}{f['max']:>8.1f}{run.errors:>8}{int(f['not_ok']):>8}{int(f['degraded']):>8}{ratio:>10}")
    print("errors: connect/read/write/timeout/HTTP>=400 as wrk counts them; no NLU: answered with the menu "
          "because Rasa took longer than NLU_TIMEOUT_SECONDS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run (default 15)")
    parser.add_argument("--connections", default="1,8,32", help="concurrent connections (users), comma-separated")
    parser.add_argument("--database-url", help="the application's database (default: SQLite in a temporary "
                        "directory); e.g. postgresql://postgres@127.0.0.1:5432/bench, a database for benchmarks only")
    parser.add_argument("--py-spy", type=Path, help="sample the application during the middle e2e run into FILE")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if args.py_spy and not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.connections.split(",")]
    middle = levels[len(levels) // 2]
    texts = questions()
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token, rasa_port, app_port = secrets.token_urlsafe(16), free_port(), free_port()
    rasa_url, app_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{app_port}"
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_SCRIPT)
        rasa = start_rasa(model, "127.0.0.1", rasa_port, token, open(Path(tmp) / "rasa.log", "wb"))
        env = {**os.environ, "RASA_URL": rasa_url, "RASA_TOKEN": token, "BOT_HTTP_PORT": str(app_port),
               "BOT_HTTP_HOST": "127.0.0.1", "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
               "WEB_SECRET": secrets.token_urlsafe(32), "WEB_SECRET_FILE": f"{tmp}/web-secret",
               "TELEGRAM_BOT_TOKEN": "",
               # Each wrk connection is one user writing many messages a second: the per-user
               # limit protects against people doing that, the bench measures the answering.
               "USER_MESSAGES_PER_MINUTE": "1000000"}
        app = subprocess.Popen([sys.executable, "-m", "bot.main"], cwd=PROJECT_ROOT, env=env,
                               stdout=open(Path(tmp) / "app.log", "wb"), stderr=subprocess.STDOUT)
        try:
            wait_until_ready(rasa, rasa_url, token)
            wait_for_app(app_url, app)
            print(f"{len(texts)} questions in {len(set(texts))} variants, {args.duration:.0f} s per run; "
                  f"wrk -t N -c N (one user per connection)", file=sys.stderr)
            targets = [("rasa", rasa_url, f"/model/parse?token={token}"), ("chat", app_url, "/api/chat")]
            for target, url, path in targets:
                wrk(script, url, path, target, texts, 4, WARM_UP_SECONDS)
                for connections in levels:
                    sampler = None
                    if args.py_spy and target == "chat" and connections == middle:
                        sampler = subprocess.Popen(
                            [py_spy, "record", "--pid", str(app.pid), "--duration", f"{args.duration:.0f}",
                             "--rate", str(PY_SPY_RATE), "--format", "raw", "--threads", "--gil", "--output", str(args.py_spy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    figures = wrk(script, url, path, target, texts, connections, args.duration)
                    runs.append(Run(target, connections, figures))
                    print(f"  {target} x{connections}: {runs[-1].throughput:.1f} req/s, p95 {figures['p95']:.0f} ms",
                          file=sys.stderr)
                    if sampler is not None:
                        sampler.wait(timeout=args.duration + 30)
        finally:
            app.terminate()
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
            stop(rasa)
            if app.returncode not in (0, -15):
                print((Path(tmp) / "app.log").read_text(errors="replace")[-3000:], file=sys.stderr)
    print_table(runs)
    if args.py_spy and args.py_spy.exists():
        busy, functions = where_time_goes(args.py_spy, args.duration, PY_SPY_RATE)
        print(f"\nWhere the application's time goes (py-spy over the e2e run at {middle} connections, "
              f"% of the run's wall time; raw stacks in {args.py_spy}):")
        for thread, share in busy.items():
            print(f"{share:>7.1f} %  running Python: {thread}")
        print(f"\n{'incl %':>7}{'self %':>7}  event loop thread (MainThread)")
        for inclusive, own, function in functions:
            print(f"{inclusive:>7.1f}{own:>7.1f}  {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
