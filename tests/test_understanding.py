"""The evidence guard and conversation context, with a FAKE NLU that scripts what Rasa would say.

Each test scripts the classifier the way the issue's trial saw it misbehave (a confident wrong
topic) and checks that the bot does not answer the wrong question.
"""


import pytest

from bot.content import ContentStore, load_content
from bot.settings import PROJECT_ROOT
from bot.understanding import UNKNOWN_DETAIL, Interpreter
from tests.fakes import FakeNlu

LANGUAGES = {"de", "en", "ar", "tr", "ro", "uk", "ru", "fa", "fr", "bg"}


@pytest.fixture(scope="module")
def content() -> ContentStore:
    return load_content(PROJECT_ROOT / "content", LANGUAGES)


@pytest.fixture
def nlu() -> FakeNlu:
    return FakeNlu()


@pytest.fixture
def interpreter(nlu: FakeNlu, content: ContentStore) -> Interpreter:
    return Interpreter(nlu, content, answer_threshold=0.45, clarify_threshold=0.2)


@pytest.mark.parametrize(
    "question",
    [
        "When does the Jobcenter open?",
        "wann hat die ausländerbehörde offen",
        "когда открыт джобцентр",
        "متى يفتح الجوب سنتر",
        "how do i open a bank account",
    ],
)
async def test_a_confident_topic_without_evidence_is_not_answered(
    interpreter: Interpreter, nlu: FakeNlu, question: str
) -> None:
    nlu.says(question, "cafeo_hours", 0.99)
    understood = await interpreter.interpret(question)
    assert understood.kind == "out_of_scope"


async def test_without_evidence_and_no_other_service_the_bot_asks_which_is_meant(
    interpreter: Interpreter, nlu: FakeNlu
) -> None:
    nlu.says("when can i come", "cafeo_hours", 0.9, ranking=[("cafeo_hours", 0.9), ("cafeo_women", 0.05)])
    understood = await interpreter.interpret("when can i come")
    assert understood.kind == "clarify" and understood.candidates == ("cafeo_hours",)


