"""`normalize` makes the spellings people really type meet: what the NLU was trained on and
what a user sends must fold to the same text, whatever keyboard, script variant or punctuation."""

import pytest

from bot.normalization import normalize, normalize_with_spans


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("CaféO", "cafeo"),
        ("CAFÉO", "cafeo"),
        ("Café O", "cafe o"),
        ("Şcoală", "scoala"),  # Romanian / Turkish s-cedilla, a-breve
        ("ŞCOALĂ", "scoala"),
        ("Țară", "tara"),  # Romanian t-comma
        ("Ţară", "tara"),  # the t-cedilla many Romanian keyboards still produce
        ("Grădiniță", "gradinita"),
        ("Übersetzung", "ubersetzung"),
        ("Öffnungszeiten Führerschein", "offnungszeiten fuhrerschein"),
    ],
)
def test_case_and_latin_diacritics_fold(typed: str, expected: str) -> None:
    assert normalize(typed) == expected


def test_german_sharp_s_meets_ss() -> None:
    assert normalize("Straße") == normalize("Strasse") == normalize("STRASSE") == "strasse"
    assert normalize("GROẞ") == "gross"


@pytest.mark.parametrize("typed", ["İstanbul", "istanbul", "ISTANBUL", "ıstanbul", "Istanbul"])
def test_turkish_dotted_and_dotless_i_become_plain_i(typed: str) -> None:
    assert normalize(typed) == "istanbul"


def test_turkish_capital_dotted_i_leaves_no_combining_dot() -> None:
    # str.lower() turns "İ" into "i" + U+0307; the user would see a different word.
    assert normalize("İŞ") == "is"
    assert len(normalize("İİİ")) == 3


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc", "`", "\u2018"])
def test_ukrainian_apostrophe_inside_a_word_vanishes(apostrophe: str) -> None:
    assert normalize(f"пам{apostrophe}ять") == "память"
    assert normalize(f"Сім{apostrophe}я") == "сімя"


def test_ukrainian_apostrophe_variants_all_meet() -> None:
    variants = {normalize(w) for w in ["пам'ять", "пам’ять", "памʼять", "пам`ять", "память"]}
    assert variants == {"память"}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("wanne'de", "wanne de"),
        ("Wanne’de", "wanne de"),
        ("CaféO'ya", "cafeo ya"),
        ("geht's", "geht s"),
        ("пам' ять", "пам ять"),  # apostrophe next to a space is no word-internal apostrophe
    ],
)
def test_apostrophe_outside_cyrillic_splits_words(typed: str, expected: str) -> None:
    assert normalize(typed) == expected


def test_arabic_diacritics_and_tatweel_are_removed() -> None:
    assert normalize("مَدْرَسَةٌ") == normalize("مدرسة")
    assert normalize("كـــافيه") == "كافيه"
    assert normalize("كافيهٔ") == "كافيه"  # Persian hamza above heh (ezafe)


@pytest.mark.parametrize("yeh", ["\u06cc", "\u064a", "\u0649"])  # Persian yeh, Arabic yeh, alef maksura
def test_arabic_and_persian_yeh_meet(yeh: str) -> None:
    assert normalize(f"كافي{yeh}") == normalize("كافيي")
    assert normalize(yeh) == "\u064a"


def test_arabic_and_persian_kaf_meet() -> None:
    assert normalize("کلاس") == normalize("كلاس")  # keheh vs kaf
    assert normalize("ک") == normalize("ك")


def test_teh_marbuta_becomes_heh() -> None:
    assert normalize("مدرسة") == "مدرسه"
    assert normalize("مدرسة") == normalize("مدرسه")


@pytest.mark.parametrize("alef", ["\u0623", "\u0625", "\u0622", "\u0627"])  # أ إ آ ا
def test_hamza_forms_of_alef_become_plain_alef(alef: str) -> None:
    assert normalize(f"{alef}لمانيا") == "المانيا"


