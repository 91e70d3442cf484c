"""The content store: one YAML file per topic under content/topics/, every language side by side.

Files are validated when loaded; a broken file raises ContentError naming the file and the
line of the offending field, so a staff member editing a file knows exactly what to fix.
"""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import ContentError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HANDOFF = "handoff"  # a follow-up that offers a person rather than a topic
OPENING_HOURS_PLACEHOLDER = "{opening_hours}"
_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningHours(_Strict):
    """One weekly time slot, e.g. Thursday 10:00-12:00."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    opens: str = Field(pattern=_TIME)
    closes: str = Field(pattern=_TIME)

    @property
    def weekday_index(self) -> int:
        return WEEKDAYS.index(self.weekday)

    @model_validator(mode="after")
    def _opens_before_closes(self) -> "OpeningHours":
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


class Slot(_Strict):
    """A topic whose answer depends on one entity, e.g. kim.contact on the user's district."""

    entity: str = Field(min_length=1)
    values: dict[str, str] = Field(min_length=1)


class LanguageText(_Strict):
    """A topic in one language."""

    status: Literal["reviewed", "draft"]
    title: str = Field(min_length=1, max_length=40)
    answer: str = Field(min_length=1)
    ask: str = ""
    unknown: str = ""
    by_value: dict[str, str] = {}


class Topic(_Strict):
    """One topic file."""

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    intents: list[str] = Field(min_length=1)
    menu: int | None = None
    source: str = Field(min_length=1)
    reviewed: dt.date
    follow_ups: list[str] = []
    opening_hours: list[OpeningHours] = []
    slot: Slot | None = None
    texts: dict[str, LanguageText] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Topic":
        for language, text in self.texts.items():
            for field_name in ("answer", "ask", "unknown", *(f"by_value.{v}" for v in text.by_value)):
                value = _get(text, field_name)
                for placeholder in _PLACEHOLDER.findall(value):
                    if placeholder != OPENING_HOURS_PLACEHOLDER or not self.opening_hours:
                        raise ValueError(
                            f"texts.{language}.{field_name}: unknown placeholder {placeholder}"
                            " (only {opening_hours}, and only with opening_hours)"
                        )
            if self.slot is not None:
                missing = set(self.slot.values) - set(text.by_value)
                if missing or not text.ask or not text.unknown:
                    raise ValueError(
                        f"texts.{language}: a topic with a slot needs ask, unknown and by_value"
                        f" for {sorted(self.slot.values)} (missing: {sorted(missing) or 'ask/unknown'})"
                    )
        return self


def _get(text: LanguageText, dotted: str) -> str:
    if dotted.startswith("by_value."):
        return text.by_value[dotted.split(".", 1)[1]]
    return str(getattr(text, dotted))


@dataclass(frozen=True)
class ContentStore:
    """All topics, looked up by id or by intent."""

    topics: dict[str, Topic]
    by_intent: dict[str, Topic]

    def menu(self) -> list[Topic]:
        """Topics shown in the main menu, in their menu order."""
        return sorted((t for t in self.topics.values() if t.menu is not None), key=lambda t: t.menu or 0)

    def languages(self) -> set[str]:
        """Languages every topic is written in."""
        sets = [set(t.texts) for t in self.topics.values()]
        return set.intersection(*sets) if sets else set()


def _line_index(node: yaml.Node, path: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based line of every mapping key and sequence item under `node`."""
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            _line_index(value_node, child, index)
            index[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, path + (position,), index)


def _line_for(loc: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> int:
    """The line of the deepest part of `loc` that exists in the file."""
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while path and path not in index:
        path = path[:-1]
    return index.get(path, 1)


def load_topic(path: Path) -> Topic:
    """Read and validate one topic file; ContentError says file:line what is wrong."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ContentError(f"{path}:{line}: not valid YAML: {error}") from error
    if node is None or not isinstance(data, dict):
        raise ContentError(f"{path}:1: a topic file must be a mapping with id, intents, texts...")
    index: dict[tuple[Any, ...], int] = {}
    _line_index(node, (), index)
    try:
        topic = Topic.model_validate(data)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            loc = tuple(p for p in problem["loc"] if p not in ("function-after[_consistent(), Topic]",))
            problems.append(f"{path}:{_line_for(loc, index)}: {'.'.join(map(str, loc)) or 'topic'}: {problem['msg']}")
        raise ContentError("\n".join(problems)) from error
    if path.stem != topic.id:
        raise ContentError(f"{path}:{index.get(('id',), 1)}: id {topic.id!r} must match the file name")
    return topic


def load_content(content_dir: Path, languages: set[str]) -> ContentStore:
    """Load every topic and check the store as a whole: all languages, unique intents, valid links."""
    files = sorted((content_dir / "topics").glob("*.yml"))
    if not files:
        raise ContentError(f"{content_dir / 'topics'}: no topic files (*.yml)")
    topics: dict[str, Topic] = {}
    by_intent: dict[str, Topic] = {}
    problems: list[str] = []
    for path in files:
        try:
            topic = load_topic(path)
        except ContentError as error:
            problems.append(str(error))
            continue
        missing = languages - set(topic.texts)
        if missing:
            problems.append(f"{path}:1: texts lacks languages {sorted(missing)}")
        for intent in topic.intents:
            if intent in by_intent:
                problems.append(f"{path}:1: intent {intent!r} already leads to {by_intent[intent].id}")
            by_intent[intent] = topic
        topics[topic.id] = topic
    for topic in topics.values():
        for follow_up in topic.follow_ups:
            if follow_up != HANDOFF and follow_up not in topics:
                problems.append(f"{content_dir / 'topics' / (topic.id + '.yml')}:1: follow_up {follow_up!r} is no topic")
    if problems:
        raise ContentError("\n".join(problems))
    return ContentStore(topics=topics, by_intent=by_intent)