async def test_a_topic_with_evidence_is_answered(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("wann hat das cafeo offen", "cafeo_hours", 0.9)
    understood = await interpreter.interpret("wann hat das cafeo offen")
    assert (understood.kind, understood.intent, understood.via_context) == ("topic", "cafeo_hours", False)


async def test_a_follow_up_resolves_against_the_conversations_topic(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    nlu.says("cafeo and when is it open", "cafeo_hours", 0.8)
    understood = await interpreter.interpret("and when is it open", context=content.topics["cafeo.about"])
    assert (understood.kind, understood.intent, understood.via_context) == ("topic", "cafeo_hours", True)


async def test_without_the_context_the_same_follow_up_is_not_answered(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("and when is it open", "cafeo_hours", 0.8)
    understood = await interpreter.interpret("and when is it open")
    assert understood.kind != "topic"


async def test_a_related_topic_the_follow_up_names_wins_over_the_context(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """'and the test?' after German courses: the classifier leans to courses, the word says test."""
    nlu.says("and the test", "courses_integration", 0.6, ranking=[("courses_integration", 0.6), ("courses_placement", 0.1)])
    nlu.says("kurs and the test", "courses_integration", 0.7, ranking=[("courses_integration", 0.7), ("courses_placement", 0.2)])
    understood = await interpreter.interpret("and the test", context=content.topics["courses.integration"])
    assert (understood.kind, understood.intent) == ("topic", "courses_placement")


async def test_a_bare_district_after_kim_resolves_to_the_districts_team(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    nlu.says("und in wanne", "out_of_scope", 0.5, entities={"district": "wanne"})
    nlu.says("kim und in wanne", "kim_contact", 0.6, entities={"district": "wanne"},
             ranking=[("kim_contact", 0.6), ("kim_about", 0.3)])
    understood = await interpreter.interpret("und in wanne", context=content.topics["kim.about"])
    assert (understood.kind, understood.intent, understood.entities) == ("topic", "kim_contact", {"district": "wanne"})


async def test_another_office_in_a_follow_up_is_still_out_of_scope(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    nlu.says("and when does the jobcenter open", "cafeo_hours", 0.9)
    nlu.says("cafeo and when does the jobcenter open", "cafeo_hours", 0.95)
    understood = await interpreter.interpret("and when does the jobcenter open", context=content.topics["cafeo.about"])
    assert understood.kind == "out_of_scope"


async def test_an_unrelated_topic_is_not_borrowed_from_the_context(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """After CaféO, a vague message that the classifier calls 'app' is not answered with the app."""
    nlu.says("and the other thing", "integreat_app", 0.8)
    nlu.says("cafeo and the other thing", "integreat_app", 0.8)
    understood = await interpreter.interpret("and the other thing", context=content.topics["cafeo.about"])
    assert understood.kind != "topic"


async def test_a_greeting_with_a_question_answers_the_question(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("hallo wann ist das cafeo offen", "greet", 0.7)
    nlu.says("wann ist das cafeo offen", "cafeo_hours", 0.9)
    understood = await interpreter.interpret("hallo wann ist das cafeo offen")
    assert (understood.kind, understood.intent) == ("topic", "cafeo_hours")


async def test_thanks_with_a_question_answers_the_question(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("спасибо а где курс немецкого", "thanks", 0.6)
    nlu.says("а где курс немецкого", "courses_integration", 0.8)
    understood = await interpreter.interpret("спасибо а где курс немецкого")
    assert (understood.kind, understood.intent) == ("topic", "courses_integration")


async def test_a_plain_greeting_stays_a_greeting(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("merhaba", "greet", 0.9)
    understood = await interpreter.interpret("merhaba")
    assert (understood.kind, understood.intent) == ("intent", "greet")


async def test_a_language_question_about_a_doctor_is_out_of_scope(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("turkce konusan doktor var mi", "language", 0.9)
    understood = await interpreter.interpret("turkce konusan doktor var mi")
    assert understood.kind == "out_of_scope"


async def test_a_question_about_a_lift_is_no_request_for_a_person(interpreter: Interpreter, nlu: FakeNlu) -> None:
    nlu.says("binada tekerlekli sandalye icin asansor var mi", "handoff", 0.9)
    nlu.says("ich will mit einem menschen reden", "handoff", 0.9)
    nlu.says("kann mich jemand anrufen", "handoff", 0.9)
    assert (await interpreter.interpret("binada tekerlekli sandalye icin asansor var mi")).kind == "out_of_scope"
    assert (await interpreter.interpret("ich will mit einem menschen reden")).intent == "handoff"
    assert (await interpreter.interpret("kann mich jemand anrufen")).intent == "handoff"


def test_concepts_match_across_scripts_and_spellings(content: ContentStore) -> None:
    mentioned = content.concepts.mentioned
    assert "cafeo" in mentioned("wann ist CaféO offen")
    assert "cafeo" in mentioned("коли працює кафе о")
    assert "german_course" in mentioned("ich brauche deutschkurs")
    assert "other_services" in mentioned("wann hat das jobcenter offen")
    assert "women" in mentioned("وللنساء؟")
    assert "cafeo" not in mentioned("wann hat das jobcenter offen")


def test_a_phrase_ending_in_the_whole_word_mark_matches_only_whole_words(content: ContentStore) -> None:
    """ "c'est où" asks where; "c'est ouvert" asks when (it once read as a question about the place)."""
    assert "location" in content.concepts.mentioned("le cafeo c'est ou")
    assert "location" not in content.concepts.mentioned("et c'est ouvert quand?")
    assert content.concepts.strip("c est ou le cafeo", {"location"}) == "le cafeo"


def test_the_integration_centre_in_bulgarian_definite_forms(content: ContentStore) -> None:
    assert "integration_centre" in content.concepts.mentioned("адрес на интеграционния център херне")
    assert "integration_centre" in content.concepts.mentioned("телефон на ки херне")
    assert "integration_centre" not in content.concepts.mentioned("интеграционный курс")


def test_programmes_and_lessons_are_no_opening_hours(content: ContentStore) -> None:
    """Romanian and Turkish "program" is the timetable, English "programs for parents" is not;
    Bulgarian "часове" is hours and lessons ("часове по майчин език"): only the timetable asks when."""
    mentioned = content.concepts.mentioned
    assert "opening_time" not in mentioned("any programs for parents before the kid starts school")
    assert "opening_time" not in mentioned("има ли часове по майчин език в училище")
    assert "opening_time" in mentioned("program cafe o vinerea") and "opening_time" in mentioned("si programul?")
    assert "opening_time" in mentioned("работни часове на кафе о")


def test_a_two_letter_term_matches_only_a_whole_word(content: ContentStore) -> None:
    assert "app" in content.concepts.mentioned("یه اپ برای هرنه هست؟")
    assert "app" not in content.concepts.mentioned("اپرا کجاست")  # "opera" starts with the same letters


async def test_an_unrelated_question_is_not_read_against_the_previous_topic(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """After KIM, the weather: with "kim" in front the classifier would say kim_contact."""
    nlu.says("wie wird das wetter morgen", "out_of_scope", 0.6)
    nlu.says("kim wie wird das wetter morgen", "kim_contact", 0.9)
    understood = await interpreter.interpret("wie wird das wetter morgen", context=content.topics["kim.about"])
    assert understood.kind == "out_of_scope"


async def test_a_follow_up_the_content_cannot_answer_is_an_honest_i_dont_know(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """"Can I park there?" after CaféO: with "cafeo" in front the classifier says the hours."""
    nlu.says("kann ich dort mein auto parken", "out_of_scope", 0.55)
    nlu.says("cafeo kann ich dort mein auto parken", "cafeo_hours", 0.93)
    understood = await interpreter.interpret("kann ich dort mein auto parken", context=content.topics["cafeo.about"])
    assert (understood.kind, understood.intent) == (UNKNOWN_DETAIL, "cafeo_about")


async def test_an_aspect_no_topic_covers_right_after_a_topic_is_an_honest_i_dont_know(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """"Is there parking nearby?" after CaféO, not shaped like a follow-up, and the classifier
    half-sure it is a call for help: about CaféO, but nothing the content knows."""
    nlu.says("في موقف سيارات قريب؟", "help", 0.55)
    understood = await interpreter.interpret("في موقف سيارات قريب؟", context=content.topics["cafeo.about"])
    assert (understood.kind, understood.intent) == (UNKNOWN_DETAIL, "cafeo_about")
    fresh = await interpreter.interpret("في موقف سيارات قريب؟")
    assert fresh.kind != UNKNOWN_DETAIL


@pytest.mark.parametrize(("question", "intent"), [
    ("brauchen die kinder in der schule eine uniform?", "school_entry"),
    ("is there a school bus to the school", "school_entry"),
    ("kann ich zur frauensprechstunde im cafeo mein kind mitbringen?", "cafeo_women"),
])
async def test_a_question_about_what_no_content_says_is_an_honest_i_dont_know(
    interpreter: Interpreter, nlu: FakeNlu, question: str, intent: str
) -> None:
    """School uniforms, school buses, bringing a child along: the topic is named, the answer is not ours."""
    nlu.says(question, intent, 0.8)
    understood = await interpreter.interpret(question)
    assert (understood.kind, understood.intent) == (UNKNOWN_DETAIL, intent)


async def test_where_to_download_it_after_the_app_is_about_the_app(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    nlu.says("а де її завантажити?", "out_of_scope", 0.4)
    understood = await interpreter.interpret("а де її завантажити?", context=content.topics["integreat.app"])
    assert (understood.kind, understood.intent) == ("topic", "integreat_app")


async def test_a_follow_up_about_a_covered_aspect_goes_to_the_topic_that_covers_it(
    interpreter: Interpreter, nlu: FakeNlu, content: ContentStore
) -> None:
    """"And where is it?" after the women's hour: the place is CaféO's own topic."""
    nlu.says("cafeo and where is it", "cafeo_women", 0.6, ranking=[("cafeo_women", 0.6), ("cafeo_about", 0.3)])
    understood = await interpreter.interpret("and where is it", context=content.topics["cafeo.women"])
    assert (understood.kind, understood.intent) == ("topic", "cafeo_about")


async def test_a_question_about_an_aspect_the_topic_does_not_cover_is_not_answered_with_it(
    interpreter: Interpreter, nlu: FakeNlu
) -> None:
    nlu.says("wie lange dauert der einstufungstest", "courses_placement", 0.95)
    understood = await interpreter.interpret("wie lange dauert der einstufungstest")
    assert (understood.kind, understood.intent) == (UNKNOWN_DETAIL, "courses_placement")
    nlu.says("wo ist der einstufungstest", "courses_placement", 0.95)
    assert (await interpreter.interpret("wo ist der einstufungstest")).kind == "topic"  # the place is covered


@pytest.mark.parametrize("question", ["does the app have a chat with real people", "hat die app einen live chat"])
async def test_a_live_chat_in_the_app_is_no_part_of_the_apps_answer(interpreter: Interpreter, nlu: FakeNlu,
                                                                     content: ContentStore, question: str) -> None:
    """The classifier is sure it is about the Integreat app, but the answer says nothing of a chat
    with people: an honest "I don't know that about the app" (holdout-context, session 19)."""
    nlu.says(question, "integreat_app", 0.95)
    understood = await interpreter.interpret(question, context=content.topics["integreat.app"])
    assert (understood.kind, understood.intent) == (UNKNOWN_DETAIL, "integreat_app")
