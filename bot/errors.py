"""The application's errors, in one place.

BotError
├── ConfigError          a setting is missing or invalid; raised at start, names the variable
├── ContentError         a content file breaks the schema; names the file and line
├── NluUnavailable       the Rasa server did not answer in time or answered garbage
└── BadRequest           a channel request is malformed; carries the message for the client
"""


class BotError(Exception):
    """Base of every error the application raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or invalid."""


class ContentError(BotError):
    """A content file is invalid; the message names the file and line."""


class NluUnavailable(BotError):
    """The NLU server could not be asked (down, slow, or an unexpected answer)."""


class BadRequest(BotError):
    """A request from a channel is malformed."""
