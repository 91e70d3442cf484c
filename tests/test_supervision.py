"""Supervision (`make run`): children that die are restarted after a growing wait, `stop()` leaves
nothing behind, and while Rasa is away the application answers with the menu."""

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from bot import nlu_model
from bot.language_detection import LanguageGuesser
from bot.rasa_process import start_rasa
from bot.run import Backoff, ChildCannotStart, Supervisor
from bot.settings import PROJECT_ROOT
from tests.conftest import Chat, buttons, free_port, make_settings, start_app, texts


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Launches(list[subprocess.Popen[bytes]]):
    """Every process a start function started, in order."""


def python_child(code: str, launches: Launches) -> Callable[[], subprocess.Popen[bytes]]:
    """A start function for `python -c code` in its own process group, recording each launch."""
    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        launches.append(process)
        return process
    return start


CRASH = "import sys; sys.exit(3)"


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for whoever reaps orphans here."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_crashing_child_is_restarted_after_a_wait_that_doubles_up_to_the_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.run")
    clock, launches = Clock(), Launches()
    supervisor = Supervisor(clock)
    supervisor.add("crasher", python_child(CRASH, launches), Backoff(initial=1, maximum=4, reset_after=60))
    supervisor.start()
    try:
        for restart, delay in enumerate((1, 2, 4, 4), start=1):
            launches[-1].wait()
            supervisor.poll()
            assert caplog.messages[-1] == f"crasher exited with code 3 after 0 s; restarting in {delay} s"
            clock.now += delay - 0.01
            supervisor.poll()
            assert len(launches) == restart, "restarted before its backoff had passed"
            clock.now += 0.01
            supervisor.poll()
            assert len(launches) == restart + 1, "not restarted once its backoff had passed"
            assert caplog.messages[-1] == f"restarting crasher (restart {restart})"
        assert supervisor["crasher"].restarts == 4
    finally:
        supervisor.stop()


def test_the_wait_starts_again_at_one_second_after_a_good_run() -> None:
    clock, launches = Clock(), Launches()
    supervisor = Supervisor(clock)
    supervisor.add("crasher", python_child(CRASH, launches), Backoff(initial=1, maximum=60, reset_after=30))
    supervisor.start()
    try:
        for _ in range(3):  # waits 1, 2, 4
            launches[-1].wait()
            supervisor.poll()
            clock.now = supervisor["crasher"].restart_at or 0
            supervisor.poll()
        clock.now += 30  # the fourth ran for 30 s before it died
        launches[-1].wait()
        supervisor.poll()
        assert supervisor["crasher"].restart_at == clock.now + 1
    finally:
        supervisor.stop()


def test_a_child_that_keeps_crashing_is_not_restarted_faster_than_its_backoff_in_real_time() -> None:
    launches = Launches()
    started: list[float] = []

    def start() -> subprocess.Popen[bytes]:
        started.append(time.monotonic())
        return python_child(CRASH, launches)()

    supervisor = Supervisor()
    supervisor.add("crasher", start, Backoff(initial=0.2, maximum=0.8))
    supervisor.start()
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.01)
    finally:
        supervisor.stop()
    gaps = [later - earlier for earlier, later in zip(started, started[1:])]
    assert len(gaps) >= 3, f"restarted only {len(gaps)} times in 2.5 s"
    for gap, backoff in zip(gaps, (0.2, 0.4, 0.8, 0.8, 0.8)):
        assert backoff <= gap < backoff + 0.3, gaps


def test_stop_ends_every_child_and_what_it_started_and_nothing_is_restarted_after() -> None:
    clock, sleepers, crashers = Clock(), Launches(), Launches()
    supervisor = Supervisor(clock)
    # The sleeper starts a grandchild in its own process group and prints its pid.
    supervisor.add("sleeper", python_child(
        "import subprocess, sys, time;"
        "print(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']).pid, flush=True);"
        "time.sleep(60)", sleepers))
    supervisor.add("crasher", python_child(CRASH, crashers))
    supervisor.start()
    crashers[-1].wait()
    supervisor.poll()  # the crasher's restart is due in a second
    deadline = time.monotonic() + 10
    while not (grandchildren := [int(line) for line in _children_of(sleepers[0].pid)]):
        assert time.monotonic() < deadline, "the sleeper did not start its grandchild"
        time.sleep(0.05)
    supervisor.stop(timeout_seconds=5)
    assert sleepers[0].returncode == -signal.SIGTERM
    deadline = time.monotonic() + 5  # a signal takes a moment to end a process
    while not all(gone(pid) for pid in grandchildren):
        assert time.monotonic() < deadline, "the sleeper's grandchild outlived stop()"
        time.sleep(0.05)
    clock.now += 60
    supervisor.poll()
    assert (len(sleepers), len(crashers)) == (1, 1)


def _children_of(pid: int) -> list[str]:
    return subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.splitlines()


def test_a_child_that_cannot_start_is_not_restarted() -> None:
    clock, launches = Clock(), Launches()
    supervisor = Supervisor(clock)
    supervisor.add("app", python_child("import sys; sys.exit(2)", launches), fatal_exit_codes=[2])
    supervisor.start()
    launches[-1].wait()
    with pytest.raises(ChildCannotStart, match="app exited with code 2"):
        supervisor.poll()
    supervisor.stop()
    clock.now += 60
    supervisor.poll()
    assert len(launches) == 1


async def _until_nlu(
    http: httpx.AsyncClient, supervisor: Supervisor, wanted: str, timeout_seconds: float = 240
) -> None:
    """Let the supervisor work until the application's /healthz reports the NLU as `wanted`."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        supervisor.poll()
        response = await http.get("/healthz")
        assert response.status_code == 200, response.text
        if response.json()["nlu"] == wanted:
            return
        assert time.monotonic() < deadline, f"the NLU was not {wanted} after {timeout_seconds:.0f} s"
        await asyncio.sleep(0.5)


@pytest.mark.rasa
async def test_rasa_killed_the_application_stays_up_the_menu_answers_understanding_resumes_when_rasa_is_back(
    database_url: str, guesser: LanguageGuesser
) -> None:
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    port, token = free_port(), secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{port}"
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    with open(PROJECT_ROOT / "var" / "rasa-supervision-test.log", "wb") as log:
        supervisor = Supervisor()
        supervisor.add("rasa", lambda: start_rasa(model, "127.0.0.1", port, token, log), Backoff(initial=1))
        supervisor.start()
        try:
            app, http = await start_app(make_settings(database_url, url, token), guesser)
            async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
                chat = Chat(http)
                await _until_nlu(http, supervisor, "ok")
                before = await chat.say("Wo ist das CaféO?")
                assert before["topic"] == "cafeo.about" and "Overwegstr" in texts(before)

                rasa = supervisor["rasa"].process
                assert rasa is not None
                os.killpg(rasa.pid, signal.SIGKILL)
                rasa.wait()
                down = await chat.say("Wo ist das CaféO?")
                assert down["topic"] == "nlu_unavailable"
                menu = await chat.press("m")
                assert buttons(down) == buttons(menu) and "t:cafeo.about" in buttons(down)
                health = await http.get("/healthz")
                assert health.status_code == 200
                status = health.json()  # it may say more, e.g. about channels
                assert (status["status"], status["nlu"], status["db"]) == ("ok", "down", "ok")

                await _until_nlu(http, supervisor, "ok")
                assert supervisor["rasa"].restarts == 1
                after = await chat.say("Wo ist das CaféO?")
                assert after["topic"] == "cafeo.about" and "Overwegstr" in texts(after)
        finally:
            supervisor.stop()
