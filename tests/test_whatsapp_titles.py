"""Every button the bot can offer, in every language and from every content file, fits WhatsApp:
a reply button's title in 20 characters, a list row's in 24 (the whole title, at most 72, below
it), with a short title written for WhatsApp where the title is longer, never cut from it."""

from collections.abc import Iterator

import pytest

from actions.answer_topic import answer_topic
from actions.base import ActionResult, Turn
from actions.crisis import crisis
from actions.handoff import (
    acknowledged,
    already_with_team,
    ask_consent,
    back_with_bot,
    consent_refused,
    handed_off,
    nothing_to_cancel,
    offer_person,
    withdrawn,
)
from actions.menu import goodbye, greet, show_menu, thanks
from actions.out_of_scope import clarify, could_not_answer, nlu_unavailable, out_of_scope
from actions.privacy import ask_to_delete, privacy, unsupported_message
from actions.switch_language import offer_languages, switch_language, unsupported_language
from actions.unknown_detail import unknown_detail
from bot.channels.whatsapp import MAX_BUTTON_TITLE, MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, Wording, render_reply
from bot.content import load_content
from bot.i18n import load_languages
from bot.messages import Button
from bot.settings import PROJECT_ROOT

LANGUAGES = load_languages(PROJECT_ROOT / "locales")
CONTENT = load_content(PROJECT_ROOT / "content", set(LANGUAGES))


def results(turn: Turn) -> Iterator[ActionResult]:
    """What every action can say in this language, with every topic of every content file."""
    yield from (greet(turn, True), greet(turn, False), show_menu(turn), thanks(turn), goodbye(turn),
                out_of_scope(turn), could_not_answer(turn), nlu_unavailable(turn), privacy(turn),
                ask_to_delete(turn), unsupported_message(turn), offer_languages(turn), switch_language(turn),
                crisis(turn), clarify(turn, [t.id for t in CONTENT.menu()][:3]),
                unsupported_language(Turn(LANGUAGES["de"], CONTENT, LANGUAGES), Turn(LANGUAGES["en"], CONTENT, LANGUAGES)),
                ask_consent(turn, 90), handed_off(turn, None, None), consent_refused(turn), already_with_team(turn),
                acknowledged(turn), withdrawn(turn), nothing_to_cancel(turn), back_with_bot(turn))
    yield ActionResult("handoff.offer", (offer_person(turn),))
    for topic in CONTENT.topics.values():
        yield answer_topic(turn, topic)
        yield answer_topic(turn, topic, ask_slot=False)
        yield unknown_detail(turn, topic)
        for value in (topic.slot.values if topic.slot else {}):
            yield answer_topic(turn, topic, slot_value=value)


def every_button(code: str) -> list[Button]:
    turn = Turn(LANGUAGES[code], CONTENT, LANGUAGES)
    return [b for result in results(turn) for reply in result.replies for b in reply.buttons]


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_button_fits_a_reply_button_and_a_list_row(code: str) -> None:
    buttons = every_button(code)
    assert len(buttons) > 30
    for button in buttons:
        if len(button.title) > MAX_BUTTON_TITLE:
            assert button.short, f"{code}: no short title for {button.title!r} ({button.payload})"
        shown = button.title if len(button.title) <= MAX_BUTTON_TITLE else button.short
        assert len(shown) <= MAX_BUTTON_TITLE, f"{code}: {shown!r} is longer than {MAX_BUTTON_TITLE}"
        assert len(button.title) <= MAX_ROW_DESCRIPTION, f"{code}: {button.title!r} is longer than {MAX_ROW_DESCRIPTION}"
        if button.short and button.short != button.title:
            # Written, not cut: a cut-off title ends in the middle of a word.
            assert not (button.title.startswith(button.short) and button.title[len(button.short)].isalnum()), \
                f"{code}: {button.short!r} looks cut from {button.title!r}"


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_content_title_longer_than_a_button_has_a_short_one(code: str) -> None:
    for topic in CONTENT.topics.values():
        text = topic.texts[code]
        assert len(text.title) <= MAX_BUTTON_TITLE or text.short_title, f"{topic.id} {code}: short_title missing"
        for title in list((topic.slot.values if topic.slot else {}).values()) + ([text.unknown] if topic.slot else []):
            assert len(title) <= MAX_BUTTON_TITLE, f"{topic.id} {code}: {title!r}"


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_reply_renders_within_whatsapps_limits(code: str) -> None:
    """Rendered for real: buttons, list rows, the list's button and the interactive body."""
    language = LANGUAGES[code]
    words = Wording(language.pgettext("button, at most 20 characters", "Choose"),
                    language.gettext("Reply with the number of your choice."))
    assert len(words.choose) <= MAX_BUTTON_TITLE
    turn = Turn(language, CONTENT, LANGUAGES)
    for result in results(turn):
        for reply in result.replies:
            for body in render_reply("49151", reply, words):
                if body["type"] == "text":
                    assert len(body["text"]["body"]) <= 4096
                    continue
                if body["type"] != "interactive":
                    continue
                interactive = body["interactive"]
                assert len(interactive["body"]["text"]) <= 1024
                if interactive["type"] == "button":
                    titles = [b["reply"]["title"] for b in interactive["action"]["buttons"]]
                    assert len(titles) <= 3 and len(set(titles)) == len(titles)
                    assert all(len(t) <= MAX_BUTTON_TITLE for t in titles)
                else:
                    rows = interactive["action"]["sections"][0]["rows"]
                    assert 1 <= len(rows) <= 10
                    assert all(len(r["title"]) <= MAX_ROW_TITLE and len(r.get("description", "")) <= MAX_ROW_DESCRIPTION
                               for r in rows)
