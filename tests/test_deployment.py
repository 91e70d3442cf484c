"""docker-compose.yml and the Dockerfiles, kept honest without a Docker engine: the compose file is
valid against the Compose Specification, runs the project's own entry points, commands and health
checks, names only variables bot/settings.py reads (and .env.example names all of them), and the
images copy what the application needs. The last test starts the same processes locally
(scripts/run_like_compose.py): one Rasa and two bot processes sharing one PostgreSQL database."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jsonschema
import pytest
import yaml

from bot import healthcheck, nlu_model
from bot.rasa_process import rasa_run_args
from bot.settings import PROJECT_ROOT, Settings
from scripts.run_like_compose import ComposeMismatch, LocalCompose, compose_environment, load_compose
from tests.conftest import Chat, users

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
SCHEMA = PROJECT_ROOT / "tests" / "data" / "compose" / "compose-spec.json"
# The official postgres image's own variables (docker-compose.yml's `postgres` service).
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}
_VARIABLE_LINE = re.compile(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$")
_INTERPOLATED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def services() -> Any:
    return load_compose(*compose_environment(ENV_EXAMPLE))


def settings_variables() -> set[str]:
    """Every environment variable the settings read: its fields, upper-cased (no prefix)."""
    assert Settings.model_config.get("env_prefix") == ""
    return {name.upper() for name in Settings.model_fields}


def env_example_variables() -> dict[str, str]:
    """`NAME=value` and commented-out `# NAME=value` lines of .env.example."""
    return {m[1]: m[2] for line in ENV_EXAMPLE.read_text().splitlines() if (m := _VARIABLE_LINE.match(line))}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip()]


def copied(path: Path) -> set[str]:
    """Every source a Dockerfile COPYs, as written (`bot/`, `alembic.ini`)."""
    return {source for instruction, args in dockerfile_instructions(path) if instruction == "COPY"
            for source in args.split()[:-1] if not source.startswith("--")}


# --- The compose file's shape ------------------------------------------------------------------

def compose_validator() -> jsonschema.Draft7Validator:
    """The schema says draft-07 (as `https://json-schema.org/draft-07/schema`, without the `#`
    jsonschema looks for); it is a valid draft-07 schema."""
    schema = json.loads(SCHEMA.read_text())
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    validator = compose_validator()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_rejects_what_compose_would_reject() -> None:
    """The vendored schema is strict enough to catch a misspelt key and a wrong type."""
    validator = compose_validator()
    broken = compose()
    broken["services"]["bot"]["restarts"] = "always"
    broken["services"]["rasa"]["healthcheck"]["retries"] = ["3"]
    assert len(list(validator.iter_errors(broken))) == 2


def test_every_service_has_a_health_check_and_a_restart_policy() -> None:
    for name, service in compose()["services"].items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") in ("always", "unless-stopped"), name


def test_rasa_and_postgres_are_only_on_an_internal_network_and_the_bot_scales() -> None:
    document = compose()
    networks, service = document["networks"], document["services"]
    for name in ("rasa", "postgres"):
        assert service[name]["networks"] and all(networks[n].get("internal") is True for n in service[name]["networks"]), name
        assert "ports" not in service[name], name
    # `--scale bot=3`: no host port, no container name on the bot; the proxy publishes one port.
    assert "ports" not in service["bot"] and "container_name" not in service["bot"]
    assert set(service["proxy"]["networks"]) & set(service["bot"]["networks"])
    volume = service["postgres"]["volumes"][0].split(":")
    assert volume[0] in document["volumes"] and volume[1] == "/var/lib/postgresql/data"


# --- Commands and health checks: what the project runs ----------------------------------------

def test_rasa_is_served_with_the_flags_the_project_uses_on_the_model_its_image_trains() -> None:
    run = services()
    token = run.rasa_option("--auth-token")
    assert run.rasa_args == rasa_run_args("/app/models", "0.0.0.0", run.rasa_option("--port"), token)
    assert compose()["services"]["rasa"]["command"][-1] == "--auth-token=${RASA_TOKEN:?set RASA_TOKEN in .env}"
    # The image trains with bot.nlu_model in /app, which writes to /app/models.
    rasa_image = dockerfile_instructions(PROJECT_ROOT / "docker" / "rasa.Dockerfile")
    assert ("WORKDIR", "/app") in rasa_image
    assert any(i == "RUN" and a.startswith("python -m bot.nlu_model train") for i, a in rasa_image)
    assert nlu_model.MODELS.relative_to(nlu_model.ROOT) == Path("models")
    assert "RASA_VENV=/opt/venv" in " ".join(a for i, a in rasa_image if i == "ENV").split()


def test_the_bot_runs_the_entry_point_make_run_starts() -> None:
    run = services()
    assert run.bot_command == ["python", "-m", "bot.main"]
    assert '[sys.executable, "-m", "bot.main"]' in (PROJECT_ROOT / "bot" / "run.py").read_text()
    cmd = [a for i, a in dockerfile_instructions(PROJECT_ROOT / "Dockerfile") if i == "CMD"]
    assert [json.loads(c) for c in cmd] == [run.bot_command]


def test_health_checks_are_the_projects_on_the_ports_the_services_listen_on() -> None:
    run, document = services(), compose()
    assert run.rasa_healthcheck == ["CMD", "python", "-m", "bot.healthcheck", "rasa", run.rasa_option("--port")]
    assert run.bot_healthcheck == ["CMD", "python", "-m", "bot.healthcheck", "bot"]
    # The bot's check reads BOT_HTTP_PORT, the variable the application listens on, with its default.
    assert healthcheck.DEFAULT_BOT_HTTP_PORT == str(Settings.model_fields["bot_http_port"].default)
    port = run.bot_environment["BOT_HTTP_PORT"]
    # The proxy forwards to every `bot` replica on that port, and publishes its own listening port.
    nginx = (PROJECT_ROOT / "docker" / "nginx.conf").read_text()
    assert f"http://bot:{port};" in nginx and "resolver 127.0.0.11" in nginx
    listen = re.search(r"listen (\d+);", nginx)
    assert listen and document["services"]["proxy"]["ports"] == [f"127.0.0.1:8080:{listen[1]}"]
    assert f"http://127.0.0.1:{listen[1]}/healthz" in document["services"]["proxy"]["healthcheck"]["test"]
    postgres = document["services"]["postgres"]
    assert postgres["healthcheck"]["test"] == [
        "CMD-SHELL", f"pg_isready -U {postgres['environment']['POSTGRES_USER']} -d {postgres['environment']['POSTGRES_DB']}"]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)")
def test_nginx_accepts_the_proxy_configuration(tmp_path: Path) -> None:
    """`nginx -t` on docker/nginx.conf (Debian's nginx here; the image has nginx 1.27)."""
    checked = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(PROJECT_ROOT / "docker" / "nginx.conf"),
                              "-g", f"pid {tmp_path / 'nginx.pid'}; error_log stderr;"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_bot_is_wired_to_the_rasa_and_postgres_services() -> None:
    run, document = services(), compose()
    env, postgres = run.bot_environment, document["services"]["postgres"]["environment"]
    rasa = urlparse(env["RASA_URL"])
    assert (rasa.hostname, str(rasa.port)) == ("rasa", run.rasa_option("--port"))
    assert env["RASA_TOKEN"] == run.rasa_option("--auth-token")
    database = urlparse(env["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgresql", "postgres", 5432)
    assert (database.username, database.path) == (postgres["POSTGRES_USER"], f"/{postgres['POSTGRES_DB']}")
    assert "${POSTGRES_PASSWORD" in document["services"]["bot"]["environment"]["DATABASE_URL"]
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    assert env["BOT_HTTP_HOST"] == "0.0.0.0"
    Settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})  # valid as a whole


