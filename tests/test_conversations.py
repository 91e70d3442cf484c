"""Conversations through POST /api/chat against the real Rasa server and a real database."""

import httpx
import pytest

from bot.language_detection import LanguageGuesser
from tests.conftest import Chat, buttons, make_settings, start_app, texts

# One conversation per language: a first question about the women's consultation hour,
# then the CaféO address via a follow-up button, then a question about German courses.
CONVERSATIONS = {
    "de": ("gibt es eine sprechstunde nur fuer frauen im cafeo", "ich suche einen deutschkurs in herne"),
    "en": ("is there a consultation hour for women at cafeo", "where can i find a german course"),
    "ar": ("هل يوجد وقت استشارة خاص بالنساء في كافيه او", "ابحث عن كورس لغة المانية في هيرنه"),
    "tr": ("cafeo da kadinlara ozel danisma saati var mi", "almanca kursu arıyorum herne de"),
    "ro": ("exista consultatii doar pentru femei la cafeo", "caut un curs de germana in herne"),
    "uk": ("чи є в кафе о консультація тільки для жінок", "шукаю курс німецької мови в херне"),
    "ru": ("есть ли в кафе о консультация только для женщин", "ищу курс немецкого языка в херне"),
    "fa": ("آیا در کافه او مشاوره مخصوص خانم ها هست", "دنبال کلاس زبان آلمانی در هرنه هستم"),
}


@pytest.mark.parametrize("language", sorted(CONVERSATIONS))
async def test_a_conversation_in_each_language(client: httpx.AsyncClient, language: str) -> None:
    women_question, course_question = CONVERSATIONS[language]
    chat = Chat(client, user=f"conversation-{language}")

    first = await chat.say(women_question)
    assert (first["language"], first["topic"]) == (language, "cafeo.women")
    assert "10:00" in texts(first)  # Thursday 10:00-12:00, formatted for the locale
    assert "l:ar" in buttons(first) and "l:de" in buttons(first)  # first contact: language choice offered
    assert first["handoff"] is False

    follow_up = await chat.press("t:cafeo.about")
    assert (follow_up["language"], follow_up["topic"]) == (language, "cafeo.about")
    assert "Overwegstr. 32" in texts(follow_up)
    assert follow_up["replies"][0]["place"]["address"] == "Overwegstr. 32, 44623 Herne"

    courses = await chat.say(course_question)
    assert (courses["language"], courses["topic"]) == (language, "courses.integration")
    assert "l:de" not in buttons(courses)  # no longer the first contact


@pytest.mark.parametrize(
    ("message", "district", "team"),
    [
        ("ich wohne in sodingen, wer ist mein case manager", "sodingen", "AWO"),
        ("which kim team is for herne-mitte", "herne_mitte", "Caritas"),
        ("я живу в ванне хто мій кейс менеджер", "wanne", "PLANB"),
        ("انا ساكن في آيكل مين الكيس مانجر تبعي", "eickel", "DRK"),
    ],
)
async def test_a_named_district_gets_its_team(client: httpx.AsyncClient, message: str, district: str, team: str) -> None:
    body = await Chat(client).say(message)
    assert body["topic"] == "kim.contact"
    assert team in texts(body)


