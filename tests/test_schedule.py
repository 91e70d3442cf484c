"""Schedules: "is CaféO open now?" and "when is the next women's hour?" computed in Europe/Berlin,
around NRW public holidays, closures and summer time, in every language; the .ics calendar file
(parsed by hand: the `icalendar` package is not in this environment) on the web; on Telegram it
arrives as a document (tests/test_telegram.py)."""

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.answer_topic import answer_topic
from actions.base import Turn
from bot.calendar_file import calendar_file
from bot.content import ContentStore, Topic, load_content
from bot.dialogue import Dialogue
from bot.errors import ContentError
from bot.i18n import load_languages
from bot.messages import IncomingMessage
from bot.schedule import BERLIN, current_or_next, occurrences
from bot.settings import PROJECT_ROOT
from tests.fakes import FakeNlu
from tests.test_content import break_topic, copy_store, line_of, load_error

LANGUAGES = load_languages(PROJECT_ROOT / "locales")
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def store() -> ContentStore:
    return load_content(PROJECT_ROOT / "content", set(LANGUAGES))


def answer_lines(text: str) -> list[str]:
    """The answer's lines, without the note under it (a draft or outdated translation's, after a blank line)."""
    return text.split("\n\n")[0].splitlines()


def berlin(*when: int) -> dt.datetime:
    return dt.datetime(*when, tzinfo=BERLIN)  # type: ignore[misc]


def women(store: ContentStore, **schedule: Any) -> Topic:
    """The women's hour, with its schedule changed as given (exceptions, ...)."""
    topic = store.topics["cafeo.women"]
    assert topic.schedule is not None
    return topic.model_copy(update={"schedule": topic.schedule.model_copy(update=schedule)})


def closed(day: str, until: str | None = None) -> Any:
    from bot.content import ScheduleException
    return ScheduleException(date=dt.date.fromisoformat(day), until=dt.date.fromisoformat(until) if until else None,
                             closed=True)


def answer(store: ContentStore, topic_id: str, language: str, now: dt.datetime) -> str:
    turn = Turn(LANGUAGES[language], store, LANGUAGES, now)
    return answer_topic(turn, store.topics[topic_id]).replies[0].text


# -- what is next -------------------------------------------------------------------------

def test_the_next_womens_hour_is_the_coming_thursday(store: ContentStore) -> None:
    nxt = current_or_next(store.topics["cafeo.women"], berlin(2026, 12, 1, 9))
    assert nxt is not None and (nxt.start, nxt.end) == (berlin(2026, 12, 3, 10), berlin(2026, 12, 3, 12))


@pytest.mark.parametrize(("now", "expected"), [
    (berlin(2026, 5, 12, 9), dt.date(2026, 5, 21)),  # Thursday 14 May 2026 is Ascension Day
    (berlin(2026, 6, 2, 9), dt.date(2026, 6, 11)),   # Thursday 4 June 2026 is Corpus Christi (NRW)
    (berlin(2026, 12, 22, 9), dt.date(2026, 12, 24)),  # Christmas Eve is no public holiday
    (berlin(2027, 5, 4, 9), dt.date(2027, 5, 13)),   # Ascension Day 2027: Thursday 6 May
])
def test_public_holidays_in_nrw_are_skipped(store: ContentStore, now: dt.datetime, expected: dt.date) -> None:
    nxt = current_or_next(store.topics["cafeo.women"], now)
    assert nxt is not None and nxt.start.date() == expected


def test_a_closed_day_and_a_closed_fortnight_are_skipped(store: ContentStore) -> None:
    topic = women(store, exceptions=[closed("2026-12-03"), closed("2026-12-17", "2027-01-01")])
    starts = [o.start.date() for o in occurrences(topic, berlin(2026, 12, 1, 9), days=40)]
    assert starts == [dt.date(2026, 12, 10), dt.date(2027, 1, 7)]


def test_changed_hours_on_a_date_replace_the_usual_ones(store: ContentStore) -> None:
    from bot.content import ScheduleException
    other = ScheduleException(date=dt.date(2026, 12, 3), opens="13:00", closes="15:00")
    extra = ScheduleException(date=dt.date(2026, 12, 5), opens="10:00", closes="11:00")  # a Saturday
    topic = women(store, exceptions=[other, extra])
    times = [(o.start, o.end) for o in occurrences(topic, berlin(2026, 12, 1, 9), days=10)]
    assert times == [(berlin(2026, 12, 3, 13), berlin(2026, 12, 3, 15)), (berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 11)),
                     (berlin(2026, 12, 10, 10), berlin(2026, 12, 10, 12))]


