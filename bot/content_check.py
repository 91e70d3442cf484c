"""`make content-check`: everything in content/ checked, each problem with file, line and a fix, in German.

    .venv/bin/python -m bot.content_check                 # check; exit status 1 on any error
    .venv/bin/python -m bot.content_check stamp           # record the German fingerprint where missing
    .venv/bin/python -m bot.content_check reviewed TOPIC LANG   # a translation checked again

Errors stop the bot from loading the content (at start and on a live reload); warnings (drafts,
outdated translations, missing fingerprints) are listed and do not fail. The staff who run it read
German, so its explanations and suggestions are German; the loader's own (English) detail is kept
beside them for the developers.
"""

import datetime as dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.content import SOURCE_LANGUAGE, LoadedTopic, Topic, load_content, load_topic
from bot.errors import ContentError
from bot.handoff import load_team_hours
from bot.settings import PROJECT_ROOT
from bot.understanding import DIALOGUE_INTENTS

Severity = Literal["error", "warning"]

# The loader's message (English) -> what it means for a staff member, and what to do.
_EXPLAINED: tuple[tuple[str, str, str], ...] = (
    ("not valid YAML", "Die Datei ist kein gültiges YAML.",
     "Prüfen Sie in dieser Zeile die Einrückung (nur Leerzeichen, keine Tabulatoren), den Doppelpunkt "
     "nach dem Feldnamen und ob jedes Anführungszeichen geschlossen ist."),
    ("Field required", "Ein Pflichtfeld fehlt.",
     "Ergänzen Sie das genannte Feld; sehen Sie in einer anderen Themendatei nach, wie es aussieht."),
    ("Extra inputs are not permitted", "Dieses Feld kennt der Bot nicht.",
     "Prüfen Sie die Schreibweise des Feldnamens (z. B. `answer`, nicht `antwort`) oder löschen Sie das Feld."),
    ("String should have at most", "Der Text ist zu lang.",
     "Kürzen Sie ihn: Knopf-Titel (`title`) höchstens 40 Zeichen, `short_title` höchstens 20."),
    ("String should have at least", "Das Feld ist leer.", "Tragen Sie einen Text ein."),
    ("valid date", "Das Datum ist ungültig.", "Schreiben Sie es als JJJJ-MM-TT, z. B. 2026-12-31."),
    ("Input should be 'reviewed' or 'draft'", "Unbekannter Status.",
     "Erlaubt sind `draft` (noch nicht geprüft) und `reviewed` (vom KI geprüft)."),
    ("String should match pattern", "Das Feld hat nicht die erwartete Form.",
     "Vergleichen Sie mit derselben Angabe in einer anderen Themendatei."),
    ("texts lacks languages", "Es fehlen Sprachen.",
     "Fügen Sie für jede genannte Sprache einen Block unter `texts:` hinzu (mit `status: draft`)."),
    ("is no topic", "Ein Knopf verweist auf ein Thema, das es nicht gibt.",
     "Schreiben Sie die id eines vorhandenen Themas (der Dateiname in content/topics/ ohne .yml) oder `handoff`."),
    ("is no concept", "Dieser Begriff steht nicht in content/concepts.yml.",
     "Prüfen Sie die Schreibweise oder legen Sie den Begriff in content/concepts.yml an."),
    ("must match the file name", "Die id passt nicht zum Dateinamen.",
     "Benennen Sie die Datei wie die id (z. B. id `cafeo.hours` in cafeo.hours.yml)."),
    ("already leads to", "Dieser Intent führt schon zu einem anderen Thema.",
     "Jeder Intent gehört zu genau einem Thema: entfernen Sie ihn hier oder dort."),
    ("unknown placeholder", "Unbekannter Platzhalter in geschweiften Klammern.",
     "Erlaubt ist nur {opening_hours}, und nur bei Themen mit `opening_hours`."),
    ("a topic with a slot needs", "Bei einem Thema mit Auswahl (slot) fehlt ein Text.",
     "Ergänzen Sie `ask` (die Frage) und `unknown` (der Knopf „weiß ich nicht“)."),
    ("by_value lacks", "Für einen Wert der Auswahl fehlt die Antwort.",
     "Ergänzen Sie unter `by_value` eine Antwort für jeden Wert aus `slot.values`."),
)
_FALLBACK = ("Die Datei ist fehlerhaft.", "Vergleichen Sie die Stelle mit einer funktionierenden Themendatei.")

