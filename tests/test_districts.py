"""Districts as people write them: inflected, misspelt, in every language and script.

The district comes from the lookup tables in nlu_data/districts.yml (see the notes at its top).
The conversations here run against the real Rasa server and a real database, like
tests/test_conversations.py: the right KIM team must come back for every spelling, and words
that only look like a district must not produce one.
"""

from pathlib import Path

import httpx
import pytest
import yaml

from bot.nlu import RasaNluClient
from bot.normalization import normalize
from tests.conftest import Chat, buttons, texts

DISTRICTS_FILE = Path(__file__).resolve().parent.parent / "nlu_data" / "districts.yml"
TEAMS = {"sodingen": "AWO", "herne_mitte": "Caritas", "wanne": "PLANB", "eickel": "DRK"}


def _answers_with(body: dict, district: str) -> None:
    """The district's own answer: its team, and no other team (the general answer names all four)."""
    assert body["topic"] == "kim.contact", body
    text = texts(body)
    assert TEAMS[district] in text, text
    assert not [team for other, team in TEAMS.items() if other != district and team in text], text


# (message, district): a question for the case manager with the district inflected or misspelt.
QUESTIONS = {
    "de": [
        ("Wer ist mein Case Manager? Ich wohne in Soddingen", "sodingen"),
        ("Wer ist Sodingens KIM-Team?", "sodingen"),
        ("Welches KIM-Team ist für Herne Mite zuständig?", "herne_mitte"),
        ("Ich wohne in Aikel, wer ist mein Case Manager?", "eickel"),
        ("Ich wohne jetzt in Eickels Süden, wer ist meine Case Managerin?", "eickel"),
    ],
    "en": [
        ("I live in Sodigen, who is my case manager?", "sodingen"),
        ("Which KIM team covers Herne Mite?", "herne_mitte"),
        ("I live in Vanne, who is my case manager?", "wanne"),
        ("Who is Eickel's KIM case manager?", "eickel"),
        ("who's the case manager for Aykel", "eickel"),
    ],
    "ro": [
        ("Locuiesc în Aikel, cine este case managerul meu?", "eickel"),
        ("Sunt din Wanne, cine este case managerul meu?", "wanne"),
        ("Stau la Sodingen, cine este managerul de caz?", "sodingen"),
        ("Echipa KIM pentru Herne Mite, vă rog", "herne_mitte"),
        ("Din Vanne, cine e managerul meu de caz?", "wanne"),
    ],
    "tr": [
        ("Wanne'de oturuyorum, vaka yöneticim kim?", "wanne"),
        ("Wannede oturuyorum, vaka yöneticim kim?", "wanne"),
        ("Sodingende yaşıyorum, case managerim kim?", "sodingen"),
        ("Eickel'de oturuyorum, vaka yöneticim kim?", "eickel"),
        ("Herne Mittede oturuyorum, case managerim kim?", "herne_mitte"),
        ("Eickelde oturuyorum, case managerim kim?", "eickel"),
        ("Aykelden yeni taşındım, vaka yöneticim kim?", "eickel"),
    ],
    "ru": [
        ("я из Айкеля, кто мой кейс-менеджер?", "eickel"),
        ("Живу в Содингене, кто мой кейс-менеджер?", "sodingen"),
        ("Я живу в Херне-Митте, кто мой кейс-менеджер?", "herne_mitte"),
        ("Мы из Ванне, кто наш кейс-менеджер?", "wanne"),
        ("Живу в Эйкеле, кто мой кейс менеджер?", "eickel"),
        ("Кто занимается Айкелем? Нужен кейс-менеджер", "eickel"),
    ],
    "uk": [
        ("Я живу у Айкелі, хто мій кейс-менеджер?", "eickel"),
        ("Ми із Зодінгена, хто наш кейс-менеджер?", "sodingen"),
        ("Живу в Герне-Мітте, хто мій кейс-менеджер?", "herne_mitte"),
        ("Живу у Ванне, хто мій кейс менеджер?", "wanne"),
        ("Хто кейс-менеджер у Зодінгені?", "sodingen"),
    ],
    "ar": [
        ("انا ساكن في ايكل مين الكيس مانجر تبعي", "eickel"),
        ("انا من زودينجن مين مدير الحالة تبعي", "sodingen"),
        ("ساكن بڤانه مين الكيس مانجر تبعي", "wanne"),
        ("انا ساكن في هيرنه ميتي مين الكيس مانجر تبعي", "herne_mitte"),
        ("من زودينغن، مين الكيس مانجر تبعي؟", "sodingen"),
    ],
    "fa": [
        ("در وانه زندگی میکنم کیس منیجر من کیه", "wanne"),
        ("تو آیکل زندگی میکنیم کیس منیجر ما کیه", "eickel"),
        ("خونه‌مون هرنه‌ی میته است، کیس منیجر ما کیه", "herne_mitte"),
        ("من آیکلی هستم، کیس منیجر من کیه؟", "eickel"),
        ("از زودینگن هستم، کیس منیجرم کیه؟", "sodingen"),
    ],
}


