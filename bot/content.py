"""The content store: one YAML file per topic under content/topics/, every language side by side.

Files are validated when loaded; a broken file raises ContentError naming the file and the
line of the offending field, so a staff member editing a file knows exactly what to fix.
"""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.crisis import CrisisGuide, load_crisis
from bot.errors import ContentError
from bot.evidence import Concepts, load_concepts
from bot.words import Words, load_words, with_service_words
from bot.content_files import SAFE_LOADER, parsed_once

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HANDOFF = "handoff"  # a follow-up that offers a person rather than a topic
SOURCE_LANGUAGE = "de"  # staff write German; every other text is a translation of it
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


class PlaceField(_Strict):
    """Where a topic's service is. Coordinates only from staff (the report gives none)."""

    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_or_neither(self) -> "PlaceField":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class ScheduleException(_Strict):
    """A day (or the days `date` to `until`) that differs from the weekly slots: closed, or open
    at other times (`opens`/`closes`), e.g. {date: 2026-12-24, closed: true}."""

    date: dt.date
    until: dt.date | None = None
    closed: bool = False
    opens: str | None = Field(default=None, pattern=_TIME)
    closes: str | None = Field(default=None, pattern=_TIME)

    @model_validator(mode="after")
    def _closed_or_other_times(self) -> "ScheduleException":
        if self.until is not None and self.until < self.date:
            raise ValueError(f"until ({self.until}) must not be before date ({self.date})")
        if self.closed == (self.opens is not None or self.closes is not None):
            raise ValueError("give either `closed: true` or both `opens` and `closes`")
        if not self.closed and (self.opens is None or self.closes is None or self.opens >= self.closes):
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.date <= day <= (self.until or self.date)


class Schedule(_Strict):
    """What the bot may compute from a topic's `opening_hours` (the weekly slots, Europe/Berlin):
    the date the facts are from, days that differ, and whether NRW public holidays are closed."""

    as_of: int = Field(ge=2000, le=2100)  # the year the facts are from (2023: the report), said with every computed time
    exceptions: list[ScheduleException] = []
    closed_on_public_holidays: bool = True
    calendar: bool = False  # offer the slots as an .ics calendar file


class Slot(_Strict):
    """A topic whose answer depends on one entity, e.g. kim.contact on the user's district."""

    entity: str = Field(min_length=1)
    values: dict[str, str] = Field(min_length=1)


class LanguageText(_Strict):
    """A topic in one language."""

    status: Literal["reviewed", "draft"]
    title: str = Field(min_length=1, max_length=40)
    # The title in at most 20 characters, for WhatsApp's reply buttons; needed when `title` is
    # longer (tests/test_whatsapp_titles.py). Written, never cut.
    short_title: str = Field(default="", max_length=20)
    answer: str = Field(min_length=1)
    ask: str = ""
    unknown: str = ""
    by_value: dict[str, str] = {}
    # A translation's fingerprint of the German text it was made from (Topic.fingerprint): when
    # the German text changes, the translation is `outdated` by itself. `make content-stamp` fills it.
    source_hash: str = Field(default="", pattern=r"^([0-9a-f]{12})?$")


