"""What every action receives (Turn) and returns (ActionResult), and the buttons they share."""

import datetime as dt
from dataclasses import dataclass, field

from bot.content import ContentStore
from bot.i18n import Language
from bot.messages import Button, Reply

# Button payloads: short (Telegram allows 64 bytes) and channel-independent.
MENU = "m"
LANGUAGES = "l"
HANDOFF = "h"
TOPIC_PREFIX = "t:"  # t:<topic id>
VALUE_PREFIX = "v:"  # v:<topic id>:<slot value>, empty value: "I don't know"
LANGUAGE_PREFIX = "l:"  # l:<language code>
GERMAN_PREFIX = "d:"  # d:<topic id>: the German text of a topic whose translation is outdated


@dataclass(frozen=True)
class Turn:
    """The context of one answer: the user's language, the content and all languages."""

    language: Language
    content: ContentStore
    languages: dict[str, Language]
    # The moment of the answer, for times computed from schedules ("is it on now?").
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    def _(self, message: str) -> str:
        return self.language.gettext(message)


@dataclass(frozen=True)
class ActionResult:
    """Replies to send and the dialogue state to keep; `topic` labels the answer in logs and API."""

    topic: str
    replies: tuple[Reply, ...]
    context_topic: str | None = None
    awaiting_slot: str | None = None
    handoff: bool = False
    set_language: str | None = None
    # A district the user chose or named (kept on the user; a handoff case carries it to staff).
    district: str | None = None


def topic_button(turn: Turn, topic_id: str) -> Button:
    text = turn.content.topics[topic_id].texts[turn.language.code]
    return Button(text.title, TOPIC_PREFIX + topic_id, text.short_title)


def person_button(turn: Turn) -> Button:
    short = turn.language.pgettext("button, at most 20 characters", "Talk to a person")
    return Button(turn._("Talk to a person"), HANDOFF, short)


def menu_button(turn: Turn) -> Button:
    return Button(turn._("Main menu"), MENU)


def language_buttons(turn: Turn) -> tuple[Button, ...]:
    return tuple(Button(lang.native_name, LANGUAGE_PREFIX + code) for code, lang in turn.languages.items())


def menu_buttons(turn: Turn) -> tuple[Button, ...]:
    """Every menu topic, then a person, then the language choice."""
    topics = tuple(topic_button(turn, topic.id) for topic in turn.content.menu())
    return topics + (person_button(turn), Button(turn._("Language"), LANGUAGES))