_LOCATED = re.compile(r"^(?P<path>[^:\n]+?):(?P<line>\d+): (?P<detail>.*)$")
_PHONE = re.compile(r"(?<![\d-])0\d[\d /-]{4,}\d")
_PHONE_FORMS = (re.compile(r"0\d{2,5} \d{1,8}(-\d{1,6})?"), re.compile(r"0800 \d{3} \d \d{3}"))
_EMAIL = re.compile(r"[\w.+-]*@[\w.-]*")
_EMAIL_FORM = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(r"(?:https?:/*|www\.)[^\s<>\"]*")
_URL_FORM = re.compile(r"(https?://)?[\w-]+(\.[\w-]+)*\.[a-z]{2,}(:\d+)?(/[^\s]*)?", re.IGNORECASE)
_TRAILING = ".,;:!?)»”\""


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    severity: Severity
    text: str  # what is wrong, in German
    suggestion: str  # what to do, in German
    detail: str = ""  # the loader's own words, for developers

    def __str__(self) -> str:
        label = "FEHLER" if self.severity == "error" else "Hinweis"
        detail = f" ({self.detail})" if self.detail else ""
        path = self.path.relative_to(Path.cwd()) if self.path.is_relative_to(Path.cwd()) else self.path
        return f"{path}:{self.line}: {label}: {self.text}{detail}\n    Vorschlag: {self.suggestion}"


def _explained(message: str) -> list[Problem]:
    """A ContentError's problems (`file:line: detail`, a detail may go on over more lines), each
    explained in German."""
    problems: list[Problem] = []
    for line in str(message).splitlines():
        located = _LOCATED.match(line)
        if located is None and problems:
            last = problems[-1]
            problems[-1] = Problem(last.path, last.line, last.severity, last.text, last.suggestion,
                                   f"{last.detail} {line.strip()}")
            continue
        path, number, detail = (Path(located["path"]), int(located["line"]), located["detail"]) if located \
            else (Path(line.split(":", 1)[0]), 1, line)
        text, suggestion = next(((t, s) for key, t, s in _EXPLAINED if key in detail), _FALLBACK)
        problems.append(Problem(path, number, "error", text, suggestion, detail))
    return problems


