"""The web chat page in a real browser (Debian's Chromium, driven by Playwright): accessible (axe-core),
right to left in Arabic and Persian, one message per send however often the button is pressed, errors
in the user's language, the conversation back after a reload, later replies shown once.

The application runs on uvicorn with the NLU down: buttons still work, typed text gets the menu.
"""

import asyncio
import difflib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot import web_page
from bot.i18n import Language, load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import Reply
from bot.settings import PROJECT_ROOT
from bot.app import create_app
from bot.channels.web import COOKIE
from tests.conftest import free_port, make_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "data" / "axe" / "axe.min.js"  # axe-core 4.14.1, MPL-2.0 (see its README)
LANGUAGES = load_languages(PROJECT_ROOT / "locales")
NO_CONNECTION = "No connection. Please try again."

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (apt-get install chromium)")


def ui(language: str, message: str) -> str:
    return LANGUAGES[language].gettext(message)


# -- the page's strings, without a browser --------------------------------------------------

@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_every_page_string_is_translated(code: str) -> None:
    """English is the msgid itself; every other catalog has its own words for each string on the pages."""
    untranslated = [message for message in {**web_page.CHAT_STRINGS, **web_page.PRIVACY_STRINGS}.values()
                    if ui(code, message) == message]
    assert untranslated == []


def test_the_page_starts_in_the_language_asked_for_or_the_browsers() -> None:
    choose = web_page.choose_language
    assert choose(LANGUAGES, "ar", "de-DE,de;q=0.9", "de") == "ar"
    assert choose(LANGUAGES, None, "es-ES,es;q=0.9,uk;q=0.8,en;q=0.5", "de") == "uk"
    assert choose(LANGUAGES, None, "fr-FR,fr;q=0.9,en;q=0.5", "de") == "fr"
    assert choose(LANGUAGES, None, "bg-BG,bg;q=0.9,de;q=0.5", "de") == "bg"
    assert choose(LANGUAGES, "xx", "en;q=0.2, tr", "de") == "tr"
    assert choose(LANGUAGES, None, "es", "de") == "de"


def test_the_page_cannot_be_broken_out_of_by_a_translation() -> None:
    """A catalog string with `</script>` or `<b>` stays text: the page's JSON and HTML are escaped."""
    evil = Language("de", "Deutsch", False, _Catalog({"Send": "</script><b>x</b>"}))
    page = web_page.page_html({"de": evil}, "de")
    assert "</script><b>" not in page and "&lt;/script&gt;&lt;b&gt;" in page


class _Catalog:
    """A stand-in catalog (only `gettext`) for the escaping test."""

    def __init__(self, strings: dict[str, str]) -> None:
        self.strings = strings

    def gettext(self, message: str) -> str:
        return self.strings.get(message, message)


# -- the page in a real browser --------------------------------------------------------------