def test_rasa_urls_in_env_example_name_the_replicas_compose_makes_when_rasa_is_scaled() -> None:
    """`--scale rasa=2` names the containers <project>-rasa-1 and -2; RASA_URLS in .env.example
    names those on Rasa's port, and reaches the bot from .env (compose sets only RASA_URL)."""
    run, document = services(), compose()
    example = Settings(rasa_urls=env_example_variables()["RASA_URLS"]).rasa_url_list()
    assert [(urlparse(url).hostname, str(urlparse(url).port)) for url in example] == [
        (f"{document['name']}-rasa-{n}", run.rasa_option("--port")) for n in (1, 2)]
    assert "container_name" not in document["services"]["rasa"]  # a fixed name cannot be scaled
    assert document["services"]["bot"]["env_file"] == ".env"
    assert "RASA_URLS" not in document["services"]["bot"]["environment"]


def test_load_compose_refuses_a_rasa_command_that_is_not_the_projects(tmp_path: Path) -> None:
    document = compose()
    document["services"]["rasa"]["command"].remove("--enable-api")
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(document))
    values, env = compose_environment(ENV_EXAMPLE)
    with pytest.raises(ComposeMismatch, match="bot/rasa_process.py runs"):
        load_compose(values, env, tmp_path / "docker-compose.yml")