def test_an_exception_may_open_a_public_holiday(store: ContentStore) -> None:
    from bot.content import ScheduleException
    topic = women(store, exceptions=[ScheduleException(date=dt.date(2026, 5, 14), opens="10:00", closes="12:00")])
    nxt = current_or_next(topic, berlin(2026, 5, 12, 9))
    assert nxt is not None and nxt.start == berlin(2026, 5, 14, 10)


@pytest.mark.parametrize(("now", "utc_start"), [
    (berlin(2026, 3, 24, 9), dt.datetime(2026, 3, 26, 9, tzinfo=UTC)),   # before the change: CET, UTC+1
    (berlin(2026, 3, 29, 1, 30), dt.datetime(2026, 4, 2, 8, tzinfo=UTC)),  # the night of the change: CEST, UTC+2
    (berlin(2026, 10, 22, 11), dt.datetime(2026, 10, 22, 8, tzinfo=UTC)),  # on now, still CEST
    (berlin(2026, 10, 25, 2, 30), dt.datetime(2026, 10, 29, 9, tzinfo=UTC)),  # the night back: CET again
])
def test_ten_oclock_stays_ten_oclock_across_summer_time(store: ContentStore, now: dt.datetime,
                                                        utc_start: dt.datetime) -> None:
    nxt = current_or_next(store.topics["cafeo.women"], now)
    assert nxt is not None and nxt.start == utc_start and nxt.start.astimezone(BERLIN).hour == 10


def test_the_hour_going_on_is_current_and_after_it_the_next_week(store: ContentStore) -> None:
    topic = store.topics["cafeo.women"]
    during = current_or_next(topic, berlin(2026, 12, 3, 11, 59))
    assert during is not None and during.ongoing(berlin(2026, 12, 3, 11, 59))
    after = current_or_next(topic, berlin(2026, 12, 3, 12, 0))
    assert after is not None and after.start == berlin(2026, 12, 10, 10)


# -- the answers, in every language ---------------------------------------------------------

WHEN = {  # Thursday, 10 December 2026, 10:00-12:00, as Babel writes it
    "de": "Donnerstag, 10. Dezember 2026, 10:00–12:00", "en": "Thursday, December 10, 2026, 10:00 AM–12:00 PM",
    "ar": "الخميس، 10 ديسمبر 2026، 10:00 ص–12:00 م", "tr": "10 Aralık 2026 Perşembe, 10:00–12:00",
    "ro": "joi, 10 decembrie 2026, 10:00–12:00", "uk": "четвер, 10 грудня 2026 р., 10:00–12:00",
    "ru": "четверг, 10 декабря 2026 г., 10:00–12:00", "fa": "پنجشنبه 10 دسامبر 2026، 10:00–12:00",
}


def plain(text: str) -> str:
    """Without bidi isolates, and Babel's narrow no-break spaces ("10:00\u202fAM") as spaces."""
    return text.replace("\u2066", "").replace("\u2069", "").replace("\u202f", " ")


@pytest.mark.parametrize("language", sorted(WHEN))
def test_the_next_womens_hour_is_dated_in_the_users_language(store: ContentStore, language: str) -> None:
    """After this week's hour (Thursday 3 December 2026, 12:30) the answer names the next one."""
    text = answer(store, "cafeo.women", language, berlin(2026, 12, 3, 12, 30))
    last = plain(answer_lines(text)[-1])
    assert WHEN[language] in last and "2023" in last
    assert store.topics["cafeo.women"].texts[language].title in last
    if language in ("ar", "fa"):
        assert "," not in last.split("–")[1]  # the Arabic comma, never a Latin one, around the date


@pytest.mark.parametrize("language", sorted(WHEN))
def test_during_the_hour_the_answer_says_until_when(store: ContentStore, language: str) -> None:
    text = answer(store, "cafeo.women", language, berlin(2026, 12, 10, 10, 30))
    last = answer_lines(text)[-1]
    assert "12:00" in last and "2023" in last and "10:00" not in last


TIME = re.compile(r"\d{1,2}:\d{2}")


