"""The web chat's pages: the chat at `/` and the privacy notice at `/privacy`, in the user's language.

Every word on them comes from the gettext catalogs, like the bot's answers. The chat page carries
the strings of every language, so it switches language without a reload when the conversation
does; the server picks the first one (`?lang=ar`, else the browser's Accept-Language) so the page
never flashes in the wrong language or direction.
"""

import html
import json
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.i18n import Language

STATIC = Path(__file__).parent / "static"


def _(message: str) -> str:
    """Marks a string for `make i18n-extract`; it is translated per language when a page is built."""
    return message


# The chat page's strings, by the key its script and `data-ui` attributes use.
CHAT_STRINGS = {
    "title": _("Chat with the Integration Centre Herne"),
    "conversation": _("Conversation"),
    "message": _("Your message"),
    "placeholder": _("Write your question…"),
    "send": _("Send"),
    "typing": _("The bot is writing…"),
    "no_connection": _("No connection. Please try again."),
    "not_sent": _("Sorry, this message could not be sent."),
    "language": _("Language"),
    "privacy": _("What I store about you"),
}

# The privacy page reuses the texts the bot gives for /privacy and /delete (actions/privacy.py).
PRIVACY_STRINGS = {
    "title": _("What I store about you"),
    "stored": _(
        "I store your language, the district you chose (if any), your messages and my answers, so that I can "
        "answer in context. If you ask for a person and agree, the KI's case-management team sees this "
        "conversation, and I keep your answer. You can delete all of it at any time with /delete."
    ),
    "delete": _("Delete my data"),
    "confirm": _("Delete all your messages and settings here? This cannot be undone."),
    "yes": _("Yes, delete"),
    "no_connection": _("No connection. Please try again."),
    "not_sent": _("Sorry, this message could not be sent."),
    "back": _("Back to the chat"),
}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _fill(template: str, values: dict[str, str]) -> str:
    """Replaces `{{name}}` with `values[name]`; every value must already be safe HTML."""
    missing = set(_PLACEHOLDER.findall(template)) - set(values)
    if missing:
        raise KeyError(f"template placeholders without a value: {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no `</script>` or `<!--` can close it)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _translated(language: Language, strings: dict[str, str]) -> dict[str, str]:
    return {key: language.gettext(message) for key, message in strings.items()}


def choose_language(languages: dict[str, Language], requested: str | None, accept_language: str,
                    default: str) -> str:
    """The page's first language: `?lang=`, else the browser's preference (Accept-Language), else `default`."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        wanted.append((-quality, position, tag.strip()))
    candidates = [requested or ""] + [tag for quality, _position, tag in sorted(wanted) if quality < 0]
    for tag in candidates:
        code = tag.replace("_", "-").split("-")[0].lower()
        if code in languages:
            return code
    return default if default in languages else next(iter(languages))


def page_html(languages: dict[str, Language], language_code: str | None = None) -> str:
    """The chat page, first shown in `language_code`, carrying every language's strings for its script."""
    code = language_code if language_code in languages else next(iter(languages))
    language = languages[code]
    ui = _translated(language, CHAT_STRINGS)
    everything = {
        other.code: {"name": other.native_name, "rtl": other.rtl, "ui": _translated(other, CHAT_STRINGS)}
        for other in languages.values()
    }
    options = "".join(
        f'<option value="{html.escape(other.code)}" lang="{html.escape(other.code)}"'
        f'{" selected" if other.code == code else ""}>{html.escape(other.native_name)}</option>'
        for other in languages.values()
    )
    values = {key: html.escape(text) for key, text in ui.items()}
    values |= {"lang": html.escape(code), "dir": "rtl" if language.rtl else "ltr",
               "language_options": options, "languages_json": _script_json(everything)}
    return _fill((STATIC / "chat.html").read_text(encoding="utf-8"), values)


def privacy_html(languages: dict[str, Language], language_code: str | None = None) -> str:
    """What the bot stores and how to delete it, in one language, with a way back to the chat."""
    code = language_code if language_code in languages else next(iter(languages))
    language = languages[code]
    strings = _translated(language, PRIVACY_STRINGS)
    values = {key: html.escape(text) for key, text in strings.items()}
    values |= {"lang": html.escape(code), "dir": "rtl" if language.rtl else "ltr",
               "strings_json": _script_json(strings)}
    return _fill((STATIC / "privacy.html").read_text(encoding="utf-8"), values)


def routes(languages: dict[str, Language], default_language: str = "de") -> list[Route]:
    """`GET /` (the chat) and `GET /privacy`, both taking `?lang=xx`; pages are built once per language."""
    chat_pages = {code: page_html(languages, code) for code in languages}
    privacy_pages = {code: privacy_html(languages, code) for code in languages}

    def language_of(request: Request) -> str:
        return choose_language(languages, request.query_params.get("lang"),
                               request.headers.get("accept-language", ""), default_language)

    def respond(body: str, code: str) -> Response:
        # Content-Language for caches and crawlers; Vary because the language follows the browser's.
        return HTMLResponse(body, headers={"Content-Language": code, "Vary": "Accept-Language",
                                           "Cache-Control": "no-cache", "Referrer-Policy": "same-origin",
                                           "X-Content-Type-Options": "nosniff"})

    async def chat_page(request: Request) -> Response:
        code = language_of(request)
        return respond(chat_pages[code], code)

    async def privacy_page(request: Request) -> Response:
        code = language_of(request)
        return respond(privacy_pages[code], code)

    return [Route("/", chat_page, methods=["GET"]), Route("/privacy", privacy_page, methods=["GET"])]