class Topic(_Strict):
    """One topic file."""

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    intents: list[str] = Field(min_length=1)
    menu: int | None = None
    source: str = Field(min_length=1)
    reviewed: dt.date
    follow_ups: list[str] = []
    opening_hours: list[OpeningHours] = []
    schedule: Schedule | None = None
    # Topics whose next time this topic's answer states (computed from their schedule), e.g. the
    # women's hour in the answer to "is CaféO open?", whose general hours are not known.
    next_times: list[str] = []
    slot: Slot | None = None
    # Concepts (content/concepts.yml) or `entity:<name>`, one of which the message or the
    # conversation's topic must mention before this topic is answered; empty: no check.
    evidence: list[str] = []
    # Concepts of the questions this topic answers (opening_time for the hours): a follow-up
    # naming one of them is answered with this topic; one naming none of a topic's family is
    # "I don't know that about ..." rather than another answer.
    asks: list[str] = []
    place: PlaceField | None = None
    # After this day the topic is out of date: the check reports it as an error.
    valid_until: dt.date | None = None
    texts: dict[str, LanguageText] = Field(min_length=1)

    def fingerprint(self) -> str:
        """Of the German text (title, answer, questions, answers per value): what a translation records."""
        german = self.texts.get(SOURCE_LANGUAGE)
        if german is None:
            return ""
        parts = [german.title, german.answer, german.ask, german.unknown,
                 *(f"{value}={answer}" for value, answer in sorted(german.by_value.items()))]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]

    def state(self, language: str) -> Literal["reviewed", "draft", "outdated"]:
        """`outdated` when the German text changed since the translation was made, else its status."""
        text = self.texts[language]
        if language != SOURCE_LANGUAGE and text.source_hash and text.source_hash != self.fingerprint():
            return "outdated"
        return text.status

def _consistency_problems(topic: Topic) -> list[tuple[tuple[Any, ...], str]]:
    """Checks across fields, each with the path of the field to blame: placeholders and slots."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    if topic.schedule is not None and not topic.opening_hours:
        problems.append((("schedule",), "a schedule needs opening_hours (the weekly slots)"))
    for language, text in topic.texts.items():
        fields = {"answer": text.answer, "ask": text.ask, "unknown": text.unknown}
        fields.update({f"by_value.{value}": answer for value, answer in text.by_value.items()})
        for name, value in fields.items():
            for placeholder in _PLACEHOLDER.findall(value):
                if placeholder != OPENING_HOURS_PLACEHOLDER or not topic.opening_hours:
                    problems.append(((("texts", language) + tuple(name.split("."))),
                                     f"unknown placeholder {placeholder} (only {{opening_hours}}, and only with opening_hours)"))
        if topic.slot is not None:
            missing = sorted(set(topic.slot.values) - set(text.by_value))
            for name in ("ask", "unknown"):
                if not getattr(text, name):
                    problems.append((("texts", language), f"a topic with a slot needs `{name}`"))
            if missing:
                problems.append((("texts", language, "by_value"), f"by_value lacks {missing}"))
    return problems


# Concepts the dialogue itself relies on (content/concepts.yml must define them).
OTHER_SERVICES = "other_services"  # offices and places the bot does not cover
SMALL_TALK = ("greeting", "thanks")
REQUIRED_CONCEPTS = (OTHER_SERVICES, *SMALL_TALK)


@dataclass(frozen=True)
class ContentStore:
    """All topics, looked up by id or by intent, the concept words that are their evidence, the
    per-language words that decide short messages and follow-ups, and the crisis path."""

    topics: dict[str, Topic]
    by_intent: dict[str, Topic]
    concepts: Concepts
    words: Words
    crisis: CrisisGuide

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


@dataclass(frozen=True)
class LoadedTopic:
    """A valid topic and the line of each of its fields, for errors found across files."""

    topic: Topic
    lines: dict[tuple[Any, ...], int]

    def line(self, *path: Any) -> int:
        return _line_for(path, self.lines)


class _Loader(SAFE_LOADER):  # type: ignore[valid-type,misc]
    """YAML without its own dates: "2026-13-30" stays text, so the schema reports it with its line
    (YAML would fail on it with no line at all)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in SAFE_LOADER.yaml_implicit_resolvers.items()
    }