@pytest.mark.parametrize("language", sorted(WHEN))
@pytest.mark.parametrize("now", [berlin(2026, 12, 4, 19), berlin(2026, 12, 10, 10, 30), berlin(2026, 5, 14, 11)])
def test_is_cafeo_open_now_never_states_invented_hours(store: ContentStore, language: str, now: dt.datetime) -> None:
    """The general hours are not in the report: the answer says so, gives the numbers to ask, and
    the only time it states is the women's hour (10:00-12:00, as of 2023)."""
    text = answer(store, "cafeo.hours", language, now)
    assert set(TIME.findall(text)) == {"10:00", "12:00"}
    assert "02323 16-4705" in text and "02323 16-3850" in text
    assert text.count("2023") >= 2  # the fixed text's "as of" and the computed line's


async def test_is_cafeo_open_now_through_the_dialogue(dialogue: Dialogue, nlu: FakeNlu) -> None:
    """Asked on Ascension Day at 11:00 (a Thursday, no women's hour): the next one is a week later,
    and nothing says CaféO is open now. (FAKE NLU: the real one's routing is tested in test_conversations.)"""
    nlu.says("is CaféO open now?", "cafeo_hours")
    dialogue.clock = lambda: berlin(2026, 5, 14, 11).astimezone(UTC)
    now = dialogue.clock()
    await dialogue.handle(IncomingMessage("web", "u1", now, button="l:en"))
    outcome = await dialogue.handle(IncomingMessage("web", "u1", now, text="is CaféO open now?"))
    text = plain(outcome.replies[0].text)
    assert "We do not have the general opening hours" in text
    assert "Next date – CaféO: women's hour: Thursday, May 21, 2026, 10:00 AM–12:00 PM (as of 2023)" in text
    assert "Now –" not in text


async def test_the_next_womens_hour_through_the_real_nlu(client: httpx.AsyncClient) -> None:
    body = (await client.post("/api/chat", json={"text": "when is the next women's consultation at CaféO?"})).json()
    reply = body["replies"][0]
    assert body["topic"] == "cafeo.women"
    assert re.search(r"Next date – CaféO: women's hour: Thursday, \w+ \d+, \d{4}, 10:00 AM–12:00 PM \(as of 2023\)",
                     plain(reply["text"]))
    assert reply["calendar"]["url"] == "/calendar/cafeo.women.ics?lang=en"


# -- content errors ------------------------------------------------------------------------

def test_an_exception_both_closed_and_open_names_its_line(tmp_path: Path) -> None:
    path = break_topic(copy_store(tmp_path), "cafeo.women", lambda t: t.replace(
        "  calendar: true\n", "  calendar: true\n  exceptions:\n    - {date: 2026-12-24, closed: true, opens: \"10:00\", closes: \"11:00\"}\n"))
    message = load_error(tmp_path)
    line = line_of(path, "2026-12-24")
    assert f"cafeo.women.yml:{line}: schedule.exceptions.0" in message and "either" in message


def test_next_times_of_a_topic_without_a_schedule_names_its_line(tmp_path: Path) -> None:
    path = break_topic(copy_store(tmp_path), "cafeo.hours", lambda t: t.replace("next_times: [cafeo.women]",
                                                                                "next_times: [cafeo.about]"))
    message = load_error(tmp_path)
    line = line_of(path, "next_times:")
    assert f"cafeo.hours.yml:{line}: next_times 'cafeo.about'" in message


# -- the calendar file ---------------------------------------------------------------------

def unfold(ics: str) -> list[str]:
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    raw = ics.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in raw)
    lines: list[str] = []
    for line in raw:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def components(lines: list[str]) -> list[dict[str, Any]]:
    """The VEVENTs as {property: value}, after checking every BEGIN has its END."""
    stack: list[str] = []
    events: list[dict[str, Any]] = []
    for line in lines:
        name, _, value = line.partition(":")
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                events.append({})
        elif name == "END":
            assert stack.pop() == value
        elif stack[-1] == "VEVENT":
            events[-1][name] = value
    assert stack == []
    return events


