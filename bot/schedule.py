"""Times computed from a topic's schedule: is it on now, when is it next, which days it is not.

All in Europe/Berlin: a slot "10:00-12:00" is 10:00-12:00 local time on either side of the change
to and from summer time. A day's slots are, in this order: an exception covering the day (closed,
or other times), else nothing on an NRW public holiday (unless the schedule says otherwise), else
the weekly slots of its weekday.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bot.content import Topic

BERLIN = ZoneInfo("Europe/Berlin")
LOOK_AHEAD_DAYS = 400  # a weekly slot closed for a whole year is not "next"


@dataclass(frozen=True)
class Occurrence:
    """One time a slot takes place, as aware datetimes in Europe/Berlin."""

    start: dt.datetime
    end: dt.datetime

    def ongoing(self, now: dt.datetime) -> bool:
        return self.start <= now < self.end


@lru_cache(maxsize=16)
def _public_holidays(year: int) -> holidays.HolidayBase:
    return holidays.Germany(subdiv="NW", years=year)


def public_holiday(day: dt.date) -> str | None:
    """The name of the NRW public holiday on `day` (German), or None."""
    name = _public_holidays(day.year).get(day)
    return str(name) if name is not None else None


def _at(day: dt.date, clock: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=BERLIN)


def slots_on(topic: Topic, day: dt.date) -> list[Occurrence]:
    """The times `topic` takes place on `day` (empty when it has no schedule or is closed)."""
    schedule = topic.schedule
    if schedule is None:
        return []
    exception = next((e for e in schedule.exceptions if e.covers(day)), None)
    if exception is not None:
        if exception.closed or exception.opens is None or exception.closes is None:
            return []
        return [Occurrence(_at(day, exception.opens), _at(day, exception.closes))]
    if schedule.closed_on_public_holidays and public_holiday(day) is not None:
        return []
    return [Occurrence(_at(day, s.opens), _at(day, s.closes))
            for s in sorted(topic.opening_hours, key=lambda s: s.opens) if s.weekday_index == day.weekday()]


def occurrences(topic: Topic, since: dt.datetime, days: int = LOOK_AHEAD_DAYS) -> Iterator[Occurrence]:
    """Every time `topic` takes place that has not ended at `since`, for `days` days, in order."""
    first = since.astimezone(BERLIN).date()
    for offset in range(days):
        for occurrence in slots_on(topic, first + dt.timedelta(days=offset)):
            if occurrence.end > since:
                yield occurrence


def current_or_next(topic: Topic, now: dt.datetime) -> Occurrence | None:
    """The occurrence going on at `now`, else the next one; None when none within the look-ahead."""
    return next(occurrences(topic, now), None)


def skipped_days(topic: Topic, since: dt.date, until: dt.date) -> list[dt.date]:
    """Days from `since` to `until` on which a weekly slot falls but does not take place as usual
    (a holiday, a closure, other times): the EXDATEs of the calendar file. Remembered per topic
    and dates: every answer with a calendar file asks for the same year (about 0.7 ms each)."""
    return list(_skipped_days(_Same(topic), since, until))


class _Same:
    """A key equal only to the very same topic (content edits bring new Topic objects; a Topic
    itself is not hashable)."""

    __slots__ = ("topic",)

    def __init__(self, topic: Topic) -> None:
        self.topic = topic

    def __hash__(self) -> int:
        return id(self.topic)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.topic is self.topic


@lru_cache(maxsize=64)
def _skipped_days(key: _Same, since: dt.date, until: dt.date) -> tuple[dt.date, ...]:
    topic = key.topic
    weekdays = {s.weekday_index for s in topic.opening_hours}
    days = []
    day = since
    while day <= until:
        if day.weekday() in weekdays:
            usual = [Occurrence(_at(day, s.opens), _at(day, s.closes))
                     for s in topic.opening_hours if s.weekday_index == day.weekday()]
            if slots_on(topic, day) != sorted(usual, key=lambda o: o.start):
                days.append(day)
        day += dt.timedelta(days=1)
    return tuple(days)
