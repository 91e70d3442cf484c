"""Start locally what docker-compose.yml starts, read from that file: one Rasa NLU server and
several bot processes (two by default) on one PostgreSQL database, each with the environment
compose gives it; only the addresses are local (127.0.0.1, free ports, the database you name).

    .venv/bin/python -m scripts.run_like_compose --database-url postgresql://postgres@127.0.0.1:5432/wt_deploy

Settings come from `.env` (else `.env.example`), as `docker compose` takes them. A secret the
compose file requires (`${NAME:?…}`) that is empty there gets a random value for this run, the
same in every process. Children are supervised as `make run` does (bot/run.py): restarted after
a growing wait, like compose's `restart: unless-stopped`. Ctrl-C stops them all.
"""

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import yaml

from bot import nlu_model
from bot.rasa_process import rasa_run_args, start_rasa
from bot.run import CANNOT_START, Supervisor
from bot.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


# What a process needs of this machine's environment; a container has its image's equivalents.
_BASE_ENVIRONMENT = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}


class ComposeMismatch(RuntimeError):
    """docker-compose.yml runs something other than what the project runs."""


class MissingVariable(RuntimeError):
    """A `${NAME:?message}` whose variable is unset or empty: compose would refuse to start."""


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of an env file (comments and blank lines skipped), as compose reads them."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def required_variables(text: str) -> set[str]:
    """The variables a compose file requires: `${NAME:?…}` or `${NAME?…}`."""
    return {m["braced"] for m in _VARIABLE.finditer(text) if m["braced"] and m["op"] in (":?", "?")}


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
    `${NAME:?message}`, `${NAME?message}` (MissingVariable)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"] or "", match["arg"]
        present = name in env and (env[name] != "" or not op.startswith(":"))
        if present:
            return env[name]
        if op.endswith("?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op.endswith("-") else ""

    return _VARIABLE.sub(replace, value)


def _interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_all(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(item, env) for key, item in node.items()}
    return node


@dataclass(frozen=True)
class ComposeServices:
    """What docker-compose.yml runs, interpolated: Rasa's arguments after `rasa` and the bot's
    command, environment and health checks."""

    rasa_args: list[str]
    rasa_healthcheck: list[str]
    bot_command: list[str]
    bot_environment: dict[str, str]
    bot_healthcheck: list[str]

    def rasa_option(self, name: str) -> str:
        """The value of `--name value` or `--name=value` in Rasa's arguments."""
        for index, arg in enumerate(self.rasa_args):
            if arg == name:
                return self.rasa_args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
        raise ComposeMismatch(f"Rasa's command in docker-compose.yml has no {name}")


def load_compose(env_file_values: Mapping[str, str], env: Mapping[str, str],
                 compose_file: Path = COMPOSE_FILE) -> ComposeServices:
    """Read docker-compose.yml as compose would with `env` as its interpolation environment and
    `env_file_values` as the contents of the bot's `env_file` (`.env`)."""
    document = _interpolate_all(yaml.safe_load(compose_file.read_text()), env)
    rasa, bot = document["services"]["rasa"], document["services"]["bot"]
    if bot.get("env_file") not in (".env", [".env"]):
        raise ComposeMismatch("the bot's env_file in docker-compose.yml is not .env")
    environment = {name: interpolate(value, env) for name, value in env_file_values.items()}
    bot_env = bot.get("environment", {})
    environment.update(bot_env if isinstance(bot_env, dict) else dict(e.split("=", 1) for e in bot_env))
    services = ComposeServices(
        rasa_args=[str(a) for a in rasa["command"]], rasa_healthcheck=[str(a) for a in rasa["healthcheck"]["test"]],
        bot_command=[str(a) for a in bot["command"]], bot_environment={k: str(v) for k, v in environment.items()},
        bot_healthcheck=[str(a) for a in bot["healthcheck"]["test"]],
    )
    expected = rasa_run_args(services.rasa_option("--model"), services.rasa_option("--interface"),
                             services.rasa_option("--port"), services.rasa_option("--auth-token"))
    if services.rasa_args != expected:
        raise ComposeMismatch(f"docker-compose.yml runs `rasa {' '.join(services.rasa_args)}`, "
                              f"bot/rasa_process.py runs `rasa {' '.join(expected)}`")
    if services.bot_command != ["python", "-m", "bot.main"]:
        raise ComposeMismatch(f"docker-compose.yml runs the bot as {services.bot_command}, not python -m bot.main")
    return services


def new_key() -> str:
    from bot.channel_ids import new_key as fernet_key

    return fernet_key()


def compose_environment(env_file: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The env file's values and compose's interpolation environment (the shell's variables over
    the file). Each secret the compose file requires that is still empty gets a random value in
    both, for this run (and says so)."""
    values = read_env_file(env_file)
    env = {**values, **os.environ}
    for name in sorted(required_variables(COMPOSE_FILE.read_text())):
        if not env.get(name):
            print(f"{name} is empty in {env_file.name}: a random value for this run", file=sys.stderr)
            # Keys of channel ids are Fernet keys (`make id-key`); the other secrets any letters and digits.
            env[name] = values[name] = new_key() if name.startswith("ID_") else secrets.token_hex(24)
    return values, env


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCompose:
    """One Rasa and `replicas` bot processes started as docker-compose.yml starts them. Use as a
    context manager; `bot_urls` and `rasa_url` are where they listen."""

    def __init__(self, database_url: str, replicas: int = 2, env_file: Path | None = None,
                 log_dir: Path | None = None) -> None:
        if env_file is None:
            env_file = PROJECT_ROOT / (".env" if (PROJECT_ROOT / ".env").exists() else ".env.example")
        self.compose = load_compose(*compose_environment(env_file))
        self.database_url = database_url
        self.log_dir = log_dir
        self.rasa_port = free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.bot_ports = [free_port() for _ in range(replicas)]
        self.bot_urls = [f"http://127.0.0.1:{port}" for port in self.bot_ports]
        self.supervisor = Supervisor()
        self._logs: list[IO[bytes]] = []

    def bot_environment(self, replica: int) -> dict[str, str]:
        """The bot's environment from docker-compose.yml, with local addresses in place of the
        containers' (the compose values would bind 0.0.0.0 and name hosts `rasa` and `postgres`).
        Nothing else of this shell's environment reaches it, as none reaches a container."""
        return {**_BASE_ENVIRONMENT, **self.compose.bot_environment, "PYTHONPATH": str(PROJECT_ROOT),
                "BOT_HTTP_HOST": "127.0.0.1", "BOT_HTTP_PORT": str(self.bot_ports[replica]),
                "RASA_URL": self.rasa_url, "RASA_URLS": "",  # one local Rasa, not the replicas .env may name
                "DATABASE_URL": self.database_url}

    def healthcheck(self, service: str, replica: int = 0) -> bool:
        """Run the service's health check from docker-compose.yml here (its port made local; Rasa's on
        Rasa's own Python, as in its image)."""
        if service == "rasa":
            python = nlu_model.RASA.parent / "python"
            test = [str(python) if a == "python" else a for a in self.compose.rasa_healthcheck[1:]]
            test = [str(self.rasa_port) if a == self.compose.rasa_option("--port") else a for a in test]
            env = {**os.environ, "RASA_TOKEN": self.compose.rasa_option("--auth-token")}
        else:
            test = [sys.executable if a == "python" else a for a in self.compose.bot_healthcheck[1:]]
            env = self.bot_environment(replica)
        return subprocess.run(test, cwd=PROJECT_ROOT, env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
                              stderr=subprocess.DEVNULL).returncode == 0

    def _log(self, name: str) -> IO[bytes] | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")
        self._logs.append(log)
        return log

    def start(self, timeout_seconds: float = 300) -> None:
        """Start every process and wait until each passes its health check. ChildCannotStart when
        a bot exits saying it cannot start (a broken configuration or content file)."""
        model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
        token = self.compose.rasa_option("--auth-token")
        rasa_log = self._log("rasa")
        self.supervisor.add("rasa", lambda: start_rasa(model, "127.0.0.1", self.rasa_port, token, rasa_log))
        for replica in range(len(self.bot_ports)):
            self.supervisor.add(f"bot-{replica + 1}", self._bot_starter(replica), fatal_exit_codes=[CANNOT_START])
        self.supervisor.start()
        deadline = time.monotonic() + timeout_seconds
        while not (self.healthcheck("rasa") and all(self.healthcheck("bot", r) for r in range(len(self.bot_ports)))):
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout_seconds:.0f} s")
            self.supervisor.poll()
            time.sleep(0.5)

    def _bot_starter(self, replica: int) -> Callable[[], subprocess.Popen[bytes]]:
        log, argv = self._log(f"bot-{replica + 1}"), [sys.executable, *self.compose.bot_command[1:]]

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=self.bot_environment(replica), stdout=log,
                                    stderr=subprocess.STDOUT if log is not None else None, start_new_session=True)
        return start

    def stop(self) -> None:
        self.supervisor.stop()
        for log in self._logs:
            log.close()

    def __enter__(self) -> "LocalCompose":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="the PostgreSQL database every bot process shares (default: DATABASE_URL)")
    parser.add_argument("--replicas", type=int, default=2, help="bot processes (default 2)")
    parser.add_argument("--env-file", type=Path, help="default: .env, else .env.example")
    args = parser.parse_args(argv[1:])
    if not args.database_url.startswith(("postgresql:", "postgres:", "postgresql+asyncpg:")):
        parser.error("--database-url must be a postgresql:// URL: several processes share it")
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with LocalCompose(args.database_url, args.replicas, args.env_file) as run:
        print(f"Ready: Rasa at {run.rasa_url}; bots at {', '.join(run.bot_urls)}. Stop with Ctrl-C.", flush=True)
        while not stopping:
            run.supervisor.poll()
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