def load_topic(path: Path) -> LoadedTopic:
    """Read and validate one topic file; ContentError says file:line what is wrong."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        # A character that cannot stand where it is (a tab) is on the problem's line; for an
        # unclosed quote the parser gives up at the end of the file, and the context mark says
        # where the scalar began, which is the line to fix.
        context, problem = getattr(error, "context_mark", None), getattr(error, "problem_mark", None)
        on_its_line = isinstance(error, yaml.scanner.ScannerError) and "end of stream" not in str(error.problem)
        mark = problem if on_its_line and problem is not None else context or problem
        line = mark.line + 1 if mark is not None else 1
        raise ContentError(f"{path}:{line}: not valid YAML: {error}") from error
    if node is None or not isinstance(data, dict):
        raise ContentError(f"{path}:1: a topic file must be a mapping with id, intents, texts...")
    index: dict[tuple[Any, ...], int] = {}
    _line_index(node, (), index)
    try:
        topic = Topic.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{path}:{_line_for(tuple(p['loc']), index)}: {'.'.join(map(str, p['loc'])) or 'topic'}: {p['msg']}"
            for p in error.errors()
        ]
        raise ContentError("\n".join(problems)) from error
    problems = [f"{path}:{_line_for(loc, index)}: {'.'.join(map(str, loc))}: {msg}"
                for loc, msg in _consistency_problems(topic)]
    if path.stem != topic.id:
        problems.append(f"{path}:{index.get(('id',), 1)}: id {topic.id!r} must match the file name")
    if problems:
        raise ContentError("\n".join(problems))
    return LoadedTopic(topic, index)


def load_content(content_dir: Path, languages: set[str]) -> ContentStore:
    """Load every topic and check the store as a whole: all languages, unique intents, valid links."""
    concepts = parsed_once(load_concepts, content_dir / "concepts.yml")
    words = parsed_once(load_words, content_dir / "words.yml", frozenset(languages))
    crisis = parsed_once(load_crisis, content_dir / "crisis.yml", frozenset(languages))
    files = sorted((content_dir / "topics").glob("*.yml"))
    if not files:
        raise ContentError(f"{content_dir / 'topics'}: no topic files (*.yml)")
    topics: dict[str, Topic] = {}
    loaded: dict[str, tuple[Path, LoadedTopic]] = {}
    by_intent: dict[str, Topic] = {}
    problems: list[str] = []
    broken = set()  # ids of files that failed: links to them are not reported again
    for path in files:
        try:
            entry = load_topic(path)
        except ContentError as error:
            problems.append(str(error))
            broken.add(path.stem)
            continue
        topic = entry.topic
        missing = languages - set(topic.texts)
        if missing:
            problems.append(f"{path}:{entry.line('texts')}: texts lacks languages {sorted(missing)}")
        for intent in topic.intents:
            if intent in by_intent:
                problems.append(f"{path}:{entry.line('intents')}: intent {intent!r} already leads to {by_intent[intent].id}")
            by_intent[intent] = topic
        for field in ("evidence", "asks"):
            for position, name in enumerate(getattr(topic, field)):
                if not name.startswith("entity:") and name not in concepts.terms:
                    problems.append(f"{path}:{entry.line(field, position)}: {field} {name!r} is no concept"
                                    f" in {content_dir / 'concepts.yml'}")
        topics[topic.id] = topic
        loaded[topic.id] = (path, entry)
    for path, entry in loaded.values():
        for position, follow_up in enumerate(entry.topic.follow_ups):
            if follow_up != HANDOFF and follow_up not in topics and follow_up not in broken:
                problems.append(f"{path}:{entry.line('follow_ups', position)}: follow_up {follow_up!r} is no topic")
        for position, other in enumerate(entry.topic.next_times):
            if other not in broken and (other not in topics or topics[other].schedule is None):
                problems.append(f"{path}:{entry.line('next_times', position)}: next_times {other!r} is no topic"
                                " with a schedule")
    for name in REQUIRED_CONCEPTS:
        if name not in concepts.terms:
            problems.append(f"{content_dir / 'concepts.yml'}:1: the dialogue needs the concept {name!r}")
    if problems:
        raise ContentError("\n".join(problems))
    texts: dict[str, list[str]] = {}
    for topic in topics.values():
        for code, text in topic.texts.items():
            texts.setdefault(code, []).extend([text.title, text.answer, text.ask, text.unknown, *text.by_value.values()])
    words = with_service_words(words, texts)
    return ContentStore(topics=topics, by_intent=by_intent, concepts=concepts, words=words, crisis=crisis)
