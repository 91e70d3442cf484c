"""What the bot could not answer, for staff to see what is missing, and the weekly counts behind
the statistics page.

Both are written in the turn's transaction, without the user's identity: an unanswered message
keeps its language, text, channel, ISO week and day and the NLU's guesses, nothing that leads
back to the person or the conversation. The counts are an anonymous aggregate (week, kind,
topic, language, channel) -> count. The export turns unanswered messages into Rasa NLU training
data (version "3.1"), grouped by the intent the NLU thought likeliest, for staff to review and
add to nlu_data/.
"""

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff import BERLIN
from bot.storage import UNANSWERED, WEEKLY_COUNTS, Unanswered, insert_at_commit

# The kinds of unanswered message.
OUT_OF_SCOPE = "out_of_scope"  # the NLU was sure it is none of our topics (or another office's)
LOW_CONFIDENCE = "low_confidence"  # the NLU was too unsure of every topic even to offer a choice
CLARIFICATION = "clarification"  # "do you mean one of these?", and the user chose none of them
UNKNOWN_DETAIL = "unknown_detail"  # the topic was understood; its content does not say
KINDS = (OUT_OF_SCOPE, LOW_CONFIDENCE, CLARIFICATION, UNKNOWN_DETAIL)
QUESTION, HANDOFF = "question", "handoff"  # the kinds of weekly count
Guesses = Sequence[tuple[str, float]]
# Built once: a turn runs them (building a statement costs more CPU than running it).
_STORE_UNANSWERED = insert(UNANSWERED)


def week_of(at: dt.datetime) -> tuple[str, dt.date]:
    """The ISO week ("2026-W49") and the day, in Herne, of a moment."""
    day = (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).astimezone(BERLIN).date()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}", day


def guesses_to_json(guesses: Guesses) -> str:
    return json.dumps([{"intent": name, "confidence": round(confidence, 4)} for name, confidence in guesses])


def guesses_from_json(text: str | None) -> list[tuple[str, float]]:
    return [(g["intent"], float(g["confidence"])) for g in json.loads(text or "[]")]


async def record_unanswered(session: AsyncSession, kind: str, language: str, channel: str, text: str,
                            at: dt.datetime, guesses: Guesses) -> None:
    """Keep an unanswered message in `session`'s transaction (the turn's)."""
    week, day = week_of(at)
    await session.execute(_STORE_UNANSWERED, {"kind": kind, "language": language, "channel": channel, "text": text,
                                              "week": week, "day": day, "guesses": guesses_to_json(guesses)})


def count(session: AsyncSession, kind: str, at: dt.datetime, topic: str, language: str, channel: str) -> None:
    """One more for the week's figure, written when `session` commits: a row of its own, summed when
    read. (One row per figure, counted up, would be locked by every turn counting the same figure
    until it commits: on PostgreSQL, users asking the same thing would wait for each other.)"""
    week, _ = week_of(at)
    insert_at_commit(session, WEEKLY_COUNTS, {"week": week, "kind": kind, "topic": topic[:64], "language": language,
                                              "channel": channel, "count": 1})


def suggested_intent(guesses: Guesses) -> str:
    """The intent the NLU thought likeliest; out_of_scope when it had no guess."""
    return guesses[0][0] if guesses else "out_of_scope"


# Rasa reads "[text](entity)" in an example as an entity annotation; a user's brackets are not one.
_ANNOTATION = re.compile(r"\]\s*([({])")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def example_line(text: str) -> str:
    """One message as one training example: on one line, without characters YAML forbids, and
    without what Rasa would take for an entity annotation."""
    line = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return _ANNOTATION.sub(r"] \1", line)


def nlu_export(rows: Iterable[Unanswered], heading: str = "") -> str:
    """Rasa NLU training data (version "3.1"): one `- intent:` block per suggested intent (by name),
    each message once (the first intent it was suggested for), for staff to review before they add
    the examples to nlu_data/<language>.yml."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for row in rows:
        line = example_line(row.text)
        if line and line.casefold() not in seen:
            seen.add(line.casefold())
            by_intent[suggested_intent(guesses_from_json(row.guesses))].append(line)
    lines = [f"# {part}" for part in heading.splitlines()] + ['version: "3.1"', "nlu:" if by_intent else "nlu: []"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {example}" for example in by_intent[intent]]
    return "\n".join(lines) + "\n"
