"""Languages and UI strings: one Babel `Translations` per locale, passed along with each message.

The supported languages are the folders in locales/ that hold a catalog; nothing in the code
lists them. Dates, times and weekdays are formatted with Babel for the user's locale.
"""

import datetime as dt
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from babel.support import NullTranslations, Translations

from bot.content import OpeningHours
from bot.errors import ConfigError


def script_of(text: str) -> str:
    """The script most letters of `text` are written in: "LATIN", "ARABIC", "CYRILLIC"...; "" if none."""
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else ""


@dataclass(frozen=True)
class Language:
    """A supported language: its code, its own name, its text direction and its UI catalog."""

    code: str
    native_name: str
    rtl: bool
    translations: NullTranslations

    @property
    def script(self) -> str:
        """The script the language is written in, read off its own name (العربية -> ARABIC)."""
        return script_of(self.native_name)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def pgettext(self, context: str, message: str) -> str:
        """A translation for one use of a text (`context`: "button, at most 20 characters")."""
        return str(self.translations.pgettext(context, message))


def _native_name(locale: Locale) -> str:
    name = locale.get_display_name(locale) or locale.language
    return name[:1].upper() + name[1:]


def load_languages(locales_dir: Path) -> dict[str, Language]:
    """Every locale with a compiled catalog (locales/<code>/LC_MESSAGES/messages.mo)."""
    languages: dict[str, Language] = {}
    for catalog in sorted(locales_dir.glob("*/LC_MESSAGES/messages.mo")):
        code = catalog.parent.parent.name
        locale = Locale.parse(code)
        with catalog.open("rb") as handle:
            translations = Translations(handle, domain="messages")
        languages[code] = Language(
            code=code,
            native_name=_native_name(locale),
            rtl=locale.character_order == "right-to-left",
            translations=translations,
        )
    if not languages:
        raise ConfigError(
            f"LOCALES_DIR: no compiled catalogs in {locales_dir} (run `make i18n-compile`)"
        )
    return languages


def format_opening_hours(hours: list[OpeningHours], language: str) -> str:
    """'Donnerstag, 10:00–12:00' / 'Thursday, 10:00 AM – 12:00 PM' / 'الخميس، 10:00 ص–12:00 م' in the user's locale."""
    day_names = get_day_names("wide", locale=language)
    # Arabic-script languages write their own comma and semicolon ("الخميس، 10:00").
    comma, semicolon = ("،", "؛") if script_of(day_names[0]) == "ARABIC" else (",", ";")
    parts = []
    for slot in hours:
        opens = dt.time.fromisoformat(slot.opens)
        closes = dt.time.fromisoformat(slot.closes)
        parts.append(
            f"{day_names[slot.weekday_index]}{comma} "
            f"{format_time(opens, 'short', locale=language)}–{format_time(closes, 'short', locale=language)}"
        )
    return f"{semicolon} ".join(parts)


def format_occurrence(start: dt.datetime, end: dt.datetime, language: str) -> str:
    """'Donnerstag, 3. Dezember 2026, 10:00–12:00' / 'الخميس، 3 ديسمبر 2026، 10:00 ص–12:00 م': one
    dated slot in the user's locale (wall-clock times in Europe/Berlin, as `start` and `end` carry)."""
    comma = "،" if script_of(get_day_names("wide", locale=language)[0]) == "ARABIC" else ","
    day = format_date(start.date(), "full", locale=language)
    return (f"{day}{comma} {format_time(start.time(), 'short', locale=language)}"
            f"–{format_time(end.time(), 'short', locale=language)}")