@pytest.mark.parametrize(
    ("message", "district"),
    [pytest.param(message, district, id=f"{language}-{message}")
     for language, cases in QUESTIONS.items() for message, district in cases],
)
async def test_an_inflected_district_gets_its_team(client: httpx.AsyncClient, message: str, district: str) -> None:
    _answers_with(await Chat(client).say(message), district)


# (question without a district, the bare inflected district that answers "which district?").
BARE_ANSWERS = [
    ("кто мой кейс-менеджер?", "в Айкеле", "eickel"),
    ("хто мій кейс-менеджер?", "у Зодінгені", "sodingen"),
    ("vaka yöneticim kim?", "Wannede", "wanne"),
    ("کیس منیجر من کیه؟", "هرنه‌ی میته", "herne_mitte"),
    ("مين الكيس مانجر تبعي؟", "بزودينجن", "sodingen"),
    ("wer ist mein case manager?", "in Aikel", "eickel"),
]


@pytest.mark.parametrize(("question", "answer", "district"), BARE_ANSWERS)
async def test_a_bare_inflected_district_answers_the_question(
    client: httpx.AsyncClient, question: str, answer: str, district: str
) -> None:
    chat = Chat(client)
    asked = await chat.say(question)
    assert asked["topic"] == "kim.contact"
    assert f"v:kim.contact:{district}" in buttons(asked)  # the bot asked which district
    _answers_with(await chat.say(answer), district)


# Words that look like a district but are none: each was left out of districts.yml on purpose.
NOT_DISTRICTS = [
    "wir treffen uns in der Mitte der Woche",  # German "Mitte" alone is "middle"
    "ich wohne an der Sodinger Straße",  # adjectives of districts name streets, not the district
    "ich wohne in der Herner Innenstadt",
    "Herne merkezde oturuyorum",  # the city centre is not exactly the district Herne-Mitte
    "я живу в центре Херне",
    "у меня сломалась ванна",  # Russian/Ukrainian "bath", not Wanne
    "у ванні немає гарячої води",
    "посуд уже мите",  # Ukrainian "washed"
    "وانا ساكن في هيرنه",  # Arabic "and I", not Wanne
    "فانا لا اعرف",  # "so I"
    "اكل حلال في هيرنه",  # "food", not Eickel
    "وين ايكيا في هيرنه",  # IKEA
    "من تو هرنه زندگی میکنم",  # Persian: Herne without a district
    "speranțe vane",  # Romanian "vain"
]


@pytest.mark.parametrize("text", NOT_DISTRICTS)
async def test_words_that_only_look_like_a_district_are_none(rasa_server: tuple[str, str], text: str) -> None:
    url, token = rasa_server
    nlu = RasaNluClient(url, token, 10)
    try:
        result = await nlu.parse(text)
    finally:
        await nlu.aclose()
    assert "district" not in result.entities, result.entities


# Wanne-Eickel is the old town that became the districts Wanne (PLANB) AND Eickel (DRK):
# two districts in one message mean none (bot/nlu.py), so the bot asks which one.
@pytest.mark.parametrize("message", ["Ich wohne in Wanne-Eickel, wer ist mein Case Manager?",
                                     "Я живу в Ванне-Айкеле, кто мой кейс-менеджер?"])
async def test_wanne_eickel_names_no_single_team_and_the_bot_asks(client: httpx.AsyncClient, message: str) -> None:
    body = await Chat(client).say(message)
    assert body["topic"] == "kim.contact"
    assert {"v:kim.contact:wanne", "v:kim.contact:eickel"} <= set(buttons(body))


# -- the file itself (no Rasa needed) ---------------------------------------------------------


def _entries(block: dict) -> list[str]:
    return [line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip().startswith("- ")]


def _lookup_and_synonyms() -> tuple[set[str], dict[str, str]]:
    lookup: set[str] = set()
    synonyms: dict[str, str] = {}
    for block in yaml.safe_load(DISTRICTS_FILE.read_text(encoding="utf-8"))["nlu"]:
        if block.get("lookup") == "district":
            lookup |= {normalize(entry) for entry in _entries(block)}
        elif "synonym" in block:
            for entry in _entries(block):
                assert synonyms.setdefault(normalize(entry), block["synonym"]) == block["synonym"], entry
    return lookup, synonyms


def test_every_spelling_maps_to_one_of_the_four_districts() -> None:
    lookup, synonyms = _lookup_and_synonyms()
    assert set(synonyms.values()) == set(TEAMS)
    unmapped = sorted(entry for entry in lookup if entry not in synonyms and entry not in TEAMS)
    assert not unmapped, f"lookup entries without a synonym (the bot would get the spelling): {unmapped}"
    unmatched = sorted(entry for entry in synonyms if entry not in lookup)
    assert not unmatched, f"synonyms the lookup table never finds: {unmatched}"


def test_no_spelling_is_a_prefix_word_of_another_district() -> None:
    """A multi-word entry that starts with another district's whole entry would never match
    (the extractor takes the first, shorter alternative)."""
    lookup, synonyms = _lookup_and_synonyms()
    value = {entry: synonyms.get(entry, entry) for entry in lookup}
    clashes = [(short, long) for short in lookup for long in lookup
               if long.startswith(short + " ") and value[short] != value[long]]
    assert not clashes
