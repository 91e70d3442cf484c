"""Answer a content topic in the user's language, or ask for the slot it needs (e.g. the district)."""

from actions.base import GERMAN_PREFIX, ActionResult, Turn, VALUE_PREFIX, person_button, topic_button
from actions.next_time import calendar_for, next_times
from bot.content import HANDOFF, OPENING_HOURS_PLACEHOLDER, SOURCE_LANGUAGE, Topic
from bot.i18n import format_opening_hours
from bot.messages import Button, Place, Reply


def _follow_up_buttons(turn: Turn, topic: Topic) -> tuple[Button, ...]:
    return tuple(
        person_button(turn) if follow_up == HANDOFF else topic_button(turn, follow_up)
        for follow_up in topic.follow_ups
    )


def _fill(turn: Turn, topic: Topic, text: str, language: str) -> str:
    if OPENING_HOURS_PLACEHOLDER in text:
        hours = format_opening_hours(topic.opening_hours, language)
        text = text.replace(OPENING_HOURS_PLACEHOLDER, hours)
    return "\n".join([text.strip(), *next_times(turn, topic)]) + _note(turn, topic, language)


def _note(turn: Turn, topic: Topic, language: str) -> str:
    """One line under an answer whose text staff have not checked, or whose German text changed."""
    state = topic.state(language)
    if state == "outdated":
        note = turn._("Newer information exists in German: this translation is from an older version.")
    elif state == "draft" and language == SOURCE_LANGUAGE:
        note = turn._("Note: the KI has not yet checked this text.")
    elif state == "draft":
        note = turn._("Note: the KI has not yet checked this translation.")
    else:
        return ""
    return "\n\n" + note


def answer_topic(turn: Turn, topic: Topic, slot_value: str | None = None, ask_slot: bool = True,
                 in_german: bool = False) -> ActionResult:
    """The topic's answer with its follow-up buttons.

    A topic with a slot answers for `slot_value`; without one it asks for it (ask_slot) or,
    after the user said they don't know (ask_slot=False), gives the general answer.
    `in_german`: the German text (asked for under an outdated translation), the buttons still
    in the user's language.
    """
    language = SOURCE_LANGUAGE if in_german else turn.language.code
    text = topic.texts[language]
    buttons = _follow_up_buttons(turn, topic)
    if topic.state(language) == "outdated":
        buttons = (Button(turn._("Show the German text"), GERMAN_PREFIX + topic.id,
                          turn.language.pgettext("button, at most 20 characters", "German text")),) + buttons
    if topic.slot is not None and slot_value in topic.slot.values:
        answer = text.by_value[slot_value]
        return ActionResult(topic.id, (Reply(_fill(turn, topic, answer, language), buttons,
                                             calendar=calendar_for(turn, topic)),), context_topic=topic.id,
                            district=slot_value if topic.slot.entity == "district" else None)
    if topic.slot is not None and ask_slot:
        choices = tuple(
            Button(title, f"{VALUE_PREFIX}{topic.id}:{value}") for value, title in topic.slot.values.items()
        ) + (Button(text.unknown, f"{VALUE_PREFIX}{topic.id}:"),)
        return ActionResult(
            topic.id, (Reply(text.ask.strip(), choices),), context_topic=topic.id, awaiting_slot=topic.id
        )
    place = None
    if topic.place is not None:
        place = Place(topic.place.name, topic.place.address, topic.place.latitude, topic.place.longitude)
    reply = Reply(_fill(turn, topic, text.answer, language), buttons, place, calendar_for(turn, topic))
    return ActionResult(topic.id, (reply,), context_topic=topic.id)
