"""Offer the languages, and switch to one the user chose."""

from actions.base import HANDOFF, ActionResult, Turn, language_buttons, menu_buttons
from bot.messages import Button, Reply


def offer_languages(turn: Turn) -> ActionResult:
    return ActionResult("language", (Reply(turn._("Choose your language:"), language_buttons(turn)),))


def switch_language(turn: Turn) -> ActionResult:
    """`turn` is already in the new language: confirm in it and show the menu."""
    text = turn._("I will answer in {language} from now on.").format(language=turn.language.native_name)
    return ActionResult(
        "language",
        (Reply(text), Reply(turn._("Choose a topic, or write your question:"), menu_buttons(turn))),
        set_language=turn.language.code,
    )


def unsupported_language(german: Turn, english: Turn) -> ActionResult:
    """For a language we don't speak: say so in German and English, offer the languages and a person."""
    text = "\n\n".join(
        t._("Sorry, I do not speak your language yet. Please choose one of these languages, or talk to a person.")
        for t in (german, english)
    )
    person = Button(f"{german._('Talk to a person')} / {english._('Talk to a person')}", HANDOFF,
                    english.language.pgettext("button, at most 20 characters", "Talk to a person"))
    buttons = language_buttons(german) + (person,)
    return ActionResult("unsupported_language", (Reply(text, buttons),))
