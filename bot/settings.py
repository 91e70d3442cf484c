"""Typed settings read from the environment, with defaults that run on a developer's machine."""

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the application; names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    bot_http_host: str = "127.0.0.1"
    bot_http_port: int = Field(default=8080, ge=1, le=65535)
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'bot.db'}"
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa servers, comma-separated: each text goes to the least busy one, and to another
    # when one is down (bot/nlu.py). Empty: RASA_URL alone.
    rasa_urls: str = ""
    # Rasa processes `make run` starts, on RASA_URL's port and the ports after it (each ~580 MB).
    rasa_processes: int = Field(default=1, ge=1, le=8)
    rasa_token: str = ""
    nlu_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    content_dir: Path = PROJECT_ROOT / "content"
    locales_dir: Path = PROJECT_ROOT / "locales"
    default_language: str = "de"
    # Confidence above which a classified topic is answered; between the two the bot asks
    # which topic was meant. Chosen on tests/nlu/holdout.yml (see README, "Thresholds").
    answer_threshold: float = Field(default=0.45, ge=0, le=1)
    clarify_threshold: float = Field(default=0.2, ge=0, le=1)
    # The NLU's crisis intent counts as a crisis from this confidence on (beside the curated
    # expressions, which always count); chosen on ordinary messages (README, "Crisis path").
    # Above 1: the expressions alone.
    crisis_nlu_threshold: float = Field(default=0.9, gt=0, le=1.01)
    # Languages the detector weighs against ours, so that e.g. Polish is recognised as
    # unsupported instead of being answered in Romanian (ISO 639-1 codes, comma-separated).
    contrast_languages: str = "fr,es,it,pl,bg,sq,sr,hr,bs,pt,nl,el,hu,so,vi"
    # Telegram: off when no token is set. TELEGRAM_API_BASE_URL has PTB's base_url meaning:
    # the token and the method are appended (a local fake of the Bot API in tests).
    telegram_bot_token: str = ""
    telegram_mode: Literal["webhook", "polling"] = "polling"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_poll_timeout: int = Field(default=25, ge=0, le=60)
    # WhatsApp Business Cloud API: on when the access token is set (then the others are needed).
    # WHATSAPP_API_BASE_URL is the Graph API's versioned base (a local fake in tests).
    whatsapp_access_token: str = ""
    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_api_base_url: str = "https://graph.facebook.com/v21.0"
    # The approved template sent when a reply is due outside the 24-hour window ("there is a
    # reply for you, write to us to read it"), and its language code as approved.
    whatsapp_template_name: str = ""
    whatsapp_template_language: str = "de"
    # The web app's public address (https://chat.example.org): WhatsApp replies link calendar files
    # (/calendar/<topic>.ics) under it; empty: no calendar link on WhatsApp.
    public_url: str = ""
    # The web chat's cookie is signed with this key; every process must share it. Empty: a
    # key is made once and kept in WEB_SECRET_FILE.
    web_secret: str = ""
    web_secret_file: Path = PROJECT_ROOT / "var" / "web-secret"
    # Channel user ids at rest (bot/channel_ids.py): ID_KEYS, Fernet keys newest first (comma-
    # separated), encrypt the ids needed to send; ID_HASH_KEY keys the hash every table finds a
    # user by. Every process must share them; empty: keys made once and kept in ID_KEYS_FILE
    # (and ID_KEYS_FILE.hash). ID_HASH_KEY_PREVIOUS only while `make rotate-id-keys` changes it.
    id_keys: str = ""
    id_hash_key: str = ""
    id_hash_key_previous: str = ""
    id_keys_file: Path = PROJECT_ROOT / "var" / "id-keys"
    # Mark the cookie Secure (only sent over https) also when TLS ends at a proxy before us.
    web_cookie_secure: bool = False
    # A message whose turn fails is tried this often (backoff doubling from the first wait),
    # then given up with an apology to the user.
    inbound_max_attempts: int = Field(default=3, ge=1, le=20)
    inbound_retry_seconds: float = Field(default=2.0, gt=0, le=600)
    # Messages one user may send in a minute; beyond that they are kept but not answered, and
    # the user is asked once a minute to slow down.
    user_messages_per_minute: int = Field(default=20, ge=1, le=1_000_000)
    # Minutes after which the topic of the previous turn no longer resolves follow-ups.
    context_minutes: int = Field(default=30, ge=1)
    # Handoff: days a closed case and its transcript are kept (said in the consent question).
    case_retention_days: int = Field(default=90, ge=1, le=3650)
    # E-mail to staff about new cases: off without SMTP_HOST. SMTP_RECIPIENTS comma-separated.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "chatbot@localhost"
    smtp_recipients: str = ""
    # The console's address as staff open it (linked from the e-mail).
    staff_console_url: str = "http://127.0.0.1:8080/staff"
    # Message texts (and finished inbox and outbox rows) older than this are deleted, checked at
    # start and every RETENTION_INTERVAL_MINUTES (bot/retention.py).
    message_retention_days: int = Field(default=30, ge=1)
    retention_interval_minutes: float = Field(default=60, gt=0)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain SQLAlchemy URLs and pick the async driver this application uses."""
        if value.startswith("sqlite:"):
            return "sqlite+aiosqlite:" + value[len("sqlite:") :]
        if value.startswith(("postgresql:", "postgres:")):
            return "postgresql+asyncpg:" + value.split(":", 1)[1]
        if value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            return value
        raise ValueError("use a sqlite:// or postgresql:// URL")

    @field_validator("contrast_languages")
    @classmethod
    def _known_languages(cls, value: str) -> str:
        from lingua import IsoCode639_1

        unknown = [c.strip() for c in value.split(",") if c.strip() and not hasattr(IsoCode639_1, c.strip().upper())]
        if unknown:
            raise ValueError(f"unknown ISO 639-1 codes: {', '.join(unknown)}")
        return value

    @field_validator("rasa_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("rasa_urls")
    @classmethod
    def _http_urls(cls, value: str) -> str:
        urls = [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
        wrong = [url for url in urls if not url.startswith(("http://", "https://"))]
        if wrong:
            raise ValueError(f"each URL must start with http:// or https://: {', '.join(wrong)}")
        if len(set(urls)) < len(urls):
            raise ValueError("a URL is named twice")
        return ",".join(urls)

    @model_validator(mode="after")
    def _rasa_urls_or_processes(self) -> "Settings":
        if self.rasa_urls and self.rasa_processes > 1:
            raise ValueError("set RASA_URLS (every server named) or RASA_PROCESSES (servers `make run` "
                             "starts on RASA_URL's port and the next ones), not both")
        return self

    @model_validator(mode="after")
    def _smtp_complete(self) -> "Settings":
        if self.smtp_host and not self.smtp_recipient_list():
            raise ValueError("SMTP_RECIPIENTS must name at least one address when SMTP_HOST is set")
        return self

    @model_validator(mode="after")
    def _telegram_webhook_complete(self) -> "Settings":
        if self.telegram_bot_token and self.telegram_mode == "webhook":
            if not self.telegram_webhook_url.startswith("https://") and not self.telegram_webhook_url.startswith("http://"):
                raise ValueError("TELEGRAM_WEBHOOK_URL must be the public https:// URL of /telegram/webhook")
            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", self.telegram_webhook_secret):
                raise ValueError("TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z a-z 0-9 _ -")
        return self

    @model_validator(mode="after")
    def _whatsapp_complete(self) -> "Settings":
        if self.whatsapp_access_token:
            missing = [name.upper() for name in ("whatsapp_app_secret", "whatsapp_verify_token",
                                                 "whatsapp_phone_number_id", "whatsapp_template_name")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"WhatsApp needs {', '.join(missing)} as well as WHATSAPP_ACCESS_TOKEN")
            if not self.whatsapp_api_base_url.startswith(("https://", "http://")):
                raise ValueError("WHATSAPP_API_BASE_URL must be an http(s):// URL such as https://graph.facebook.com/v21.0")
        if self.public_url and not self.public_url.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_URL must be the web app's public http(s):// address, e.g. https://chat.example.org")
        return self

    def channels(self) -> list[str]:
        """The channels this configuration turns on, for `make run` to print."""
        on = ["web chat"]
        if self.telegram_bot_token:
            on.append(f"Telegram ({self.telegram_mode})")
        if self.whatsapp_access_token:
            on.append("WhatsApp")
        return on

    def rasa_url_list(self) -> list[str]:
        """The Rasa servers the application asks: RASA_URLS, or RASA_URL alone."""
        return self.rasa_urls.split(",") if self.rasa_urls else [self.rasa_url]

    def smtp_recipient_list(self) -> list[str]:
        return [address.strip() for address in self.smtp_recipients.split(",") if address.strip()]

    def contrast_language_list(self) -> list[str]:
        return [code.strip() for code in self.contrast_languages.split(",") if code.strip()]


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path`, made with `make` on first use (readable by us only); several
    processes starting together share the first one written."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(make())
        except FileExistsError:
            pass  # another process made it first
    return path.read_text().strip()


def load_settings() -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from error
