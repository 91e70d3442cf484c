"""Give the next time of something with a schedule: "now, until 12:00", else its next date, always
with the date the facts are from; and the calendar file of its weekly slots.

A topic states the times of the topics in its `next_times` (CaféO's hours state the women's hour:
the general hours are not known), or its own when it has a schedule.
"""

from babel.dates import format_time

from actions.base import Turn
from bot.calendar_file import calendar_file
from bot.content import OPENING_HOURS_PLACEHOLDER, Topic
from bot.i18n import format_occurrence, format_opening_hours
from bot.messages import Calendar
from bot.schedule import BERLIN, current_or_next


def scheduled_topics(turn: Turn, topic: Topic) -> list[Topic]:
    """The topics whose times `topic`'s answer states."""
    if topic.next_times:
        return [turn.content.topics[other] for other in topic.next_times]
    return [topic] if topic.schedule is not None else []


def next_time(turn: Turn, scheduled: Topic) -> str | None:
    """One line: on now (until when) or the next date; None when it has none in the coming year."""
    assert scheduled.schedule is not None
    occurrence = current_or_next(scheduled, turn.now)
    if occurrence is None:
        return None
    name = scheduled.texts[turn.language.code].title
    as_of = scheduled.schedule.as_of
    if occurrence.ongoing(turn.now):
        until = format_time(occurrence.end.astimezone(BERLIN).time(), "short", locale=turn.language.code)
        return turn._("Now – {name}: today until {time} (as of {as_of})").format(name=name, time=until, as_of=as_of)
    when = format_occurrence(occurrence.start, occurrence.end, turn.language.code)
    return turn._("Next date – {name}: {when} (as of {as_of})").format(name=name, when=when, as_of=as_of)


def next_times(turn: Turn, topic: Topic) -> list[str]:
    lines = (next_time(turn, scheduled) for scheduled in scheduled_topics(turn, topic))
    return [line for line in lines if line is not None]


def calendar_path(topic_id: str, language: str) -> str:
    return f"/calendar/{topic_id}.ics?lang={language}"


def calendar_of(turn: Turn, scheduled: Topic) -> Calendar:
    """The calendar file of `scheduled`'s weekly slots, titled and described in the user's language."""
    assert scheduled.schedule is not None
    text = scheduled.texts[turn.language.code]
    description = text.answer.replace(OPENING_HOURS_PLACEHOLDER,
                                      format_opening_hours(scheduled.opening_hours, turn.language.code)).strip()
    ics = calendar_file(scheduled, text.title, description, turn.now)
    return Calendar(turn._("Add to calendar"), f"{scheduled.id}.ics", calendar_path(scheduled.id, turn.language.code),
                    ics)


def calendar_for(turn: Turn, topic: Topic) -> Calendar | None:
    """The calendar offered with `topic`'s answer: the first stated schedule that offers one."""
    offered = [s for s in scheduled_topics(turn, topic) if s.schedule is not None and s.schedule.calendar]
    return calendar_of(turn, offered[0]) if offered else None
