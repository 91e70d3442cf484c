"""A handoff over WhatsApp: consent with interactive buttons, the case manager's answer inside the
24-hour window as a message, and outside it as the approved template while the answer waits for
the user to write. Real Rasa, real databases, the FAKE Graph API."""

import asyncio
import copy
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bot.language_detection import LanguageGuesser
from bot.storage import Inbound
from tests.test_handoff import Console, staff
from tests.fake_whatsapp import sample
from tests.test_whatsapp import TEMPLATE, USER, WhatsApp, options, shown, start, tap, text


@pytest.fixture
async def whatsapp(database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser) -> AsyncIterator[WhatsApp]:
    async for running in start(database_url, rasa_server, guesser):
        await staff(running.app, "amira")
        yield running


async def test_a_case_manager_answers_inside_and_outside_the_24_hour_window(whatsapp: WhatsApp) -> None:
    fake = whatsapp.fake
    await whatsapp.deliver(text("wamid.1", "/human"))
    [consent] = await fake.wait_for(1, USER)
    assert options(consent)[:2] == ["consent:yes", "consent:no"]
    await whatsapp.deliver(tap("wamid.2", "consent:yes"))
    await fake.wait_for(2, USER)

    amira = Console(whatsapp.http, "amira")
    await amira.sign_in()
    [case] = await amira.cases()
    assert case["channel"] == "whatsapp"
    assert (await amira.post(f"/staff/api/cases/{case['id']}/claim")).status_code == 200
    await amira.post(f"/staff/api/cases/{case['id']}/reply", {"text": "Guten Tag, hier ist Amira vom KI."})
    inside = (await fake.wait_for(3, USER))[2]
    assert inside["type"] == "text" and shown(inside) == "Guten Tag, hier ist Amira vom KI."

    # A day later: the user's last message is older than 24 hours (by Meta's timestamps).
    async with whatsapp.app.state.storage.session() as session, session.begin():
        await session.execute(update(Inbound).values(platform_at=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(hours=25)))
    await amira.post(f"/staff/api/cases/{case['id']}/reply", {"text": "Ihr Termin ist am Montag um 10 Uhr."})
    [template] = await fake.wait_for(1, USER, kind="template")
    assert template["template"]["name"] == TEMPLATE
    assert not any(shown(s) == "Ihr Termin ist am Montag um 10 Uhr." for s in fake.sent(USER) if s["type"] != "template")

    # The user writes back: the bot stays silent (the case is open), the waiting answer goes out.
    await whatsapp.deliver(text("wamid.3", "ok danke"))
    later = await fake.wait_for(5, USER)
    assert shown(later[-1]) == "Ihr Termin ist am Montag um 10 Uhr."
    # Released when the message is stored; the message joins the case when its turn is done.
    for _ in range(100):
        transcript = (await amira.get(f"/staff/api/cases/{case['id']}")).json()["messages"]
        if any(m["text"] == "ok danke" for m in transcript):
            break
        await asyncio.sleep(0.05)
    assert [m["direction"] for m in transcript if m["text"] == "ok danke"] == ["in"]

    # Meta reports the last answer undelivered: staff see it on the case.
    reports = copy.deepcopy(sample("statuses"))
    failed = reports["entry"][0]["changes"][0]["value"]["statuses"][2]
    failed["id"] = fake.sends[-1].wamid
    reports["entry"][0]["changes"][0]["value"]["statuses"] = [failed]
    await whatsapp.deliver(reports)
    [problem] = (await amira.get(f"/staff/api/cases/{case['id']}")).json()["undelivered"]
    assert problem["text"] == "Ihr Termin ist am Montag um 10 Uhr." and "131026" in problem["error"]
