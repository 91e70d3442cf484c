"""The main menu, and the small talk that leads to it: greeting, help, thanks, goodbye."""

from actions.base import ActionResult, Turn, language_buttons, menu_buttons, menu_button
from bot.messages import Reply


def what_i_answer(turn: Turn) -> str:
    """Every topic the bot answers, one per line: shared by the greeting and the fallback so
    that both always name the same topics (add a line here when a topic is added)."""
    return turn._(
        "• CaféO, the counselling café, and its consultation hour for women\n"
        "• German courses and the placement test\n"
        "• KIM case management: who is my case manager?\n"
        "• contacting the Integration Centre (KI)\n"
        "• the Integreat app\n"
        "• school counselling for newly arrived pupils\n"
        "• heritage-language classes at school (HSU)\n"
        "• programmes for parents around school start\n"
        "• interpreters for talks with a school, Kita or city office\n"
        "• help for people from south-east Europe\n"
        "• talking to a person"
    )


def show_menu(turn: Turn, topic: str = "help") -> ActionResult:
    return ActionResult(topic, (Reply(turn._("Choose a topic, or write your question:"), menu_buttons(turn)),))


def greet(turn: Turn, first_contact: bool) -> ActionResult:
    """A greeting; on first contact with the language choice, later with the menu."""
    hello = "\n".join((turn._("Hello! I am the chatbot of the Integration Centre Herne (KI). Ask me about:"),
                       what_i_answer(turn)))
    if first_contact:
        return ActionResult(
            "greet",
            (
                Reply(hello),
                Reply(turn._("Which language do you want? You can change it at any time."), language_buttons(turn)),
            ),
        )
    return ActionResult("greet", (Reply(hello, menu_buttons(turn)),))


def thanks(turn: Turn) -> ActionResult:
    return ActionResult("thanks", (Reply(turn._("You're welcome! Can I help with anything else?"), (menu_button(turn),)),))


def goodbye(turn: Turn) -> ActionResult:
    return ActionResult(
        "goodbye", (Reply(turn._("Goodbye! Write to me any time you have a question."), (menu_button(turn),)),)
    )
