"""Honest answers when the bot cannot help: out of scope, unsure, or unable to understand text."""

from actions.base import ActionResult, Turn, menu_buttons, person_button, menu_button, topic_button
from actions.menu import what_i_answer
from bot.messages import Reply


def out_of_scope(turn: Turn) -> ActionResult:
    text = "\n".join((
        turn._("Sorry, I cannot answer that. I can only help with these topics of the Integration Centre Herne (KI):"),
        what_i_answer(turn),
        turn._("Choose a topic, or talk to a person:"),
    ))
    return ActionResult("out_of_scope", (Reply(text, menu_buttons(turn)),))


def clarify(turn: Turn, topic_ids: list[str]) -> ActionResult:
    """Unsure which topic was meant: offer the likeliest two or three."""
    buttons = tuple(topic_button(turn, topic_id) for topic_id in topic_ids) + (menu_button(turn), person_button(turn))
    return ActionResult("clarify", (Reply(turn._("I am not sure I understood. Do you mean one of these?"), buttons),))


def nlu_unavailable(turn: Turn) -> ActionResult:
    text = turn._("Sorry, I cannot understand written questions right now. Please choose a topic:")
    return ActionResult("nlu_unavailable", (Reply(text, menu_buttons(turn)),))


def could_not_answer(turn: Turn) -> ActionResult:
    """Said when a message failed again and again (a fault on our side): it is not lost in silence."""
    text = turn._("Sorry, something went wrong on our side with your last message. Please send it again, "
                  "or choose a topic:")
    return ActionResult("could_not_answer", (Reply(text, menu_buttons(turn)),))
