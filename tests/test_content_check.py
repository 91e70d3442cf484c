"""`make content-check` and the translation statuses: a staff member who breaks a file is told, in
German, which file and line and what to do; a translation whose German text changed is served
with a note and the German text on request, until staff mark it reviewed again."""

import datetime as dt
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import content_check
from bot.content import load_content
from bot.content_check import Problem, check_content, stamp
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage
from bot.settings import PROJECT_ROOT
from bot.storage import Storage, make_engine, migrate
from tests.fakes import FakeNlu

LANGUAGES = {p.name for p in (PROJECT_ROOT / "locales").iterdir() if (p / "LC_MESSAGES").is_dir()}
TODAY = dt.date(2026, 12, 4)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the content and the NLU data to break."""
    for name in ("content", "nlu_data"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def check(root: Path) -> list[Problem]:
    return check_content(root / "content", LANGUAGES, root / "nlu_data", TODAY)


def errors(root: Path) -> list[Problem]:
    return [p for p in check(root) if p.severity == "error"]


def edit(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace `old` (which must be there) and return the line where it was."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return line


def test_the_real_content_has_no_errors() -> None:
    problems = check_content(PROJECT_ROOT / "content", LANGUAGES, PROJECT_ROOT / "nlu_data")
    assert [str(p) for p in problems if p.severity == "error"] == []


@pytest.mark.parametrize(("old", "new", "german"), [
    ('    title: "CaféO: Öffnungszeiten"', '\ttitle: "CaféO: Öffnungszeiten"', "kein gültiges YAML"),
    ("    status: draft\n    title: \"CaféO: Öffnungszeiten\"", "    status: draft\n    titel: \"CaféO: Öffnungszeiten\"",
     "kennt der Bot nicht"),
    ("follow_ups: [cafeo.women,", "follow_ups: [cafeo.woman,", "Thema, das es nicht gibt"),
    ("reviewed: 2026-11-30", "reviewed: 2026-13-30", "Datum ist ungültig"),
    ("status: draft", "status: fertig", "Unbekannter Status"),
])
def test_a_broken_topic_file_is_named_with_its_line_and_explained_in_german(root: Path, old: str, new: str,
                                                                            german: str) -> None:
    path = root / "content" / "topics" / "cafeo.hours.yml"
    line = edit(path, old, new) + new.count("\n")
    found = [p for p in errors(root) if german in p.text]
    assert [(p.path, p.line) for p in found] == [(path, line)] and found[0].suggestion
    if "titel" in new:  # and the field it was meant to be is missing
        assert any("Pflichtfeld" in p.text and "title" in p.detail for p in errors(root))
    else:
        assert len(errors(root)) == 1


def test_a_missing_language_is_an_error(root: Path) -> None:
    path = root / "content" / "topics" / "kim.about.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"\n  fa:\n(    .*\n|      .*\n)*", "\n", text), encoding="utf-8")
    [problem] = errors(root)
    assert problem.path == path and "fehlen Sprachen" in problem.text and "fa" in problem.detail


def test_an_intent_without_examples_and_examples_without_a_topic_are_errors(root: Path) -> None:
    topic = root / "content" / "topics" / "integreat.app.yml"
    line = edit(topic, "intents: [integreat_app]", "intents: [integreat_app, integreat_web]")
    nlu = root / "nlu_data" / "de.yml"
    nlu_line = edit(nlu, "- intent: school_entry", "- intent: school_start")
    found = {(p.path, p.line): p.text for p in errors(root)}
    assert "integreat_web" in found[(topic, line)]
    assert "school_start" in found[(nlu, nlu_line)] and "keinem Thema" in found[(nlu, nlu_line)]
    # school_entry lost its German examples but keeps those of the other languages: no error for it.
    assert not any("school_entry" in text for text in found.values())


@pytest.mark.parametrize(("old", "new", "german"), [
    ("02323 16-4705 oder", "0232316 4705 oder", "Telefonnummer"),
    ("integration@herne.de", "integration@herne", "E-Mail-Adresse"),
])
def test_malformed_numbers_and_addresses_are_errors(root: Path, old: str, new: str, german: str) -> None:
    path = root / "content" / "topics" / "cafeo.hours.yml"
    if old not in path.read_text(encoding="utf-8"):
        path = root / "content" / "topics" / "ki.contact.yml"
    line = edit(path, old, new)
    [problem] = errors(root)
    assert (problem.path, problem.line) == (path, line) and german in problem.text


def test_a_malformed_web_address_is_an_error(root: Path) -> None:
    path = root / "content" / "topics" / "ki.contact.yml"
    line = edit(path, "www.herne.de/integrationszentrum", "https://herne/integrationszentrum")
    [problem] = errors(root)
    assert (problem.path, problem.line) == (path, line) and "Webadresse" in problem.text


def test_a_topic_past_its_valid_until_date_is_an_error(root: Path) -> None:
    path = root / "content" / "topics" / "cafeo.women.yml"
    edit(path, "reviewed: ", "valid_until: 2026-12-03\nreviewed: ")
    [problem] = errors(root)
    assert problem.path == path and "Abgelaufen" in problem.text
    assert path.read_text(encoding="utf-8").splitlines()[problem.line - 1].startswith("valid_until:")
    edit(path, "valid_until: 2026-12-03", "valid_until: 2026-12-04")
    assert errors(root) == []  # valid through the day itself


def test_the_command_exits_non_zero_on_an_error_and_zero_on_warnings(root: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(PROJECT_ROOT / "locales", root / "locales")
    monkeypatch.setattr(content_check, "PROJECT_ROOT", root)
    assert content_check.main([]) == 0
    assert "0 Fehler" in capsys.readouterr().out
    edit(root / "content" / "topics" / "cafeo.hours.yml", "status: draft", "status: fertig")
    assert content_check.main([]) == 1
    assert "1 Fehler" in capsys.readouterr().out


# -- translations that follow the German text -------------------------------------------------

def outdated(root: Path, topic: str = "cafeo.hours") -> set[tuple[str, int]]:
    """The outdated translations the check lists for one topic (others may be outdated for real)."""
    return {(p.path.name, p.line) for p in check(root) if "veraltet" in p.text and p.path.stem == topic}


def test_changing_the_german_text_makes_every_translation_outdated_and_reviewed_undoes_one(root: Path) -> None:
    path = root / "content" / "topics" / "cafeo.hours.yml"
    assert outdated(root) == set()
    edit(path, "Integrationsscout CaféO 02323 16-4705", "Integrationsscout CaféO 02323 16-4712")
    languages = LANGUAGES - {"de"}
    assert len(outdated(root)) == len(languages)
    topic = load_content(root / "content", LANGUAGES).topics["cafeo.hours"]
    assert {topic.state(code) for code in languages} == {"outdated"}

    stamp(path, "ar", reviewed=True)
    topic = load_content(root / "content", LANGUAGES).topics["cafeo.hours"]
    assert topic.state("ar") == "reviewed" and topic.state("en") == "outdated"
    assert len(outdated(root)) == len(languages) - 1
    assert "status: reviewed" in path.read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8").startswith("# CaféO opening times")  # comments kept


@pytest.fixture
async def make_dialogue(tmp_path: Path, guesser: LanguageGuesser) -> AsyncIterator[object]:
    engines = []

    async def make(content_dir: Path) -> Dialogue:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / f'bot{len(engines)}.db'}")
        engines.append(engine)
        await migrate(engine)
        languages = load_languages(PROJECT_ROOT / "locales")
        return Dialogue(Storage(engine), FakeNlu(), load_content(content_dir, set(languages)), languages, guesser,
                        "de", 0.45, 0.2, 30)

    yield make
    for engine in engines:
        await engine.dispose()


def press(payload: str, hint: str = "en", user: str = "u1") -> IncomingMessage:
    return IncomingMessage("web", user, dt.datetime.now(dt.timezone.utc), button=payload, language_hint=hint)


async def test_an_outdated_translation_is_served_with_a_note_and_the_german_text_on_request(
        root: Path, make_dialogue: object) -> None:
    path = root / "content" / "topics" / "cafeo.hours.yml"
    edit(path, "Integrationsscout CaféO 02323 16-4705", "Integrationsscout CaféO 02323 16-4712")
    dialogue = await make_dialogue(root / "content")  # type: ignore[operator]
    await dialogue.handle(press("l:en"))
    [reply] = (await dialogue.handle(press("t:cafeo.hours"))).replies
    assert "CaféO integration scout 02323 16-4705" in reply.text  # the old translation, still served
    assert reply.text.endswith("Newer information exists in German: this translation is from an older version.")
    assert reply.buttons[0].payload == "d:cafeo.hours" and reply.buttons[0].title == "Show the German text"

    outcome = await dialogue.handle(press("d:cafeo.hours"))
    [german] = outcome.replies
    assert "Integrationsscout CaféO 02323 16-4712" in german.text and outcome.language == "en"
    assert german.text.endswith("Note: the KI has not yet checked this text.")  # the note in the user's language
    assert all(b.payload != "d:cafeo.hours" for b in german.buttons)
    assert any(b.title == "Talk to a person" for b in german.buttons)  # buttons stay in the user's language

    stamp(path, "en", reviewed=True)
    dialogue = await make_dialogue(root / "content")  # type: ignore[operator]
    await dialogue.handle(press("l:en"))
    [reply] = (await dialogue.handle(press("t:cafeo.hours"))).replies
    assert "Newer information" not in reply.text and "has not yet checked" not in reply.text
    assert all(b.payload != "d:cafeo.hours" for b in reply.buttons)


async def test_a_draft_is_served_with_a_note_that_goes_when_it_is_reviewed(root: Path, make_dialogue: object) -> None:
    dialogue = await make_dialogue(root / "content")  # type: ignore[operator]
    await dialogue.handle(press("l:ar"))
    [reply] = (await dialogue.handle(press("t:kim.about"))).replies
    assert reply.text.endswith("ملاحظة: لم يراجع مركز الاندماج (KI) هذه الترجمة بعد.")

    stamp(root / "content" / "topics" / "kim.about.yml", "ar", reviewed=True)
    dialogue = await make_dialogue(root / "content")  # type: ignore[operator]
    await dialogue.handle(press("l:ar"))
    [reply] = (await dialogue.handle(press("t:kim.about"))).replies
    assert "ملاحظة" not in reply.text