def expand(event: dict[str, Any]) -> list[dt.datetime]:
    """The starts of a weekly event, by hand: DTSTART, every 7 days until UNTIL, minus EXDATE."""
    start = dt.datetime.strptime(event["DTSTART;TZID=Europe/Berlin"], "%Y%m%dT%H%M%S").replace(tzinfo=BERLIN)
    rule = dict(part.split("=") for part in event["RRULE"].split(";"))
    assert rule["FREQ"] == "WEEKLY" and rule["BYDAY"] == "TH"
    until = dt.datetime.strptime(rule["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    excluded = {dt.datetime.strptime(v, "%Y%m%dT%H%M%S").replace(tzinfo=BERLIN)
                for v in event.get("EXDATE;TZID=Europe/Berlin", "").split(",") if v}
    starts = []
    day = start
    while day <= until:
        if day not in excluded:
            starts.append(day)
        day = dt.datetime.combine(day.date() + dt.timedelta(days=7), start.time(), tzinfo=BERLIN)
    return starts


def test_the_calendar_file_repeats_weekly_without_holidays_and_closures(store: ContentStore) -> None:
    topic = women(store, exceptions=[closed("2026-12-24", "2026-12-31")])
    now = berlin(2026, 3, 20, 9)
    lines = unfold(calendar_file(topic, "CaféO: women's hour", "Thursday, 10:00–12:00; as of 2023", now))
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"] and "TZID:Europe/Berlin" in lines
    [event] = components(lines)
    assert event["DTSTART;TZID=Europe/Berlin"] == "20260326T100000"
    assert event["DTEND;TZID=Europe/Berlin"] == "20260326T120000"
    assert event["SUMMARY"] == "CaféO: women's hour" and event["DESCRIPTION"] == "Thursday\\, 10:00–12:00\\; as of 2023"
    exdates = event["EXDATE;TZID=Europe/Berlin"].split(",")
    assert {"20260514T100000", "20260604T100000", "20261224T100000", "20261231T100000"} <= set(exdates)
    # What a calendar program makes of it is exactly the schedule, for the whole year.
    expected = [o.start for o in occurrences(topic, now, days=365)]
    assert expand(event) == expected


def test_a_day_with_other_hours_is_an_event_of_its_own(store: ContentStore) -> None:
    from bot.content import ScheduleException
    topic = women(store, exceptions=[ScheduleException(date=dt.date(2026, 12, 3), opens="13:00", closes="15:00")])
    events = components(unfold(calendar_file(topic, "x", "y", berlin(2026, 12, 1, 9))))
    assert "20261203T100000" in events[0]["EXDATE;TZID=Europe/Berlin"]
    assert (events[1]["DTSTART;TZID=Europe/Berlin"], events[1]["DTEND;TZID=Europe/Berlin"]) == (
        "20261203T130000", "20261203T150000")


async def test_the_web_app_serves_the_calendar_and_links_it(client: httpx.AsyncClient) -> None:
    body = (await client.post("/api/chat", json={"button": "t:cafeo.women"})).json()
    link = body["replies"][0]["calendar"]
    response = await client.get(link["url"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    assert 'filename="cafeo.women.ics"' in response.headers["content-disposition"]
    [event] = components(unfold(response.text))
    assert event["RRULE"].startswith("FREQ=WEEKLY;BYDAY=TH")
    assert (await client.get("/calendar/cafeo.about.ics")).status_code == 404
    assert (await client.get("/calendar/cafeo.women.ics?lang=xx")).status_code == 400


def test_every_answer_carries_the_calendar_only_where_staff_offer_one(store: ContentStore) -> None:
    turn = Turn(LANGUAGES["de"], store, LANGUAGES, berlin(2026, 12, 1, 9))
    offered: Callable[[str], bool] = lambda t: answer_topic(turn, store.topics[t]).replies[0].calendar is not None
    assert offered("cafeo.women") and offered("cafeo.hours") and not offered("cafeo.about")


OPEN_NOW = {"de": "Hat das CaféO jetzt offen?", "en": "is CaféO open now?", "ar": "هل كافيه أو مفتوح الآن؟",
            "tr": "CaféO şu an açık mı?", "ro": "CaféO este deschis acum?", "uk": "Чи відкрито КафеО зараз?",
            "ru": "КафеО сейчас открыто?", "fa": "آیا کافه اُ الان باز است؟"}


@pytest.mark.parametrize("language", sorted(OPEN_NOW))
async def test_is_cafeo_open_now_in_every_language_through_the_real_nlu(client: httpx.AsyncClient,
                                                                         language: str) -> None:
    """The question reaches CaféO's hours (existing intent cafeo_hours): the answer says the general
    hours are not known, gives the numbers, and dates the next women's hour; no other time."""
    await client.post("/api/chat", json={"button": f"l:{language}"})
    body = (await client.post("/api/chat", json={"text": OPEN_NOW[language]})).json()
    assert body["topic"] == "cafeo.hours"
    text = plain(body["replies"][0]["text"])
    assert set(TIME.findall(text)) == {"10:00", "12:00"} and "02323 16-4705" in text
    assert store_title(language) in answer_lines(text)[-1]


def store_title(language: str) -> str:
    return load_content(PROJECT_ROOT / "content", set(LANGUAGES)).topics["cafeo.women"].texts[language].title
