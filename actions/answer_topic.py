"""Answer a content topic in the user's language, or ask for the slot it needs (e.g. the district)."""

from actions.base import ActionResult, Turn, VALUE_PREFIX, person_button, topic_button
from actions.next_time import calendar_for, next_times
from bot.content import HANDOFF, OPENING_HOURS_PLACEHOLDER, Topic
from bot.i18n import format_opening_hours
from bot.messages import Button, Place, Reply


def _follow_up_buttons(turn: Turn, topic: Topic) -> tuple[Button, ...]:
    return tuple(
        person_button(turn) if follow_up == HANDOFF else topic_button(turn, follow_up)
        for follow_up in topic.follow_ups
    )


def _fill(turn: Turn, topic: Topic, text: str) -> str:
    if OPENING_HOURS_PLACEHOLDER in text:
        hours = format_opening_hours(topic.opening_hours, turn.language.code)
        text = text.replace(OPENING_HOURS_PLACEHOLDER, hours)
    return "\n".join([text.strip(), *next_times(turn, topic)])


def answer_topic(turn: Turn, topic: Topic, slot_value: str | None = None, ask_slot: bool = True) -> ActionResult:
    """The topic's answer with its follow-up buttons.

    A topic with a slot answers for `slot_value`; without one it asks for it (ask_slot) or,
    after the user said they don't know (ask_slot=False), gives the general answer.
    """
    text = topic.texts[turn.language.code]
    buttons = _follow_up_buttons(turn, topic)
    if topic.slot is not None and slot_value in topic.slot.values:
        answer = text.by_value[slot_value]
        return ActionResult(topic.id, (Reply(_fill(turn, topic, answer), buttons, calendar=calendar_for(turn, topic)),),
                            context_topic=topic.id,
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
    reply = Reply(_fill(turn, topic, text.answer), buttons, place, calendar_for(turn, topic))
    return ActionResult(topic.id, (reply,), context_topic=topic.id)
