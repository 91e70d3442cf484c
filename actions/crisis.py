"""A person in danger: the emergency and help-line numbers at once, in their language, then a
person to talk to. The text and its official sources are in content/crisis.yml."""

from actions.base import ActionResult, Turn, menu_button, person_button
from bot.messages import Reply

CRISIS = "crisis"


def crisis(turn: Turn) -> ActionResult:
    """Nothing else is said first; the context is left as it was (the user may come back to it)."""
    text = turn.content.crisis.reply(turn.language.code)
    return ActionResult(CRISIS, (Reply(text, (person_button(turn), menu_button(turn))),))