async def test_without_a_district_the_bot_asks_and_a_bare_name_answers(client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    asked = await chat.say("wer ist mein kim case manager")
    assert asked["topic"] == "kim.contact"
    assert {"v:kim.contact:sodingen", "v:kim.contact:wanne", "v:kim.contact:"} <= set(buttons(asked))

    answered = await chat.say("wanne")
    assert answered["topic"] == "kim.contact"
    assert "PLANB" in texts(answered)

    by_button = await chat.press("v:kim.contact:eickel")
    assert "DRK" in texts(by_button)


@pytest.mark.parametrize(
    "question",
    ["wann hat das jobcenter geöffnet", "how do i open a bank account", "где находится больница"],
)
async def test_out_of_scope_is_answered_honestly(client: httpx.AsyncClient, question: str) -> None:
    body = await Chat(client).say(question)
    assert body["topic"] in ("out_of_scope", "clarify")
    assert "h" in buttons(body)  # the offer of a person


async def test_a_greeting_gets_a_greeting_and_the_languages(client: httpx.AsyncClient) -> None:
    body = await Chat(client).say("merhaba")
    assert body["topic"] == "greet"
    assert {"l:de", "l:tr", "l:ar", "l:fa", "l:uk", "l:ru", "l:ro", "l:en"} <= set(buttons(body))


async def test_asking_for_a_person_asks_for_consent_and_without_it_gives_phone_numbers(
        client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    body = await chat.say("ich möchte mit einem menschen sprechen")
    assert body["topic"] == "handoff.consent"
    assert buttons(body)[:2] == ["consent:yes", "consent:no"]
    refused = await chat.press("consent:no")
    assert refused["topic"] == "handoff.refused" and "02323" in texts(refused) and not refused["handoff"]


async def test_nlu_down_still_answers_in_the_users_language(
    database_url: str, guesser: LanguageGuesser
) -> None:
    """Rasa unreachable (a closed port): the user gets the menu in their language, and buttons work."""
    app, http = await start_app(make_settings(database_url, "http://127.0.0.1:9"), guesser)
    async with app.router.lifespan_context(app), http:  # type: ignore[attr-defined]
        chat = Chat(http)
        body = await chat.say("коли працює кафе о для жінок")
        assert body["language"] == "uk"
        assert body["topic"] == "nlu_unavailable"
        assert "t:cafeo.women" in buttons(body)
        pressed = await chat.press("t:cafeo.women")
        assert pressed["topic"] == "cafeo.women" and "10:00" in texts(pressed)
        health = (await http.get("/healthz")).json()
        assert health.pop("content")["error"] is None
        assert health == {"status": "ok", "nlu": "down", "nlu_servers": "0/1", "db": "ok", "channels": {"web": "ok"}}


async def test_healthz_reports_nlu_and_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    content = health.pop("content")
    assert content["error"] is None and len(content["version"]) == 12 and content["loaded_at"]
    assert health == {"status": "ok", "nlu": "ok", "nlu_servers": "1/1", "db": "ok", "channels": {"web": "ok"}}


@pytest.mark.parametrize(
    "question",
    [
        "When does the Jobcenter open?",
        "Where is the foreigners' office?",
        "How do I open a bank account?",
        "wann hat das sozialamt offen",
        "متى يفتح مكتب الاجانب",
        "джобцентр коли відкритий",
        "kindergeld ne zaman yatar",
        "ساعت کاری بیمارستان هرنه",
    ],
)
async def test_near_misses_never_get_one_of_our_topics(client: httpx.AsyncClient, question: str) -> None:
    body = await Chat(client).say(question)
    assert body["topic"] in ("out_of_scope", "clarify"), body["topic"]


@pytest.mark.parametrize(
    ("first", "first_topic", "follow_up", "follow_up_topic"),
    [
        ("was ist das cafeo", "cafeo.about", "und wann ist es offen?", "cafeo.hours"),
        ("when is cafeo open", "cafeo.hours", "and for women?", "cafeo.women"),
        ("шукаю курс німецької", "courses.integration", "а тест?", "courses.placement"),
        ("ما هو كيم", "kim.about", "وانا ساكن بفانه؟", "kim.contact"),
    ],
)
async def test_follow_ups_resolve_against_the_previous_topic(
    client: httpx.AsyncClient, first: str, first_topic: str, follow_up: str, follow_up_topic: str
) -> None:
    chat = Chat(client)
    assert (await chat.say(first))["topic"] == first_topic
    assert (await chat.say(follow_up))["topic"] == follow_up_topic


async def test_a_greeting_with_a_question_gets_the_answer(client: httpx.AsyncClient) -> None:
    body = await Chat(client).say("salam, wo ist das cafeo?")
    assert body["topic"] == "cafeo.about"


async def test_two_first_messages_at_once_are_both_answered(client: httpx.AsyncClient) -> None:
    """A new user's double tap: both requests race to create the user; neither is lost."""
    import asyncio

    chat = Chat(client, user="double-tap")
    await chat.request("GET", "/api/history")  # the page asks for its history first: the cookie
    first, second = await asyncio.gather(chat.say("was ist cafeo"), chat.say("wann ist cafeo offen"))
    assert {first["topic"], second["topic"]} == {"cafeo.about", "cafeo.hours"}
