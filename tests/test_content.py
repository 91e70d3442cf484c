"""The content store: the real topic files load, and a staff member who breaks a file is told
which file and which line to fix."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content import ContentStore, load_content
from bot.errors import ContentError
from bot.settings import PROJECT_ROOT

CONTENT = PROJECT_ROOT / "content"
LANGUAGES = {"de", "en", "ar", "tr", "ro", "uk", "ru", "fa", "fr", "bg"}
REQUIRED_TOPICS = {
    "cafeo.about",
    "cafeo.hours",
    "cafeo.women",
    "courses.integration",
    "courses.placement",
    "kim.about",
    "kim.contact",
}


@pytest.fixture(scope="module")
def store() -> ContentStore:
    return load_content(CONTENT, LANGUAGES)


def test_real_store_has_the_topics_the_bot_offers(store: ContentStore) -> None:
    assert REQUIRED_TOPICS <= set(store.topics)


def test_every_topic_is_written_in_every_language(store: ContentStore) -> None:
    for topic in store.topics.values():
        assert set(topic.texts) >= LANGUAGES, topic.id
        for language in LANGUAGES:
            assert topic.texts[language].title.strip(), (topic.id, language)
            assert topic.texts[language].answer.strip(), (topic.id, language)
    assert store.languages() >= LANGUAGES


def test_every_topic_names_its_source(store: ContentStore) -> None:
    for topic in store.topics.values():
        assert topic.source.strip(), topic.id


def test_womens_hour_is_thursday_ten_to_twelve(store: ContentStore) -> None:
    hours = [(h.weekday, h.opens, h.closes) for h in store.topics["cafeo.women"].opening_hours]
    assert hours == [("thursday", "10:00", "12:00")]


def test_kim_contact_asks_for_the_four_districts(store: ContentStore) -> None:
    slot = store.topics["kim.contact"].slot
    assert slot is not None
    assert slot.entity == "district"
    assert set(slot.values) == {"sodingen", "herne_mitte", "wanne", "eickel"}
    for language in LANGUAGES:
        assert set(store.topics["kim.contact"].texts[language].by_value) >= set(slot.values), language


def test_topics_are_found_by_their_intents(store: ContentStore) -> None:
    assert store.by_intent["kim_contact"].id == "kim.contact"
    assert store.by_intent["cafeo_women"].id == "cafeo.women"


# --- broken files -------------------------------------------------------------------------------
# Each test copies the real store, breaks one thing in one file, and expects the error to say
# "<file>:<line>:" with the line a staff member has to edit.


def copy_store(tmp_path: Path) -> Path:
    shutil.copytree(CONTENT / "topics", tmp_path / "topics")
    for path in CONTENT.glob("*.yml"):  # concepts, words, crisis
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def break_topic(tmp_path: Path, topic_id: str, edit: Callable[[str], str], name: str | None = None) -> Path:
    """Write an edited copy of a real topic file into the copied store; return its path."""
    original = (CONTENT / "topics" / f"{topic_id}.yml").read_text(encoding="utf-8")
    broken = edit(original)
    assert broken != original, "the edit did not change the file"
    path = tmp_path / "topics" / f"{name or topic_id}.yml"
    path.write_text(broken, encoding="utf-8")
    return path


def line_of(path: Path, fragment: str) -> int:
    """1-based line of the only line of `path` that contains `fragment`."""
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return lines[0]


def load_error(content_dir: Path, languages: set[str] = LANGUAGES) -> str:
    with pytest.raises(ContentError) as error:
        load_content(content_dir, languages)
    return str(error.value)


def test_missing_title_names_the_language_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace("    title: \"CaféO: women's hour\"\n", ""))
    message = load_error(content)
    assert f"{path}:{line_of(path, '  en:')}:" in message
    assert "texts.en.title" in message


def test_bad_opening_time_names_its_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace('opens: "10:00"', 'opens: "25:00"'))
    message = load_error(content)
    assert f"{path}:{line_of(path, '25:00')}:" in message
    assert "opening_hours.0.opens" in message


def test_opening_after_closing_is_rejected(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace('opens: "10:00"', 'opens: "13:00"'))
    message = load_error(content)
    assert str(path) in message
    assert "must be before closes" in message


def test_unknown_placeholder_is_named_with_its_file(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace("The advice is free.", "The advice is {foo}."))
    message = load_error(content)
    assert message.startswith(f"{path}:")
    assert "texts.en.answer" in message
    assert "{foo}" in message


def test_unknown_placeholder_points_at_the_answer_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace("The advice is free.", "The advice is {foo}."))
    message = load_error(content)
    en_answer = line_of(path, "  en:") + 4  # en: / status / source_hash / title / answer
    assert path.read_text(encoding="utf-8").splitlines()[en_answer - 1].strip() == "answer: |"
    assert f"{path}:{en_answer}:" in message


def test_reviewed_that_is_not_a_date_names_its_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "kim.contact", lambda t: t.replace("reviewed: 2026-11-30", "reviewed: last week"))
    message = load_error(content)
    assert f"{path}:{line_of(path, 'reviewed:')}:" in message
    assert "reviewed" in message


def test_id_that_differs_from_file_name_names_the_id_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "kim.about", lambda t: t.replace("id: kim.about", "id: kim.overview"))
    message = load_error(content)
    assert f"{path}:{line_of(path, 'id: kim.overview')}:" in message
    assert "kim.overview" in message
    assert "file name" in message


LAST_TITLE = 'title: "CaféO: час за жени"'
UNCLOSED_LAST_TITLE = 'title: "CaféO: час за жени'  # the last quoted value in cafeo.women.yml


def unclose_last_quote(text: str) -> str:
    return text.replace(LAST_TITLE, UNCLOSED_LAST_TITLE)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", unclose_last_quote)
    message = load_error(content)
    assert message.startswith(f"{path}:")
    assert "not valid YAML" in message


def test_invalid_yaml_names_the_broken_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace("menu: 3", "menu: 3: 4"))
    message = load_error(content)
    assert f"{path}:{line_of(path, 'menu: 3: 4')}:" in message


def test_unclosed_quote_names_the_line_of_the_quote(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", unclose_last_quote)
    message = load_error(content)
    assert f"{path}:{line_of(path, UNCLOSED_LAST_TITLE)}:" in message


def only_german(text: str) -> str:
    """The topic file cut after its `de` block: a file someone started and did not translate."""
    return text[: text.index("\n  en:\n") + 1]


def test_missing_language_names_file_and_language(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "kim.about", only_german)
    message = load_error(content, {"de", "en"})
    assert message.startswith(f"{path}:")
    assert "'en'" in message
    assert "de" not in message.split("lacks languages", 1)[1]


def test_missing_language_points_at_texts_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "kim.about", only_german)
    message = load_error(content, {"de", "en"})
    assert f"{path}:{line_of(path, 'texts:')}:" in message


def with_unknown_follow_up(text: str) -> str:
    return text.replace("follow_ups: [cafeo.about, cafeo.hours, handoff]", "follow_ups: [cafeo.about, cafeo.brunch, handoff]")


def test_follow_up_to_missing_topic_names_file_and_topic(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", with_unknown_follow_up)
    message = load_error(content)
    assert message.startswith(f"{path}:")
    assert "cafeo.brunch" in message


def test_follow_up_to_missing_topic_points_at_follow_ups_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", with_unknown_follow_up)
    message = load_error(content)
    assert f"{path}:{line_of(path, 'follow_ups:')}:" in message


def second_hours_topic(text: str) -> str:
    """A new topic file that still claims cafeo.hours' intent."""
    return text.replace("id: cafeo.hours", "id: cafeo.times").replace("menu: 2\n", "")


def test_two_topics_with_one_intent_name_the_file_and_both_topics(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.hours", second_hours_topic, name="cafeo.times")
    message = load_error(content)
    assert message.startswith(f"{path}:")
    assert "'cafeo_hours'" in message
    assert "cafeo.hours" in message.split("already leads to", 1)[1]


def test_two_topics_with_one_intent_point_at_intents_line(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.hours", second_hours_topic, name="cafeo.times")
    message = load_error(content)
    assert f"{path}:{line_of(path, 'intents:')}:" in message


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    hours = break_topic(content, "cafeo.women", lambda t: t.replace('opens: "10:00"', 'opens: "25:00"'))
    reviewed = break_topic(content, "kim.contact", lambda t: t.replace("reviewed: 2026-11-30", "reviewed: soon"))
    message = load_error(content)
    assert str(hours) in message and str(reviewed) in message


def test_a_broken_file_does_not_blame_the_files_linking_to_it(tmp_path: Path) -> None:
    content = copy_store(tmp_path)
    path = break_topic(content, "cafeo.women", lambda t: t.replace('opens: "10:00"', 'opens: "25:00"'))
    message = load_error(content)
    assert [line.split(":", 1)[0] for line in message.splitlines()] == [str(path)]
