"""What a newcomer meets first, through POST /api/chat against the real Rasa server and a real
database: the language of a short first message, no answers from stale context, the crisis path."""

import re

import httpx
import pytest

from bot.bidi import LRI, PDI
from bot.content import load_content
from bot.settings import PROJECT_ROOT
from tests.conftest import Chat, buttons, texts

CRISIS_REPLIES = load_content(PROJECT_ROOT / "content", {"de", "en", "ar", "tr", "ro", "uk", "ru", "fa", "fr", "bg"}).crisis


@pytest.mark.parametrize("greeting", ["Hallo", "Moin", "Servus", "Guten Tag"])
async def test_a_german_greeting_is_answered_in_german(client: httpx.AsyncClient, greeting: str) -> None:
    body = await Chat(client, user=f"greeting-{greeting}").say(greeting)
    assert (body["language"], body["topic"]) == ("de", "greet")


@pytest.mark.parametrize(("message", "language", "letters"), [("marhaba", "ar", "\u0600-\u06ff"),
                                                            ("spasibo", "ru", "\u0400-\u04ff")])
async def test_a_language_typed_in_latin_letters_is_answered_in_its_own_script(
        client: httpx.AsyncClient, message: str, language: str, letters: str) -> None:
    body = await Chat(client, user=f"typed-{message}").say(message)
    assert body["language"] == language
    assert re.search(f"[{letters}]", texts(body))


@pytest.mark.parametrize(("greeting", "question", "language", "topic"), [
    ("hi", "was ist cafeo", "de", "cafeo.about"), ("hallo", "what is cafeo", "en", "cafeo.about"),
    ("hello", "ich brauche deutschkurs", "de", "courses.integration"),
])
async def test_a_short_question_after_a_greeting_is_answered_in_its_own_language(
        client: httpx.AsyncClient, greeting: str, question: str, language: str, topic: str) -> None:
    """Seen in session 20: "hi" was taken for English, and "was ist cafeo" was answered in English."""
    chat = Chat(client, user=f"after-{greeting}-{question}")
    await chat.say(greeting)
    body = await chat.say(question)
    assert (body["language"], body["topic"]) == (language, topic)


@pytest.mark.parametrize(("message", "topic"), [
    ("hab nen brief von der stadt bekommen und versteh nix davon", "cafeo.about"),
    ("got a letter from the jobcenter, no idea what they want from me", "cafeo.about"),
    ("أجتني رسالة من الجوب سنتر وما فهمت شي منها", "cafeo.about"),
    ("mein sohn ist 11 und geht seit wir hier sind nicht zur schule", "school.entry"),
    ("kızım 10 yaşında, geldiğimizden beri okula gitmiyor", "school.entry"),
])
async def test_a_situation_without_the_services_name_gets_that_service(
        client: httpx.AsyncClient, message: str, topic: str) -> None:
    """People describe what happened, not which service they need (holdout-blind-3: 88.6 % before
    the situation examples of session 20)."""
    body = await Chat(client, user=f"situation-{message}").say(message)
    assert body["topic"] == topic


async def test_german_service_words_keep_a_russian_users_language(client: httpx.AsyncClient) -> None:
    chat = Chat(client, user="russian")
    await chat.press("l:ru")
    body = await chat.say("CaféO Adresse")
    assert (body["language"], body["topic"]) == ("ru", "cafeo.about")
    assert "Overwegstr. 32" in texts(body)


async def test_an_unrelated_question_after_a_topic_is_out_of_scope(client: httpx.AsyncClient) -> None:
    chat = Chat(client, user="weather")
    assert (await chat.say("Was ist KIM?"))["topic"] == "kim.about"
    body = await chat.say("Wie wird das Wetter morgen?")
    assert body["topic"] == "out_of_scope"
    assert "v:kim.contact:wanne" not in buttons(body)  # not the district question


async def test_a_follow_up_the_content_does_not_know_is_an_honest_i_dont_know(client: httpx.AsyncClient) -> None:
    chat = Chat(client, user="parking")
    assert (await chat.say("Wo ist das CaféO?"))["topic"] == "cafeo.about"
    body = await chat.say("Kann ich dort mein Auto parken?")
    assert body["topic"] == "unknown_detail"
    assert "CaféO" in texts(body)
    assert {"t:cafeo.about", "h"} <= set(buttons(body))  # where to find out: the contacts, a person
    assert (await chat.say("und wann hat es offen?"))["topic"] == "cafeo.hours"  # a real follow-up still works


@pytest.mark.parametrize("message", ["Ich will mich umbringen", "Mein Mann schlägt mich"])
async def test_a_person_in_crisis_gets_the_emergency_numbers_at_once(client: httpx.AsyncClient, message: str) -> None:
    chat = Chat(client, user=f"crisis-{message}")
    await chat.say("Was ist KIM?")  # in the middle of a conversation, too
    body = await chat.say(message)
    assert body["topic"] == "crisis"
    first = body["replies"][0]["text"]
    for number in ("110", "112", "116 016", "0800 111 0 111", "0800 111 0 222", "116 111"):
        assert number in first
    assert "h" in buttons(body)  # then a person


@pytest.mark.parametrize("message", ["dieser Kurs bringt mich um", "Ich habe Angst vor dem Test",
                                     "Gibt es Kurse zur Gewaltprävention?"])
async def test_look_alikes_do_not_trigger_the_crisis_path(client: httpx.AsyncClient, message: str) -> None:
    body = await Chat(client, user=f"lookalike-{message}").say(message)
    assert body["topic"] != "crisis"


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "i want to kill myself"), ("ar", "زوجي يضربني كل يوم"), ("tr", "kendimi öldürmek istiyorum"),
     ("ro", "vreau să mă sinucid"), ("uk", "я хочу покінчити з життям"), ("ru", "муж меня бьёт"),
     ("fa", "میخواهم خودکشی کنم"), ("fr", "je veux me suicider"), ("bg", "мъжът ми ме бие")],
)
async def test_the_crisis_reply_comes_in_the_users_language(client: httpx.AsyncClient, language: str,
                                                            message: str) -> None:
    body = await Chat(client, user=f"crisis-{language}").say(message)
    assert (body["topic"], body["language"]) == ("crisis", language)
    shown = body["replies"][0]["text"].replace(LRI, "").replace(PDI, "")
    assert shown == CRISIS_REPLIES.reply(language)


async def test_an_inflected_district_finds_its_team(client: httpx.AsyncClient) -> None:
    body = await Chat(client, user="eickel").say("я из Айкеля, кто мой кейс-менеджер?")
    assert (body["language"], body["topic"]) == ("ru", "kim.contact")
    assert "DRK" in texts(body)