def _nlu_intents(nlu_dir: Path) -> dict[str, tuple[Path, int]]:
    """Every intent with training examples, and where it is first written."""
    found: dict[str, tuple[Path, int]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if (match := re.match(r"^\s*-\s*intent:\s*([\w.-]+)", line)) is not None:
                found.setdefault(match[1], (path, number))
    return found


def _value_lines(entry: LoadedTopic, path: tuple[str, ...], value: str) -> list[tuple[int, str]]:
    """(file line, text line) for each line of a field; a block (`|`) starts on the line after its key."""
    key_line = entry.line(*path)
    lines = value.splitlines() or [value]
    offset = 1 if len(lines) > 1 or value.endswith("\n") else 0
    return [(key_line + offset + index, text) for index, text in enumerate(lines)]


def _format_problems(path: Path, entry: LoadedTopic) -> list[Problem]:
    """Phone numbers, e-mail addresses and web addresses that would not work when tapped."""
    problems = []
    for language, text in entry.topic.texts.items():
        fields = {"title": text.title, "answer": text.answer, "ask": text.ask, "unknown": text.unknown,
                  **{f"by_value.{v}": a for v, a in text.by_value.items()}}
        for name, value in fields.items():
            for line, content in _value_lines(entry, ("texts", language, *name.split(".")), value):
                for found in _PHONE.finditer(content):
                    number = found[0].strip(" -/")
                    if not any(form.fullmatch(number) for form in _PHONE_FORMS):
                        problems.append(Problem(path, line, "error", f"Telefonnummer „{number}“ hat nicht die übliche Form.",
                                                "Vorwahl, Leerzeichen, Rufnummer, Durchwahl mit Bindestrich: 02323 16-4705."))
                for found in _EMAIL.finditer(content):
                    address = found[0].rstrip(_TRAILING)
                    if not _EMAIL_FORM.fullmatch(address):
                        problems.append(Problem(path, line, "error", f"E-Mail-Adresse „{address}“ ist unvollständig.",
                                                "Name@Domain mit Endung, z. B. integration@herne.de."))
                for found in _URL.finditer(content):
                    url = found[0].rstrip(_TRAILING)
                    if not _URL_FORM.fullmatch(url):
                        problems.append(Problem(path, line, "error", f"Webadresse „{url}“ ist unvollständig.",
                                                "Vollständig schreiben, z. B. https://www.herne.de/integrationszentrum."))
    return problems


def _status_problems(path: Path, entry: LoadedTopic) -> list[Problem]:
    topic = entry.topic
    problems = []
    drafts = [language for language, text in topic.texts.items() if text.status == "draft"]
    if drafts:
        problems.append(Problem(path, entry.line("texts"), "warning",
                                f"Noch nicht vom KI geprüft (draft): {', '.join(drafts)}.",
                                "Nach der Prüfung `status: reviewed` setzen, z. B. "
                                f"make content-reviewed TOPIC={topic.id} LANGUAGE={drafts[0]}."))
    for language, text in topic.texts.items():
        if language == SOURCE_LANGUAGE:
            continue
        if not text.source_hash:
            problems.append(Problem(path, entry.line("texts", language), "warning",
                                    f"Sprache {language}: Es ist nicht vermerkt, aus welchem deutschen Text übersetzt wurde.",
                                    "make content-stamp ausführen, wenn die Übersetzung zum heutigen deutschen Text passt."))
        elif topic.state(language) == "outdated":
            problems.append(Problem(path, entry.line("texts", language), "warning",
                                    f"Sprache {language}: veraltet, der deutsche Text wurde seit der Übersetzung geändert.",
                                    f"Übersetzung anpassen, dann make content-reviewed TOPIC={topic.id} LANGUAGE={language}."))
    return problems


def check_content(content_dir: Path, languages: set[str], nlu_dir: Path,
                  today: dt.date | None = None) -> list[Problem]:
    """Every problem in content/, errors first; no errors means the bot can load it."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    try:
        store = load_content(content_dir, languages)
    except ContentError as error:
        problems.extend(_explained(str(error)))
        store = None
    try:
        load_team_hours(content_dir / "team.yml")
    except ContentError as error:
        problems.extend(_explained(str(error)))
    entries: dict[str, tuple[Path, LoadedTopic]] = {}
    for path in sorted((content_dir / "topics").glob("*.yml")):
        try:
            entries[path.stem] = (path, load_topic(path))
        except ContentError:
            continue  # reported by load_content
    for path, entry in entries.values():
        problems.extend(_format_problems(path, entry))
        if entry.topic.valid_until is not None and entry.topic.valid_until < today:
            problems.append(Problem(path, entry.line("valid_until"), "error",
                                    f"Abgelaufen: gültig nur bis {entry.topic.valid_until.isoformat()}.",
                                    "Inhalt prüfen und aktualisieren, dann `valid_until` verschieben oder löschen."))
        problems.extend(_status_problems(path, entry))
    if store is not None:
        problems.extend(_intent_problems(store.topics, entries, nlu_dir))
    return sorted(problems, key=lambda p: (p.severity != "error", str(p.path), p.line))


def _intent_problems(topics: dict[str, Topic], entries: dict[str, tuple[Path, LoadedTopic]],
                     nlu_dir: Path) -> list[Problem]:
    trained = _nlu_intents(nlu_dir)
    problems = []
    answered = {intent for topic in topics.values() for intent in topic.intents}
    for topic in topics.values():
        path, entry = entries[topic.id]
        for position, intent in enumerate(topic.intents):
            if intent not in trained:
                problems.append(Problem(path, entry.line("intents", position), "error",
                                        f"Für den Intent „{intent}“ gibt es keine Beispielsätze in {nlu_dir}.",
                                        "Beispielsätze in jeder Sprache in nlu_data/<sprache>.yml ergänzen "
                                        "(eine Entwicklerin trainiert dann das Modell neu)."))
    for intent, (path, line) in trained.items():
        if intent not in answered and intent not in DIALOGUE_INTENTS:
            problems.append(Problem(path, line, "error", f"Der Intent „{intent}“ führt zu keinem Thema.",
                                    "Den Intent unter `intents:` eines Themas in content/topics/ eintragen "
                                    "oder die Beispielsätze entfernen."))
    return problems


# -- recording the German fingerprint ---------------------------------------------------------

def _set_field(lines: list[str], entry: LoadedTopic, language: str, name: str, value: str) -> None:
    """Set `texts.<language>.<name>` in the file's lines, keeping everything else as written."""
    status_line = entry.line("texts", language, "status") - 1
    indent = lines[status_line][: len(lines[status_line]) - len(lines[status_line].lstrip())]
    if ("texts", language, name) in entry.lines:
        at = entry.line("texts", language, name) - 1
        lines[at] = f"{indent}{name}: {value}"
    else:
        lines.insert(status_line + 1, f"{indent}{name}: {value}")


def stamp(path: Path, language: str | None = None, reviewed: bool = False) -> list[str]:
    """Record the German fingerprint in `path` for the translations lacking one (or for `language`,
    also when it has one), and mark `language` reviewed; the languages changed."""
    entry = load_topic(path)
    topic = entry.topic
    lines = path.read_text(encoding="utf-8").split("\n")
    chosen = [language] if language else [code for code, text in topic.texts.items()
                                          if code != SOURCE_LANGUAGE and not text.source_hash]
    # Bottom to top, so that an inserted line does not move the lines still to change.
    for code in sorted(chosen, key=lambda c: entry.line("texts", c), reverse=True):
        if reviewed:
            at = entry.line("texts", code, "status") - 1
            lines[at] = re.sub(r"status:\s*\w+", "status: reviewed", lines[at], count=1)
        if code != SOURCE_LANGUAGE:
            _set_field(lines, entry, code, "source_hash", topic.fingerprint())
    path.write_text("\n".join(lines), encoding="utf-8")
    load_topic(path)  # still a valid file
    return chosen


def _languages(locales_dir: Path) -> set[str]:
    return {p.name for p in locales_dir.iterdir() if (p / "LC_MESSAGES").is_dir()}


def main(argv: list[str]) -> int:
    content_dir, locales_dir, nlu_dir = PROJECT_ROOT / "content", PROJECT_ROOT / "locales", PROJECT_ROOT / "nlu_data"
    if argv[:1] == ["stamp"]:
        for path in sorted((content_dir / "topics").glob("*.yml")):
            if changed := stamp(path):
                print(f"{path}: Fingerabdruck vermerkt für {', '.join(changed)}")
        return 0
    if argv[:1] == ["reviewed"]:
        if len(argv) != 3 or not argv[1] or not argv[2]:
            print("Aufruf: make content-reviewed TOPIC=<id, z. B. cafeo.hours> LANGUAGE=<Sprache, z. B. ar>", file=sys.stderr)
            return 2
        path = content_dir / "topics" / f"{argv[1]}.yml"
        if not path.exists():
            print(f"Kein Thema {argv[1]!r}: {path} gibt es nicht.", file=sys.stderr)
            return 2
        if argv[2] not in load_topic(path).topic.texts:
            print(f"{path}: keine Sprache {argv[2]!r} unter texts.", file=sys.stderr)
            return 2
        stamp(path, argv[2], reviewed=True)
        print(f"{path}: {argv[2]} ist jetzt `reviewed`.")
        return 0
    problems = check_content(content_dir, _languages(locales_dir), nlu_dir)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    print(f"\n{errors} Fehler, {len(problems) - errors} Hinweise." +
          (" Der Bot lädt diesen Stand nicht: bitte die Fehler beheben." if errors else " Der Inhalt kann geladen werden."))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
