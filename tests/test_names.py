"""Names in Latin letters (staff, course providers) lead to their topic in every language: through
POST /api/chat against the real Rasa server and a real database.

People copy names from a letter or a flyer, so they type them in Latin letters inside a question in
their own script; the name must find the topic (content/concepts.yml, nlu_data/) and must not move
the user to German or Romanian.
"""

import httpx
import pytest

from tests.conftest import Chat, buttons, texts

# (language the user chose, question naming someone, topic that answers it)
NAMED = [
    ("de", "wie kann ich frau Bücking anrufen", "kim.contact"),
    ("en", "I need the number of Ioana Martoiu-Barjaktarovic", "kim.contact"),
    ("ar", "ابغى رقم Olga Seitzzahl لو سمحت", "kim.contact"),
    ("uk", "як мені зв'язатися з Natalia Weidenbach", "kim.contact"),
    ("ru", "где проходит курс Bildungsinstitut Vogel", "courses.integration"),
    ("fa", "کلاس آلمانی Bobeq کجاست", "courses.integration"),
    ("tr", "Internationaler Bund kursları nerede", "courses.integration"),
    ("ar", "عندي سؤال ل Zerina Kolić", "integreat.app"),
    ("ru", "как позвонить Zerina Kolic", "integreat.app"),
    ("fa", "شماره تلفن Aylin Alper رو میخوام", "school.entry"),
    ("uk", "Justyna Cylkowska телефон будь ласка", "school.entry"),
    ("ro", "cum o sun pe Justyna Cylkowska", "school.entry"),
    ("ar", "كيف بوصل ل Safaa Bouchara", "cafeo.about"),
]


@pytest.mark.parametrize(("language", "question", "topic"), NAMED)
async def test_a_name_in_latin_letters_finds_its_topic(
    client: httpx.AsyncClient, language: str, question: str, topic: str
) -> None:
    chat = Chat(client, user=f"names-{language}-{topic}")
    assert (await chat.press(f"l:{language}"))["language"] == language
    body = await chat.say(question)
    assert (body["topic"], body["language"]) == (topic, language)


async def test_asking_for_a_case_manager_by_name_leads_to_her_number(client: httpx.AsyncClient) -> None:
    chat = Chat(client, user="names-case-manager")
    asked = await chat.say("wie erreiche ich uta bücking")
    assert asked["topic"] == "kim.contact"
    answered = await chat.press("v:kim.contact:")  # "I don't know" my district: the general answer
    assert "Uta Bücking 02323 16-4711" in texts(answered)


@pytest.mark.parametrize("question", ["السلام عليكم، كيف بقدر اتواصل مع Uta Bücking؟", "رقم Olga Seitzzahl"])
async def test_a_first_question_in_arabic_with_a_latin_name_is_answered_in_arabic(
    client: httpx.AsyncClient, question: str
) -> None:
    """Even when the name has more letters than the Arabic around it."""
    body = await Chat(client, user=f"names-arabic-{len(question)}").say(question)
    assert (body["language"], body["topic"]) == ("ar", "kim.contact")
    assert any("\u0600" <= char <= "\u06ff" for char in texts(body))


async def test_latin_names_in_arabic_questions_keep_the_conversation_arabic(client: httpx.AsyncClient) -> None:
    chat = Chat(client, user="names-arabic-conversation")
    assert (await chat.say("مرحبا، بدي اسأل عن كورسات اللغة الالمانية"))["language"] == "ar"
    # Mostly Latin letters, several in a row (two messages in another language would switch it):
    for question, topic in [("كورس عند Bildungsinstitut Vogel", "courses.integration"),
                            ("رقم Olga Seitzzahl", "kim.contact"),
                            ("وين بلاقي Safaa Bouchara", "cafeo.about")]:
        body = await chat.say(question)
        assert (body["language"], body["topic"]) == ("ar", topic), question
        assert any("\u0600" <= char <= "\u06ff" for char in texts(body)), question  # answered in Arabic
        assert "l:de" not in buttons(body)  # no longer the first contact: no language offer
