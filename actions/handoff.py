"""A person instead of the bot: the consent question, its answers, and what the user hears while
their conversation is with the KI's case-management team. The dialogue keeps the case; these only
say things. With consent refused, the user gets the `handoff` content topic: how to reach the
team themselves (CaféO, the KIM team, the KI, with phone numbers from the report)."""

import datetime as dt
from dataclasses import replace

from babel.dates import format_date

from actions.answer_topic import answer_topic
from actions.base import ActionResult, Turn, menu_button, menu_buttons, person_button
from bot.messages import Button, Reply

HANDOFF_INTENT = "handoff"
CONSENT_YES = "consent:yes"
CONSENT_NO = "consent:no"
CANCEL = "handoff:cancel"
# The consent text's version, stored with every answer; change it whenever the text changes.
CONSENT_VERSION = "2026-12-04"


def cancel_button(turn: Turn) -> Button:
    return Button(turn._("Cancel the request"), CANCEL)


def ask_consent(turn: Turn, retention_days: int) -> ActionResult:
    text = turn._(
        "Do you want to talk to a person? If you agree, I pass this conversation to the case-management team "
        "of the Integration Centre Herne (KI). They see what you wrote here, your language, your district and "
        "your topic. It is kept until {days} days after your case is closed. You can withdraw at any time with "
        "the button or /cancel. Do you agree?"
    ).format(days=retention_days)
    buttons = (Button(turn._("Yes, pass it on"), CONSENT_YES), Button(turn._("No, thanks"), CONSENT_NO))
    return ActionResult("handoff.consent", (Reply(text, buttons),))


def handed_off(turn: Turn, answer_by: dt.date | None, team_at_work: bool | None) -> ActionResult:
    """Consent given, the case is open. `team_at_work`: None when staff have not set the team's
    hours (then nothing is promised); `answer_by`: the next working day when the team is off now."""
    lines = [turn._("Thank you. A case manager of the KI will answer you here in this chat. "
                    "You can keep writing: they see your messages.")]
    if team_at_work is None:
        lines.append(turn._("The team answers on working days; we cannot say exactly when."))
    elif team_at_work:
        lines.append(turn._("The team is working now. Please allow some time for an answer."))
    elif answer_by is not None:
        date = format_date(answer_by, format="full", locale=turn.language.code)
        lines.append(turn._("The team is not working right now. You can expect an answer on the next working "
                            "day, {date}.").format(date=date))
    return ActionResult("handoff.open", (Reply("\n".join(lines), (cancel_button(turn),)),), handoff=True)


def consent_refused(turn: Turn) -> ActionResult:
    topic = turn.content.by_intent[HANDOFF_INTENT]
    contacts = answer_topic(turn, topic)
    first = Reply(turn._("All right, nothing was passed on. You can also reach the team yourself:"))
    return replace(contacts, topic="handoff.refused", replies=(first,) + contacts.replies, context_topic=None)


def already_with_team(turn: Turn) -> ActionResult:
    text = turn._("Your conversation is already with the team. A case manager will answer you here.")
    return ActionResult("handoff.open", (Reply(text, (cancel_button(turn),)),), handoff=True)


def acknowledged(turn: Turn) -> ActionResult:
    text = turn._("Your message has reached the team. A case manager will answer you here.")
    return ActionResult("handoff.waiting", (Reply(text, (cancel_button(turn),)),), handoff=True)


def withdrawn(turn: Turn) -> ActionResult:
    text = turn._("Your request was withdrawn. Nothing more is passed to the team. You are back with the chatbot:")
    return ActionResult("handoff.withdrawn", (Reply(text, menu_buttons(turn)),))


def nothing_to_cancel(turn: Turn) -> ActionResult:
    return ActionResult("help", (Reply(turn._("There is no request to cancel. How can I help?"), menu_buttons(turn)),))


def back_with_bot(turn: Turn) -> ActionResult:
    text = turn._("The case manager has closed your conversation. You are back with the chatbot. How can I help?")
    return ActionResult("handoff.closed", (Reply(text, menu_buttons(turn)),))


def offer_person(turn: Turn) -> Reply:
    """Added to the second misunderstood message in a row."""
    return Reply(turn._("I did not understand your last two messages. Do you want to talk to a person?"),
                 (person_button(turn), menu_button(turn)))
