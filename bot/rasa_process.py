"""Start a Rasa NLU server process on a trained model and wait until it has loaded it."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from bot.healthcheck import rasa_ready
from bot.nlu_model import RASA
from bot.settings import PROJECT_ROOT


def rasa_run_args(model: Path | str, host: str, port: int | str, token: str) -> list[str]:
    """The arguments after `rasa` that serve the NLU model; docker-compose.yml gives the same."""
    return ["run", "--enable-api", "--model", str(model), "--interface", host, "--port", str(port),
            f"--auth-token={token}"]  # one argument: a token may start with "-"


def start_rasa(model: Path, host: str, port: int, token: str, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """`rasa run --enable-api` in its own process group, bound to `host`, with an auth token."""
    return subprocess.Popen(
        [str(RASA), *rasa_run_args(model, host, port, token)],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=log, stderr=subprocess.STDOUT if log is not None else None, start_new_session=True,
    )


def wait_until_ready(process: subprocess.Popen[bytes], url: str, token: str, timeout_seconds: float = 240) -> None:
    """Poll /status until a model is loaded; RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the Rasa server exited with code {process.returncode}")
        if rasa_ready(url, token):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Rasa server was not ready after {timeout_seconds:.0f} s")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes], timeout_seconds: float = 20) -> None:
    """SIGTERM the server's process group, SIGKILL it after the timeout; nothing of it is left."""
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        pass
    signal_group(process, signal.SIGKILL)
    process.wait()


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal a child started with `start_new_session` and everything it started; gone is fine."""
    try:
        os.killpg(process.pid, signum)  # its pid is its group's id
    except ProcessLookupError:
        pass