def test_persian_and_arabic_digits_become_ascii() -> None:
    assert normalize("۰۱۲۳۴۵۶۷۸۹") == "0123456789"  # Persian
    assert normalize("٠١٢٣٤٥٦٧٨٩") == "0123456789"  # Arabic-Indic
    assert normalize("Overwegstr. ۳۲") == "overwegstr 32"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Hallo!!! Wo ist CaféO???", "hallo wo ist cafeo"),
        ("Herne-Mitte", "herne mitte"),
        ("👍👍 danke 🙏", "danke"),
        ("«Kurs» (B1) – wann?", "kurs b1 wann"),
        ("سلام، کافه او کجاست؟", "سلام كافه او كجاست"),
        ("¿?!.,;:", ""),
    ],
)
def test_punctuation_and_emoji_become_spaces(typed: str, expected: str) -> None:
    assert normalize(typed) == expected


def test_whitespace_is_collapsed_and_trimmed() -> None:
    assert normalize("  wo \t ist\n\n das   café  ") == "wo ist das cafe"
    assert normalize("\u00a0kurs\u2003b1\u00a0") == "kurs b1"  # no-break and em spaces
    assert normalize("کافه\u200cای") == "كافه اي"  # Persian half-space separates


IDEMPOTENCE_SAMPLES = [
    "",
    "   ",
    "CaféO?",
    "Wo ist das CaféO in Herne-Mitte?",
    "Straße GROẞ",
    "İstanbul IĞDIR ılık",
    "wanne'de oturuyorum",
    "пам'ять",
    "пам’ять пам`ять памʼять",
    "Сім'я з України",
    "Мне нужен курс немецкого языка!",
    "مَدْرَسَةٌ",
    "كـــافيه أو",
    "أين إلى آخر",
    "ی ي ى ک ك ة",
    "کافه\u200cای",
    "كافيهٔ",
    "۱۲۳ ٤٥٦",
    "Şcoală, grădiniță, țară",
    "👍🙏🏽 ok",
    "\u00a0a\u2003b\t\n",
    "ﻻ ﷺ ﬀ ① ²",  # compatibility forms NFKC expands
    "e\u0301 a\u0308",  # combining accents typed separately
    "''``’’",
    "пам''ять",
    "Ǆ ǅ ǆ",
    "ΐ ŉ ǰ",
    "ۂ",  # heh goal with hamza: folded only after its mark is stripped
]


@pytest.mark.parametrize("text", IDEMPOTENCE_SAMPLES)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_span_keeps_pointing_at_the_entity() -> None:
    text = "Ich wohne in Herne-Mitte, wer hilft mir?"
    start = text.index("Herne-Mitte")
    normalized, [(new_start, new_end)] = normalize_with_spans(text, [(start, start + len("Herne-Mitte"))])
    assert normalized == normalize(text)
    assert normalized[new_start:new_end] == "herne mitte"


def test_two_spans_keep_pointing_at_their_entities() -> None:
    text = "Von Wanne-Eickel nach Sodingen umgezogen!"
    first = (text.index("Wanne-Eickel"), text.index("Wanne-Eickel") + len("Wanne-Eickel"))
    second = (text.index("Sodingen"), text.index("Sodingen") + len("Sodingen"))
    normalized, spans = normalize_with_spans(text, [second, first])  # order given must not matter
    assert normalized == normalize(text)
    assert [normalized[s:e] for s, e in spans] == ["wanne eickel", "sodingen"]


def test_span_moves_when_text_before_it_shrinks() -> None:
    text = "İİİ  Herne-Mitte!"
    start = text.index("Herne")
    normalized, [(new_start, new_end)] = normalize_with_spans(text, [(start, start + len("Herne-Mitte"))])
    assert normalized == "iii herne mitte"
    assert (new_start, new_end) == (4, 15)
    assert normalized[new_start:new_end] == "herne mitte"


def test_span_at_the_start_of_the_text() -> None:
    text = "Sodingen!!! wo ist KIM?"
    normalized, [(new_start, new_end)] = normalize_with_spans(text, [(0, len("Sodingen"))])
    assert normalized == "sodingen wo ist kim"
    assert normalized[new_start:new_end] == "sodingen"


def test_span_in_arabic_script_text() -> None:
    text = "أنا أسكن في فانّه-آيكل"
    start = text.index("فانّه")
    normalized, [(new_start, new_end)] = normalize_with_spans(text, [(start, len(text))])
    assert normalized == normalize(text)
    assert normalized[new_start:new_end] == normalize("فانّه-آيكل") == "فانه ايكل"
