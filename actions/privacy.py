"""What the bot stores about a person, and deleting it on request."""

from actions.base import ActionResult, Turn, menu_button, menu_buttons
from bot.messages import Button, Reply

DELETE_ASK = "d"
DELETE_CONFIRM = "d!"
PRIVACY = "p"


def privacy(turn: Turn) -> ActionResult:
    text = turn._(
        "I store your language, the district you chose (if any), your messages and my answers, so that I can "
        "answer in context. If you ask for a person and agree, the KI's case-management team sees this "
        "conversation, and I keep your answer. You can delete all of it at any time with /delete."
    ) + " " + turn._("To send you my answers, I keep your phone number or chat ID, only in encrypted form.")
    return ActionResult("privacy", (Reply(text, (Button(turn._("Delete my data"), DELETE_ASK), menu_button(turn))),))


def ask_to_delete(turn: Turn) -> ActionResult:
    text = turn._("Delete all your messages and settings here? This cannot be undone.")
    return ActionResult("delete", (Reply(text, (Button(turn._("Yes, delete"), DELETE_CONFIRM), menu_button(turn))),))


def deleted(turn: Turn) -> ActionResult:
    """Said after the dialogue deleted the user's data (the dialogue does the I/O)."""
    text = turn._("Done: your messages and settings are deleted. Write to me any time to start again.")
    return ActionResult("deleted", (Reply(text),))


def unsupported_message(turn: Turn) -> ActionResult:
    """A voice message, photo, sticker...: say what the bot can read."""
    text = turn._("Sorry, I can only read text. Please write your question, or choose a topic:")
    return ActionResult("unsupported", (Reply(text, menu_buttons(turn)),))
