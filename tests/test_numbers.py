"""Phone numbers, times and addresses stay readable and usable: in Arabic and Persian answers the
digits keep their order, and the web chat makes numbers tap-to-call and e-mail addresses links.

The order is checked twice: with the Unicode bidi algorithm (python-bidi) on the answers the
dialogue gives, and in a real browser (Debian's Chromium, driven by Playwright) on the page.
"""

import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from bidi import get_display

from bot.bidi import isolate_numbers
from bot.content import OpeningHours
from bot.dialogue import Dialogue
from bot.i18n import format_opening_hours
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage
from bot.app import create_app
from tests.conftest import free_port, make_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def answer(dialogue: Dialogue, language: str, topic: str) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    await dialogue.handle(IncomingMessage("web", "u1", now, button=f"l:{language}"))
    outcome = await dialogue.handle(IncomingMessage("web", "u1", now, button=f"t:{topic}"))
    return outcome.replies[0].text


@pytest.mark.parametrize("language", ["ar", "fa"])
@pytest.mark.parametrize(("topic", "shown"), [("cafeo.about", "02323 16-4705"),
                                              ("cafeo.about", "Overwegstr. 32, 44623 Herne"),
                                              ("ki.contact", "02323 16-3850")])
async def test_numbers_in_right_to_left_answers_are_shown_in_order(dialogue: Dialogue, language: str,
                                                                   topic: str, shown: str) -> None:
    text = await answer(dialogue, language, topic)
    for line in text.splitlines():
        if shown in line:
            assert shown in get_display(line, base_dir="R"), line
            break
    else:
        pytest.fail(f"{shown!r} not in the {language} answer of {topic}")


async def test_left_to_right_answers_are_left_as_written(dialogue: Dialogue) -> None:
    assert "\u2066" not in await answer(dialogue, "de", "cafeo.about")


def test_without_isolation_the_digits_would_be_scrambled() -> None:
    """The defect isolation prevents, shown with the same algorithm the test above relies on."""
    line = "الهاتف: 02323 16-4705"
    assert "02323 16-4705" not in get_display(line, base_dir="R")
    assert "02323 16-4705" in get_display(isolate_numbers(line), base_dir="R")


@pytest.mark.parametrize(("language", "comma"), [("ar", "،"), ("fa", "،"), ("de", ","), ("tr", ",")])
def test_opening_hours_use_the_languages_own_comma(language: str, comma: str) -> None:
    hours = [OpeningHours(weekday="thursday", opens="10:00", closes="12:00")]
    formatted = format_opening_hours(hours, language)
    assert comma in formatted and ("," not in formatted or comma == ",")


# -- the web chat in a real browser -------------------------------------------------------

@pytest.fixture
def web_chat(tmp_path: Path, guesser: LanguageGuesser) -> Iterator[str]:
    """The application served by uvicorn on a free port (NLU down: buttons still work)."""
    port = free_port()
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'bot.db'}"), guesser)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the web chat did not start")
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# Each character's left edge within the first link of the given kind, in document order.
CHARACTER_POSITIONS = """(selector) => {
  const link = [...document.querySelectorAll(selector)].pop();
  const node = link.firstChild, xs = [];
  for (let i = 0; i < node.length; i++) {
    const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
    xs.push([node.data[i], range.getBoundingClientRect().left, range.getBoundingClientRect().top]);
  }
  return {text: link.textContent, href: link.href, xs, lines: link.getClientRects().length};
}"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("language", ["ar", "fa", "de"])
def test_the_web_chat_shows_phone_numbers_in_order_as_call_links(web_chat: str, language: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 320, "height": 640})  # a small phone
        page.goto(f"{web_chat}/?lang={language}")
        page.locator(".bot .buttons button").first.wait_for()  # the menu, in the page's language
        page.locator(".bot .buttons button").first.click()  # the first menu topic: CaféO
        page.locator("a[href^='tel:']").last.wait_for()
        assert page.evaluate("document.documentElement.dir") == ("rtl" if language in ("ar", "fa") else "ltr")
        phone = page.evaluate(CHARACTER_POSITIONS, "a[href^='tel:']")
        assert phone["text"] == "02323 16-4705" and phone["href"] == "tel:+492323164705"
        assert phone["lines"] == 1  # never wraps inside
        lefts = [x for _, x, _ in phone["xs"]]
        assert lefts == sorted(lefts), phone["xs"]  # read left to right, as dialled
        browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_web_chat_links_e_mail_addresses(web_chat: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(web_chat)
        page.evaluate("send({button: 't:ki.contact'}, 'KI')")
        page.locator("a[href^='mailto:']").first.wait_for()
        assert page.locator("a[href^='mailto:']").first.get_attribute("href") == "mailto:integration@herne.de"
        browser.close()

