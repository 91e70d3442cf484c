"""Settings come from the environment: the defaults run on a developer's machine, and an operator
who mistypes a variable is told which one at start."""

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import PROJECT_ROOT, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from the defaults, whatever the surrounding shell or CI exported."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


def test_defaults_run_locally() -> None:
    settings = load_settings()
    assert settings.bot_http_port == 8080
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    database_file = Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))
    assert database_file.is_absolute()
    assert database_file.parent == PROJECT_ROOT / "var"
    assert settings.rasa_url.startswith("http://")


def test_plain_postgresql_url_gets_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert load_settings().database_url == "postgresql+asyncpg://u@h/db"


def test_plain_sqlite_url_gets_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/bot/bot.db")
    assert load_settings().database_url == "sqlite+aiosqlite:////srv/bot/bot.db"


def test_port_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_HTTP_PORT", "9000")
    assert load_settings().bot_http_port == 9000


def test_rasa_url_loses_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_URL", "https://rasa.example/")
    assert load_settings().rasa_url == "https://rasa.example"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOT_HTTP_PORT", "abc"),
        ("BOT_HTTP_PORT", "70000"),
        ("BOT_HTTP_PORT", "0"),
        ("DATABASE_URL", "mysql://x"),
        ("RASA_URL", "ftp://x"),
        ("RASA_URL", "127.0.0.1:5005"),
    ],
)
def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert variable in str(error.value)


def test_every_invalid_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_HTTP_PORT", "abc")
    monkeypatch.setenv("RASA_URL", "ftp://x")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "BOT_HTTP_PORT" in str(error.value)
    assert "RASA_URL" in str(error.value)


def test_lower_case_variable_is_read_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("bot_http_port", "70000")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "BOT_HTTP_PORT" in str(error.value)


def test_whatsapp_is_off_by_default_and_half_a_configuration_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().channels() == ["web chat"]
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "token")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "secret")
    with pytest.raises(ConfigError) as error:
        load_settings()
    for missing in ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_TEMPLATE_NAME"):
        assert missing in str(error.value)
    assert "WHATSAPP_APP_SECRET," not in str(error.value)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
    monkeypatch.setenv("WHATSAPP_TEMPLATE_NAME", "ki_reply_waiting")
    assert load_settings().channels() == ["web chat", "WhatsApp"]
