"""Handoff to a case manager: the team's hours, the cases, and the e-mail that tells staff of one.

A case is opened in the user's turn (after consent) and then owns their conversation: the bot
is silent while it is open, except for the crisis reply and a short acknowledgement at most every
ten minutes. Staff claim, answer and close cases from the console (bot/staff.py); their replies
go to the user through the shared outbox.
"""

import asyncio
import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import OpeningHours
from bot.errors import ContentError
from bot.messages import OpenedCase
from bot.storage import Case, utcnow

log = logging.getLogger(__name__)

BERLIN = ZoneInfo("Europe/Berlin")
ACKNOWLEDGE_EVERY = dt.timedelta(minutes=10)


class _TeamFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    hours: list[OpeningHours]


@dataclass(frozen=True)
class TeamHours:
    """The weekly hours in which the team answers (content/team.yml); empty when staff have not
    set them, and then nothing is promised. NRW public holidays are days off."""

    slots: tuple[OpeningHours, ...]

    @property
    def known(self) -> bool:
        return bool(self.slots)

    def _working_day(self, day: dt.date) -> bool:
        return day not in holidays.Germany(subdiv="NW", years=day.year) and any(
            s.weekday_index == day.weekday() for s in self.slots)

    def at_work(self, now: dt.datetime) -> bool:
        local = now.astimezone(BERLIN)
        clock = local.strftime("%H:%M")
        return self._working_day(local.date()) and any(
            s.weekday_index == local.weekday() and s.opens <= clock < s.closes for s in self.slots)

    def next_working_day(self, now: dt.datetime) -> dt.date | None:
        """The next day (after today, or today if the team's hours there are still to come) the team works."""
        local = now.astimezone(BERLIN)
        clock = local.strftime("%H:%M")
        if self._working_day(local.date()) and any(
                s.weekday_index == local.weekday() and clock < s.opens for s in self.slots):
            return local.date()
        day = local.date()
        for _ in range(366):
            day += dt.timedelta(days=1)
            if self._working_day(day):
                return day
        return None


def load_team_hours(path: Path) -> TeamHours:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TeamHours(tuple(_TeamFile.model_validate(data).hours))
    except FileNotFoundError:
        return TeamHours(())
    except (yaml.YAMLError, ValidationError) as error:
        raise ContentError(f"{path}: {error}") from error


# -- cases -------------------------------------------------------------------------------------

async def open_case_of(session: AsyncSession, user_id: int) -> Case | None:
    return await session.scalar(select(Case).where(Case.user_id == user_id, Case.status != "closed"))


def acknowledge_due(case: Case, now: dt.datetime) -> bool:
    last = case.acknowledged_at
    if last is None:
        return True
    last = last if last.tzinfo else last.replace(tzinfo=dt.timezone.utc)
    return now - last >= ACKNOWLEDGE_EVERY


async def claim(session: AsyncSession, case_id: int, staff: str) -> bool:
    """Claim a waiting case; False when it is not waiting (someone else was first)."""
    result = await session.execute(
        update(Case).where(Case.id == case_id, Case.status == "waiting")
        .values(status="claimed", claimed_by=staff, claimed_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- e-mail to staff ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    console_url: str


class Notifier:
    """Tells staff of a new case by e-mail, in the background (a slow or absent mail server never
    holds up a turn). The mail names no person: the case number, language, channel, topic."""

    def __init__(self, smtp: SmtpSettings | None) -> None:
        self._smtp = smtp
        self._tasks: set[asyncio.Task[None]] = set()

    def case_opened(self, case: OpenedCase) -> None:
        if self._smtp is None:
            return
        task = asyncio.create_task(self._send(case.id, case.urgent, case.language, case.channel, case.topic))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, case_id: int, urgent: bool, language: str, channel: str, topic: str | None) -> None:
        smtp = self._smtp
        assert smtp is not None
        mail = EmailMessage()
        mail["Subject"] = f"{'DRINGEND: ' if urgent else ''}Neuer Fall #{case_id} im Chatbot ({language}, {channel})"
        mail["From"] = smtp.sender
        mail["To"] = ", ".join(smtp.recipients)
        mail.set_content(
            f"Im Chatbot wartet ein neuer Fall auf eine Fallmanagerin oder einen Fallmanager.\n\n"
            f"Fall: #{case_id}\nDringend: {'ja' if urgent else 'nein'}\nSprache: {language}\nKanal: {channel}\n"
            f"Thema: {topic or '-'}\n\nZur Fallkonsole: {smtp.console_url}\n")

        def send() -> None:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=20) as client:
                client.send_message(mail)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as error:
            log.error("e-mail about case %s not sent: %s", case_id, error)

    async def drain(self) -> None:
        """Wait for mails still being sent (at shutdown, and in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