# --- Variables: the settings', all of them, and no others ---------------------------------------

def test_every_variable_the_bot_gets_is_one_the_settings_read() -> None:
    document = compose()
    bot_environment = set(document["services"]["bot"]["environment"])
    assert bot_environment <= settings_variables(), bot_environment - settings_variables()
    assert set(document["services"]["rasa"]["environment"]) <= settings_variables()
    assert set(document["services"]["postgres"]["environment"]) <= POSTGRES_IMAGE_VARIABLES


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    listed = set(env_example_variables())
    assert settings_variables() - listed == set(), "settings missing from .env.example"
    assert listed - settings_variables() - POSTGRES_IMAGE_VARIABLES == set(), ".env.example names unknown variables"
    interpolated = set(_INTERPOLATED.findall(COMPOSE.read_text()))
    assert interpolated <= listed, "docker-compose.yml interpolates variables .env.example does not list"


def test_every_variable_in_env_example_has_a_comment() -> None:
    explained = False
    for line in ENV_EXAMPLE.read_text().splitlines():
        if _VARIABLE_LINE.match(line):
            assert explained, f".env.example: no comment before {line!r}"
        elif line.startswith("#") and not line.startswith("# ---"):
            explained = True
        elif not line.strip() or line.startswith("# ---"):
            explained = False


def test_the_values_env_example_sets_are_valid_settings() -> None:
    values = {k.lower(): v for k, v in env_example_variables().items()
              if k.lower() in Settings.model_fields and v and "$" not in v}
    Settings(**values)


# --- The images -------------------------------------------------------------------------------

