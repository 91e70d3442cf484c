"""A topic's weekly slots as an iCalendar file (RFC 5545) that phones and mail programs import.

One VEVENT per weekly slot, from its next occurrence, repeating weekly (RRULE) until the end of
the horizon, with an EXDATE for each day it does not take place as usual in that time (NRW public
holidays, closures, other times); a day with other times is a VEVENT of its own. Times carry
TZID=Europe/Berlin and the file its VTIMEZONE, so 10:00 stays 10:00 across summer time. Written by
hand: the format is small, and the `icalendar` package is not in this environment.
"""

import datetime as dt

from bot.content import Topic
from bot.schedule import BERLIN, Occurrence, occurrences, skipped_days, slots_on

HORIZON_DAYS = 365
PRODID = "-//KI Herne//Chatbot//DE"

# Europe/Berlin since 1996: CEST from the last Sunday of March 02:00, CET from the last Sunday of October 03:00.
VTIMEZONE = [
    "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
    "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
    "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
]
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%Y%m%dT%H%M%S")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Lines of at most 75 octets, continued with a leading space (RFC 5545, 3.1), never inside a character."""
    if len(line) <= 75 and line.isascii():
        return [line]
    pieces: list[str] = []
    current: list[str] = []
    size = 0  # octets in `current`
    for char in line:
        limit = 75 if not pieces else 74
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [char], width
        else:
            current.append(char)
            size += width
    pieces.append("".join(current))
    return [pieces[0]] + [" " + piece for piece in pieces[1:]]


def _event(uid: str, stamp: str, first: Occurrence, summary: str, location: str, description: str,
           extra: list[str]) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp}",
            f"DTSTART;TZID=Europe/Berlin:{_local(first.start)}", f"DTEND;TZID=Europe/Berlin:{_local(first.end)}",
            f"SUMMARY:{_escape(summary)}", *([f"LOCATION:{_escape(location)}"] if location else []),
            f"DESCRIPTION:{_escape(description)}", *extra, "END:VEVENT"]


def calendar_file(topic: Topic, summary: str, description: str, now: dt.datetime) -> str:
    """The .ics text for `topic` from `now` for HORIZON_DAYS days (CRLF line ends, folded lines)."""
    local_now = now.astimezone(BERLIN)
    until_day = local_now.date() + dt.timedelta(days=HORIZON_DAYS)
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    location = topic.place.address if topic.place is not None else ""
    exdates = skipped_days(topic, local_now.date(), until_day)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             *VTIMEZONE]
    for position, slot in enumerate(topic.opening_hours):
        day = local_now.date() + dt.timedelta(days=(slot.weekday_index - local_now.weekday()) % 7)
        first = Occurrence(dt.datetime.combine(day, dt.time.fromisoformat(slot.opens), tzinfo=BERLIN),
                           dt.datetime.combine(day, dt.time.fromisoformat(slot.closes), tzinfo=BERLIN))
        until = dt.datetime.combine(until_day, dt.time(23, 59, 59), tzinfo=BERLIN).astimezone(dt.timezone.utc)
        extra = [f"RRULE:FREQ=WEEKLY;BYDAY={BYDAY[slot.weekday_index]};UNTIL={until.strftime('%Y%m%dT%H%M%SZ')}"]
        skipped = [d for d in exdates if d.weekday() == slot.weekday_index and d >= day]
        if skipped:
            extra.append("EXDATE;TZID=Europe/Berlin:" + ",".join(
                f"{d.strftime('%Y%m%d')}T{slot.opens.replace(':', '')}00" for d in skipped))
        lines += _event(f"{topic.id}-{position}-weekly@ki-herne-chatbot", stamp, first, summary, location,
                        description, extra)
    # Days with other times than usual (not closures, not holidays): events of their own.
    for day in exdates:
        for number, other in enumerate(slots_on(topic, day)):
            if other.end > now:
                lines += _event(f"{topic.id}-{day.isoformat()}-{number}@ki-herne-chatbot", stamp, other, summary,
                                location, description, [])
    lines.append("END:VCALENDAR")
    return "".join(f"{piece}\r\n" for line in lines for piece in _fold(line))

