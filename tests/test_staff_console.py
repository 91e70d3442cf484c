"""The staff console in a real browser (Debian's Chromium driven by Playwright), beside a user's
web chat: sign in, see the queue, open an Arabic case (shown right to left), claim, reply (the
answer appears in the user's chat), close (the user is back with the bot). Screenshots of the
queue and of the Arabic transcript are kept in var/test-artifacts/."""

import asyncio
from typing import Any

from bot.i18n import load_languages
from bot.settings import PROJECT_ROOT
from bot.staff import add_staff_user
from tests.test_web_page import WebChat, axe_violations, browser, needs_chromium, open_chat, served  # noqa: F401

ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
AR = load_languages(PROJECT_ROOT / "locales")["ar"]
PASSWORD = "correct horse battery"


def run(served: WebChat, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, served.loop).result(timeout=20)


@needs_chromium
def test_a_case_manager_answers_an_arabic_user_from_the_console(served: WebChat, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run(served, add_staff_user(served.app.state.storage, "amira", "case_manager", ["de", "ar"], PASSWORD))

    user = open_chat(browser, f"{served.url}/?lang=ar")
    user.locator("#text").fill("أريد أن أتكلم مع موظفة من فضلك")
    user.locator("#text").press("Enter")
    user.locator(".bot .buttons button", has_text=AR.gettext("Talk to a person")).last.click()
    user.locator(".bot .buttons button", has_text=AR.gettext("Yes, pass it on")).click()
    user.locator(".bot", has_text=AR.gettext("Cancel the request")).first.wait_for()

    staff = browser.new_page(viewport={"width": 1280, "height": 800})
    staff.goto(f"{served.url}/staff")
    staff.locator("input[name=username]").fill("amira")
    staff.locator("input[name=password]").fill(PASSWORD)
    staff.locator("#login-form button").click()
    row = staff.locator("#queue tbody tr").first
    row.wait_for()
    assert "my-language" in (row.get_attribute("class") or "")  # a case in a language Amira speaks
    assert row.locator("td").nth(1).inner_text() == "ar"
    staff.screenshot(path=str(ARTIFACTS / "staff-queue.png"), full_page=True)
    assert axe_violations(staff) == []

    row.locator("button").click()
    arabic = staff.locator("#transcript .msg.in p", has_text="أريد أن أتكلم").first
    arabic.wait_for()
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    staff.screenshot(path=str(ARTIFACTS / "staff-transcript-ar.png"), full_page=True)

    staff.locator("#claim").click()
    staff.locator("#reassign-to:enabled").wait_for()  # hers now: she may answer, hand on or close
    staff.locator("#reply-text:enabled").fill("مرحبا، أنا أميرة من مركز الاندماج. كيف أستطيع مساعدتك؟")
    staff.locator("#reply-form button").click()
    user.locator(".bot", has_text="أنا أميرة من مركز الاندماج").wait_for()  # live in the user's chat
    staff.locator("#transcript .msg.staff").wait_for()

    run(served, add_staff_user(served.app.state.storage, "jonas", "case_manager", ["de", "uk"], PASSWORD))
    staff.locator("#reassign-to").fill("jonas")
    staff.locator("#reassign-form button").click()
    staff.locator("#queue tbody tr", has_text="jonas").wait_for()  # handed on: the queue says to whom
    staff.locator("#reply-text:disabled").wait_for()  # no longer hers to answer
    jonas = browser.new_page(viewport={"width": 1280, "height": 800})
    jonas.goto(f"{served.url}/staff")
    jonas.locator("input[name=username]").fill("jonas")
    jonas.locator("input[name=password]").fill(PASSWORD)
    jonas.locator("#login-form button").click()
    jonas.locator("#queue tbody tr button").first.click()
    staff = jonas  # Jonas closes the case
    staff.locator("#outcome:enabled").fill("Beratung vereinbart")
    staff.locator("#close-form button").click()
    staff.locator("#queue-empty").wait_for(state="visible")
    back = AR.gettext("The case manager has closed your conversation. You are back with the chatbot. How can I help?")
    user.locator(".bot", has_text=back[:20]).wait_for()