class WebChat:
    """The application served by uvicorn on a free port (NLU down: buttons still work)."""

    def __init__(self, app: Any, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.app, self.url, self.loop = app, url, loop

    def queue_reply(self, page: Any, text: str) -> None:
        """A reply that answers nothing the user sent (as a case manager's would), for this page's user."""
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
        user_ref = self.app.state.delivery.ids.ref("web", cookie.rsplit(".", 1)[0])
        enqueue = self.app.state.delivery.enqueue("web", user_ref, (Reply(text),))
        asyncio.run_coroutine_threadsafe(enqueue, self.loop).result(timeout=10)


@pytest.fixture
def served(tmp_path: Path, guesser: LanguageGuesser) -> Iterator[WebChat]:
    port = free_port()
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'bot.db'}"), guesser)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the web chat did not start")
        threading.Event().wait(0.05)
    yield WebChat(app, f"http://127.0.0.1:{port}", loop)
    server.should_exit = True
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def web_chat(served: WebChat) -> str:
    return served.url


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def open_chat(browser: Any, url: str, **options: Any) -> Any:
    """A phone-sized page on the chat, once the menu (the bot's first reply) is there."""
    page = browser.new_page(viewport={"width": 320, "height": 640}, **options)
    page.goto(url)
    page.locator(".bot .buttons button").first.wait_for()
    return page


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    return list(page.evaluate("""async () => (await axe.run(document)).violations.map(
        v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""))


@needs_chromium
@pytest.mark.parametrize("language", ["de", "ar"])
def test_the_chat_and_the_privacy_notice_have_no_accessibility_violations(web_chat: str, browser: Any,
                                                                          language: str) -> None:
    page = open_chat(browser, f"{web_chat}/?lang={language}")
    page.locator(".bot .buttons button").first.click()  # an answer with links and buttons
    page.locator("a[href^='tel:']").first.wait_for()
    assert axe_violations(page) == []
    page.locator("#privacy").click()
    page.wait_for_url("**/privacy?lang=*")
    assert axe_violations(page) == []


@needs_chromium
def test_the_page_has_a_heading_a_labelled_form_in_main_and_a_log(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=tr")
    assert page.get_by_role("heading", level=1).inner_text() == ui("tr", "Chat with the Integration Centre Herne")
    assert page.locator("main form").get_by_label(ui("tr", "Your message")).count() == 1
    assert page.get_by_role("button", name=ui("tr", "Send")).count() == 1
    assert page.locator("[role=log] .bot").count() >= 1
    assert page.get_by_role("link", name=ui("tr", "What I store about you")).get_attribute("href") == "/privacy?lang=tr"


# Whether a screen reader reads an element out when it appears: inside a live region, which an
# aria-live attribute makes, or a role that is live unless aria-live="off" says otherwise.
ANNOUNCED = """(el) => {
  for (let node = el; node; node = node.parentElement) {
    const live = node.getAttribute("aria-live");
    if (live) return live !== "off";
    if (["log", "status", "alert"].includes(node.getAttribute("role"))) return true;
  }
  return false;
}"""


@needs_chromium
def test_only_the_bots_replies_are_announced_to_screen_readers(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    page.locator("#text").fill("Hallo zusammen")
    page.locator("#text").press("Enter")
    page.locator(".me ~ .bot").first.wait_for()  # the bot's answer to it
    mine = page.locator(".me").last
    assert mine.inner_text() == "Hallo zusammen"
    assert not mine.evaluate(ANNOUNCED)
    live_text = page.locator("[aria-live=polite], [aria-live=assertive]").all_inner_texts()
    assert "Hallo zusammen" not in "\n".join(live_text)
    answer = page.locator(".me ~ .bot").first.evaluate("el => el.firstChild.textContent")
    assert any(answer.strip() in text for text in live_text), live_text


@needs_chromium
def test_arabic_runs_right_to_left_and_the_layout_mirrors(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["de", "ltr"]
    page.locator("#language").select_option("ar")  # the bot switches too
    page.wait_for_function("document.querySelectorAll('.bot').length >= 2")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.locator("h1").inner_text() == ui("ar", "Chat with the Integration Centre Herne")
    assert page.locator("#text").get_attribute("placeholder") == ui("ar", "Write your question…")
    text, send = page.locator("#text").bounding_box(), page.locator("#send").bounding_box()
    assert send["x"] + send["width"] <= text["x"]  # the send button sits at the left end
    log, reply = page.locator("#log").bounding_box(), page.locator(".bot").last.bounding_box()
    assert log["x"] + log["width"] - (reply["x"] + reply["width"]) < 20  # the bot's replies start at the right
    # Served in Persian from the start, too.
    page = browser.new_page()
    page.goto(f"{web_chat}/?lang=fa")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["fa", "rtl"]


@needs_chromium
def test_the_page_follows_the_browsers_language(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, web_chat, locale="uk-UA")
    assert page.evaluate("document.documentElement.lang") == "uk"
    assert page.title() == ui("uk", "Chat with the Integration Centre Herne")


@needs_chromium
def test_while_waiting_the_bot_is_typing_and_a_double_send_sends_once(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    held: list[Any] = []
    page.route("**/api/chat", lambda route: held.append(route))  # every request waits here until released below
    typing = page.locator("#typing")
    assert not typing.is_visible()
    page.locator("#text").fill("Wann ist das CaféO offen?")
    page.locator("#send").dblclick(delay=10)
    page.locator("#text").press("Enter")
    page.locator("#text").press("Enter")
    typing.wait_for(state="visible")
    assert typing.inner_text().startswith(ui("de", "The bot is writing…"))
    assert page.locator("#send").is_disabled() and page.locator("#text").get_attribute("readonly") is not None
    page.locator(".bot .buttons button").first.click(force=True)  # a menu button, pressed meanwhile
    page.wait_for_timeout(300)
    assert len(held) == 1
    body = json.loads(held[0].request.post_data)
    assert body["text"] == "Wann ist das CaféO offen?" and "user" not in body
    assert isinstance(body["id"], str) and 0 < len(body["id"]) <= 64
    replies_before = page.locator(".bot").count()
    held[0].continue_()
    page.wait_for_function(f"document.querySelectorAll('.bot').length > {replies_before}")
    assert not typing.is_visible()
    assert page.locator(".me").all_inner_texts() == ["Wann ist das CaféO offen?"]
    assert len(held) == 1


@needs_chromium
@pytest.mark.parametrize("failure", ["offline", "503"])
def test_a_failed_send_says_so_in_the_pages_language_and_can_be_sent_again(web_chat: str, browser: Any,
                                                                           failure: str) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=ar")
    sent: list[dict[str, Any]] = []

    def fail(route: Any) -> None:
        sent.append(json.loads(route.request.post_data))
        if failure == "offline":
            route.abort("internetdisconnected")
        else:
            route.fulfill(status=503, content_type="application/json", body='{"error": "database down"}')

    page.route("**/api/chat", fail)
    page.locator("#text").fill("مرحبا")
    page.locator("#text").press("Enter")
    error = page.locator(".bot.error")
    error.wait_for()
    assert error.inner_text() == ui("ar", NO_CONNECTION) != NO_CONNECTION
    assert page.locator("#text").input_value() == "مرحبا"  # back in the input, to send again
    page.unroute("**/api/chat")
    page.route("**/api/chat", lambda route: (sent.append(json.loads(route.request.post_data)), route.continue_()))
    page.locator("#text").press("Enter")
    page.wait_for_function("document.querySelector('#log .bot:last-of-type:not(.error)') !== null "
                           "&& !document.querySelector('#typing').checkVisibility()")
    assert [message["text"] for message in sent] == ["مرحبا", "مرحبا"]
    assert sent[0]["id"] == sent[1]["id"]  # the same message: the server keeps it once if both arrived


@needs_chromium
def test_a_long_answer_is_shown_from_its_start(web_chat: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 320, "height": 420})
    page.goto(f"{web_chat}/?lang=ru")
    page.locator(".bot .buttons button").first.wait_for()
    page.evaluate("send({button: 't:ki.contact'}, 'KI')")
    page.locator("a[href^='mailto:']").first.wait_for()
    answer = page.locator(".bot").last
    log = page.locator("#log").bounding_box()
    top = answer.bounding_box()["y"]
    assert page.evaluate("log.scrollHeight - log.clientHeight - log.scrollTop") > 20  # the answer is longer than the screen
    assert log["y"] <= top <= log["y"] + 20  # and its first line is at the top of the conversation


@needs_chromium
def test_the_privacy_notice_says_what_is_stored_and_deletes_it(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    page.locator("#language").select_option("tr")  # the notice follows the chat's language
    page.locator(".me ~ .bot").first.wait_for()
    page.get_by_role("link", name=ui("tr", "What I store about you")).click()
    page.wait_for_url("**/privacy?lang=tr")
    assert page.locator("h1").inner_text() == ui("tr", "What I store about you")
    assert ui("tr", web_page.PRIVACY_STRINGS["stored"]) in page.locator("main").inner_text()
    page.get_by_role("button", name=ui("tr", "Delete my data")).click()
    page.get_by_role("button", name=ui("tr", "Yes, delete")).click()
    done = ui("tr", "Done: your messages and settings are deleted. Write to me any time to start again.")
    page.get_by_role("status").filter(has_text=done).wait_for()
    page.get_by_role("link", name=ui("tr", "Back to the chat")).click()
    page.wait_for_url("**/?lang=tr")
    page.locator(".bot .buttons button").first.wait_for()
    assert page.locator(".me").count() == 0  # a fresh start


@needs_chromium
def test_after_a_reload_the_conversation_is_shown_again(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    page.locator(".bot .buttons button").first.click()  # the first topic of the menu: CaféO
    page.locator("a[href^='tel:']").first.wait_for()
    page.locator("#language").select_option("tr")
    page.locator(".me ~ .me ~ .bot").first.wait_for()
    before = page.locator("#log .msg:not(.typing)").all_inner_texts()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    page.locator("a[href^='tel:']").first.wait_for()
    page.wait_for_timeout(300)
    # The history does not carry a reply's place (its map link) yet: see the test after this one.
    before = [re.sub("\n📍 .*", "", text) for text in before]
    after = [re.sub("\n📍 .*", "", text) for text in page.locator("#log .msg:not(.typing)").all_inner_texts()]
    assert after == before, "\n".join(difflib.unified_diff(before, after, lineterm=""))
    assert not any(url.endswith("/api/chat") for url in requests)  # shown from the history, not asked again
    assert page.evaluate("document.documentElement.lang") == "tr"  # in the conversation's language
    page.locator(".buttons button").last.click()  # the buttons still work
    page.wait_for_function(f"document.querySelectorAll('#log .msg:not(.typing)').length > {len(before)}")


@needs_chromium
def test_after_a_reload_a_place_keeps_its_map_link(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=de")
    page.locator(".bot .buttons button").first.click()  # CaféO: an answer with its place
    page.locator(".me ~ .bot a[href*='openstreetmap']").wait_for()
    page.reload()
    page.locator("a[href^='tel:']").first.wait_for()
    assert page.locator(".me ~ .bot a[href*='openstreetmap']").count() == 1


@needs_chromium
def test_a_reply_queued_later_appears_once(served: WebChat, browser: Any) -> None:
    page = open_chat(browser, f"{served.url}/?lang=de")
    page.locator(".bot .buttons button").first.click()
    page.locator(".me ~ .bot").first.wait_for()
    page.wait_for_timeout(1500)  # longer than the event stream's poll: an immediate reply is not sent twice
    shown = page.locator("#log .bot").all_inner_texts()
    assert len(shown) == len(set(shown))
    served.queue_reply(page, "Frau Demir hat geantwortet: Termin am Montag, 10:00.")
    served.queue_reply(page, "Bitte bringen Sie Ihren Pass mit.")
    later = page.locator(".bot", has_text="Bitte bringen Sie Ihren Pass mit.")
    later.wait_for()
    page.wait_for_timeout(1500)
    assert page.locator("#log .bot").all_inner_texts() == shown + [
        "Frau Demir hat geantwortet: Termin am Montag, 10:00.", "Bitte bringen Sie Ihren Pass mit."]
    assert "Bitte bringen Sie Ihren Pass mit." in page.locator("#announce").inner_text()  # read out, too


@needs_chromium
def test_when_the_event_stream_breaks_off_the_page_resumes_and_shows_nothing_twice(web_chat: str,
                                                                                  browser: Any) -> None:
    """The stream is faked at the network edge: it breaks off after event 5, and the server the page
    reconnects to sends event 5 again before event 6 (as one that missed `after` would)."""
    streams: list[str] = []

    def event(number: int, text: str) -> str:
        data = json.dumps({"text": text, "buttons": [], "language": "de"})
        return f"id: {number}\nevent: reply\ndata: {data}\n\n"

    def stream(route: Any) -> None:
        streams.append(route.request.url)
        if len(streams) == 1:
            body = event(5, "Antwort eins")
        elif len(streams) == 2:
            body = event(5, "Antwort eins") + event(6, "Antwort zwei")
        else:
            return route.abort()
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page = browser.new_page()
    page.route("**/api/events*", stream)
    page.goto(f"{web_chat}/?lang=de")
    page.locator(".bot", has_text="Antwort zwei").wait_for(timeout=10000)
    page.wait_for_timeout(500)
    assert page.locator(".bot", has_text="Antwort eins").count() == 1
    assert page.locator(".bot", has_text="Antwort zwei").count() == 1
    assert streams[0].endswith("/api/events?after=0")
    assert streams[1].endswith("/api/events?after=5")  # resumed where the stream broke off


@needs_chromium
def test_the_womens_hour_links_its_calendar_file(web_chat: str, browser: Any) -> None:
    page = open_chat(browser, f"{web_chat}/?lang=uk")
    page.evaluate("send({button: 't:cafeo.women'}, 'КафеО')")
    link = page.get_by_role("link", name=ui("uk", "Add to calendar"))
    link.wait_for()
    assert link.get_attribute("href") == "/calendar/cafeo.women.ics?lang=uk"
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "cafeo.women.ics"
    assert Path(download.value.path()).read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    assert axe_violations(page) == []