def test_the_bot_image_copies_what_the_application_reads_and_compiles_the_catalogs() -> None:
    dockerfile = PROJECT_ROOT / "Dockerfile"
    instructions = dockerfile_instructions(dockerfile)
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert {"requirements.txt", "alembic.ini", "migrations/", "content/", "locales/", "actions/", "bot/"} <= copied(dockerfile)
    defaults = Settings()
    assert {defaults.content_dir.relative_to(PROJECT_ROOT), defaults.locales_dir.relative_to(PROJECT_ROOT)} == {
        Path("content"), Path("locales")}
    assert ("RUN", "pip install -r requirements.txt") in instructions
    # The catalogs compiled as `make i18n-compile` compiles them.
    make = re.search(r"^i18n-compile:.*\n\t@?\.venv/bin/(pybabel [^>\n]*?)\s*(>|$)",
                     (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert make and ("RUN", make[1]) in instructions
    users_ = [a for i, a in instructions if i == "USER"]
    assert users_ and users_[-1] not in ("root", "0")


def _bot_imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    return {f"bot/{node.module.split('.')[1]}.py" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot.")}


def test_the_rasa_image_has_the_normaliser_its_pipeline_names_and_every_module_it_imports() -> None:
    dockerfile = PROJECT_ROOT / "docker" / "rasa.Dockerfile"
    instructions = dockerfile_instructions(dockerfile)
    rasa_version = re.search(r"^rasa==(\S+)$", (PROJECT_ROOT / "requirements-rasa.txt").read_text(), re.M)
    assert rasa_version and instructions[0] == ("FROM", f"rasa/rasa:{rasa_version[1]}")
    sources = copied(dockerfile)
    files = {s for s in sources if not s.endswith("/")}
    assert {"nlu_data/", "requirements-rasa.txt"} <= sources
    assert "bot.rasa_normalizer.TextNormalizer" in (PROJECT_ROOT / "nlu_data" / "config.yml").read_text()
    needed = {str(p.relative_to(PROJECT_ROOT)) for p in nlu_model.NORMALIZER} | {
        "bot/__init__.py", "bot/nlu_model.py", "bot/healthcheck.py"}
    for module in list(needed):
        needed |= _bot_imports(PROJECT_ROOT / module)
    assert needed <= files, needed - files
    assert "PYTHONPATH=/app" in " ".join(a for i, a in instructions if i == "ENV").split()
    users_ = [a for i, a in instructions if i == "USER"]
    assert users_[-1] not in ("root", "0")


def test_secrets_and_local_state_stay_out_of_the_images() -> None:
    ignored = {line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", ".venv-rasa", "models", "var", ".git"} <= ignored


# --- The same processes, started here ---------------------------------------------------------

@pytest.mark.rasa
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="two processes share PostgreSQL: set TEST_DATABASE_URL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_bot_processes_started_like_compose_answer_from_one_database(database_url: str) -> None:
    with LocalCompose(database_url, replicas=2, env_file=ENV_EXAMPLE,
                      log_dir=PROJECT_ROOT / "var" / "run-like-compose") as run:
        assert len(run.bot_urls) == 2 and run.healthcheck("rasa")
        async with httpx.AsyncClient(base_url=run.bot_urls[0]) as first, \
                httpx.AsyncClient(base_url=run.bot_urls[1]) as second:
            for client in (first, second):
                health = (await client.get("/healthz")).json()
                assert (health["db"], health["nlu"]) == ("ok", "ok"), health
                assert run.healthcheck("bot", run.bot_urls.index(str(client.base_url).rstrip("/")))

            chat = Chat(first, "amira")
            body = await chat.say("gibt es eine sprechstunde nur fuer frauen im cafeo")
            assert body["topic"] == "cafeo.women"
            chat.client = second  # the same browser, its next request served by the other process
            history = (await chat.request("GET", "/api/history")).json()["messages"]
            assert [m["text"] for m in history if m["direction"] == "in"] == [
                "gibt es eine sprechstunde nur fuer frauen im cafeo"]
            body = await chat.say("ich suche einen deutschkurs in herne")
            assert body["topic"] and body["topic"].startswith("courses."), body
        assert len(await users(database_url)) == 1  # one user, known to both processes

        # The health checks fail when what they check is not there.
        wrong_token = subprocess.run(
            [str(nlu_model.RASA.parent / "python"), "-m", "bot.healthcheck", "rasa", str(run.rasa_port)],
            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TOKEN": "wrong"},
            capture_output=True)
        assert wrong_token.returncode == 1
        nobody = subprocess.run([sys.executable, "-m", "bot.healthcheck", "bot"], cwd=PROJECT_ROOT,
                                env={**os.environ, "BOT_HTTP_PORT": "9"}, capture_output=True)
        assert nobody.returncode == 1
