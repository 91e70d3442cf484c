"""The bot answers in the language the user writes in: clear sentences are recognised, a short
message is read with what is known besides its letters (greetings, the remembered language, the
channel's hint, German as Herne's default), "ok" never flips the language, and a language we do
not support is not forced into one we do."""

from pathlib import Path

import pytest

from bot.content import load_content
from bot.language_detection import Decision, LanguageChooser, LanguageGuesser
from bot.settings import PROJECT_ROOT, Settings
from bot.transliteration import arabizi_words, cyrillic_reading
from bot.words import load_words

SUPPORTED = ["de", "en", "ar", "tr", "ro", "uk", "ru", "fa", "fr", "bg"]
SCRIPTS = {"de": "LATIN", "en": "LATIN", "tr": "LATIN", "ro": "LATIN", "ar": "ARABIC", "fa": "ARABIC",
           "uk": "CYRILLIC", "ru": "CYRILLIC", "fr": "LATIN", "bg": "CYRILLIC"}


@pytest.fixture(scope="module")
def chooser() -> LanguageChooser:
    """The real Lingua detector and the real word lists of content/words.yml, as the application builds them."""
    guesser = LanguageGuesser(SUPPORTED, Settings().contrast_language_list())
    words = load_content(PROJECT_ROOT / "content", set(SUPPORTED)).words
    return LanguageChooser(guesser, words, SCRIPTS, "de")


# Everyday questions of people new in Herne, on subjects the NLU examples do not cover.
SENTENCES = [
    ("de", "Wo kann ich meine neue Wohnung beim Bürgeramt anmelden?"),
    ("de", "Mein Sohn braucht einen Platz im Kindergarten, an wen muss ich mich wenden?"),
    ("en", "Where can I register my new address in the city?"),
    ("en", "My daughter needs a doctor who speaks English, do you know one nearby?"),
    ("ar", "أين يمكنني تسجيل عنواني الجديد في المدينة؟"),
    ("ar", "ابني يحتاج إلى مكان في روضة الأطفال، لمن يجب أن أتوجه؟"),
    ("tr", "Yeni adresimi şehirde nereye kaydettirebilirim?"),
    ("tr", "Oğlumun anaokulunda bir yere ihtiyacı var, kime başvurmalıyım?"),
    ("ro", "Unde pot să îmi înregistrez noua adresă în oraș?"),
    ("ro", "Fiul meu are nevoie de un loc la grădiniță, la cine trebuie să merg?"),
    ("uk", "Де я можу зареєструвати свою нову адресу в місті?"),
    ("uk", "Моєму синові потрібне місце в дитячому садку, до кого мені звернутися?"),
    ("ru", "Где я могу зарегистрировать свой новый адрес в городе?"),
    ("ru", "Моему сыну нужно место в детском саду, к кому мне обратиться?"),
    ("fa", "کجا می‌توانم آدرس جدیدم را در شهر ثبت کنم؟"),
    ("fa", "پسرم به یک جا در مهدکودک نیاز دارد، باید به چه کسی مراجعه کنم؟"),
    ("fr", "Où est-ce que je peux enregistrer ma nouvelle adresse dans la ville ?"),
    ("fr", "Mon fils a besoin d'une place à la crèche, à qui dois-je m'adresser ?"),
    ("bg", "Къде мога да регистрирам новия си адрес в града?"),
    ("bg", "Синът ми има нужда от място в детска градина, към кого да се обърна?"),
]


@pytest.mark.parametrize(("language", "sentence"), SENTENCES, ids=[f"{l}-{i % 2}" for i, (l, _) in enumerate(SENTENCES)])
def test_clear_sentence_is_detected_as_its_language(chooser: LanguageChooser, language: str, sentence: str) -> None:
    choice = chooser.choose(sentence)
    assert choice is not None and choice.language == language
    assert not choice.unsupported


@pytest.mark.parametrize("message", ["ok", "👍", "12", "?", "hm", "OK!", "  ", "", "👍👍👍", "۱۲۳"])
def test_too_short_message_gives_no_guess(chooser: LanguageChooser, message: str) -> None:
    assert chooser.choose(message) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Gdzie mogę zarejestrować mój nowy adres w mieście?",  # Polish
        "¿Dónde puedo registrar mi nueva dirección en la ciudad, por favor?",  # Spanish
    ],
    ids=["pl", "es"],
)
def test_unsupported_language_is_recognised_as_such(chooser: LanguageChooser, sentence: str) -> None:
    choice = chooser.choose(sentence)
    assert choice is not None and choice.unsupported


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("ar", "هل تعرف طبيبا يتكلم العربية في هرنه؟"),
        ("fa", "آیا دکتری می‌شناسید که در هرنه فارسی صحبت کند؟"),
        ("ar", "أنا لا أعرف إلى أين يجب أن أذهب بهذه الرسالة"),
        ("fa", "من نمی‌دانم با این نامه کجا باید بروم"),
    ],
)
def test_arabic_and_persian_are_told_apart(chooser: LanguageChooser, language: str, sentence: str) -> None:
    choice = chooser.choose(sentence)
    assert choice is not None and choice.language == language


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("uk", "Ми хочемо знайти житло для нашої родини"),
        ("ru", "Мы хотим найти жильё для нашей семьи"),
        ("uk", "Чи можу я отримати допомогу з документами?"),
        ("ru", "Могу ли я получить помощь с документами?"),
    ],
)
def test_ukrainian_and_russian_are_told_apart(chooser: LanguageChooser, language: str, sentence: str) -> None:
    choice = chooser.choose(sentence)
    assert choice is not None and choice.language == language


@pytest.mark.parametrize(
    ("message", "language"),
    [("Hallo", "de"), ("Moin", "de"), ("Servus", "de"), ("Guten Tag", "de"), ("merhaba", "tr"),
     ("buna ziua", "ro"), ("привіт", "uk"), ("привет", "ru"), ("مرحبا", "ar"), ("ممنون", "fa"), ("thank you", "en"),
     # chat spellings, and the everyday Ukrainian greeting that Russian uses only in parting
     ("thnx", "en"), ("idk", "en"), ("mss", "ro"), ("Доброго дня!", "uk"),
     ("bonjour", "fr"), ("merci beaucoup", "fr"), ("здравейте", "bg"), ("благодаря", "bg"), ("Добър ден", "bg")],
)
def test_a_greeting_alone_is_answered_in_its_language(chooser: LanguageChooser, message: str, language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize(("message", "language"), [("Merci", "fr"), ("hi", "en"), ("sorry", "en"), ("Hey", "en")])
def test_a_word_other_languages_borrowed_is_read_as_its_own_language(chooser: LanguageChooser, message: str,
                                                                     language: str) -> None:
    """German speakers say "merci", "hi" and "sorry" too, but alone they are French and English."""
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize("message", ["Merci", "hi", "sorry"])
def test_a_borrowed_word_keeps_the_users_language_and_follows_the_hint(chooser: LanguageChooser, message: str) -> None:
    assert chooser.decide(message, "de", None, None) == Decision("de")
    assert chooser.decide(message, None, None, "de").language == "de"


@pytest.mark.parametrize(("message", "language"), [("hi zusammen", "de"), ("servus tuturor", "ro"),
                                                   ("Hey, wie geht's?", "de"), ("non merci", "fr")])
def test_a_borrowed_word_does_not_outweigh_the_languages_own_words(chooser: LanguageChooser, message: str,
                                                                   language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize("message", ["CaféO Adresse", "Termin?", "Deutschkurs", "Jobcenter Termin"])
def test_german_service_words_keep_a_returning_users_language(chooser: LanguageChooser, message: str) -> None:
    assert chooser.decide(message, "ru", None, None).language == "ru"
    assert not chooser.decide(message, "ru", None, None).unsupported
    assert chooser.decide(message, None, None, None).language == "de"  # a new user in Herne


@pytest.mark.parametrize(("message", "language"), [("متى Termin", "ar"), ("Deutschkurs когда", "ru"),
                                                   ("Adresse کجاست", "fa"), ("Deutschkurs nerede", "tr"),
                                                   ("Termin c'est quand", "fr"), ("Deutschkurs къде е", "bg")])
def test_german_words_inside_another_language_do_not_make_it_german(chooser: LanguageChooser, message: str,
                                                                    language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


def test_the_channels_hint_decides_what_the_letters_cannot(chooser: LanguageChooser) -> None:
    assert chooser.decide("سلام", None, None, "fa").language == "fa"
    assert chooser.decide("سلام", None, None, "ar").language == "ar"
    assert chooser.decide("ok", None, None, "tr").language == "tr"
    assert chooser.decide("ok", None, None, None).language == "de"


def test_a_short_message_in_another_language_switches_only_the_second_time(chooser: LanguageChooser) -> None:
    first = chooser.decide("merhaba", "de", None, None)
    assert (first.language, first.pending) == ("de", "tr")
    assert chooser.decide("tamam", "de", first.pending, None).language == "tr"


# A short question in words of one language's own, after a first message was read as another
# ("hi" then "was ist cafeo"): seen in session 20, the first answer came in the wrong language.
@pytest.mark.parametrize("remembered, message, language", [
    ("en", "was ist cafeo", "de"), ("en", "ich brauche deutschkurs", "de"), ("tr", "wo ist das büro", "de"),
    ("de", "what is kim", "en"), ("fr", "where is cafeo", "en"), ("en", "ne zaman açık", "tr"),
    ("de", "unde este cafeo", "ro"), ("de", "où est le cafeo", "fr"), ("ru", "дякую, коли відкрито", "uk"),
    ("uk", "где кафео находится", "ru"), ("ru", "къде е кафето", "bg"), ("ar", "خیلی ممنون", "fa"),
    ("fa", "شكرا جزيلا", "ar"),
])
def test_a_short_message_plainly_in_another_language_switches_at_once(chooser: LanguageChooser, remembered: str,
                                                                      message: str, language: str) -> None:
    assert chooser.decide(message, remembered, None, None) == Decision(language)


def test_finglish_after_an_arabic_salam_switches_to_persian_at_once(chooser: LanguageChooser) -> None:
    """Seen in session 20: "salam" was taken for Arabic, and the Persian sentence after it was
    answered in Arabic, for want of its everyday words in the Finglish list."""
    assert chooser.decide("man be kelas almani niaz daram", "ar", None, None) == Decision("fa")


# German thanks and yes/no that newcomers use whatever they speak: the user's own language stays.
@pytest.mark.parametrize("remembered, message", [
    ("tr", "danke schön"), ("ro", "ja danke"), ("fr", "vielen dank"), ("en", "hallo danke"), ("tr", "nein danke"),
])
def test_a_german_thanks_keeps_the_users_language(chooser: LanguageChooser, remembered: str, message: str) -> None:
    assert chooser.decide(message, remembered, None, None).language == remembered


def test_a_clear_sentence_in_another_script_switches_at_once(chooser: LanguageChooser) -> None:
    assert chooser.decide("أين يمكنني تعلم اللغة الألمانية في هرنه", "de", None, None).language == "ar"


def test_a_transliteration_keeps_the_users_script_language(chooser: LanguageChooser) -> None:
    assert chooser.decide("marhaba wen el cafe", "ar", None, None).language == "ar"
    assert chooser.decide("privet gde kurs nemeckogo", "ru", None, None).language == "ru"


@pytest.mark.parametrize(("message", "remembered", "expected"), [
    ("ich kann nicht mehr, will nicht mehr leben", "fa", "de"),
    ("wo ist das cafe und wann ist es offen", "uk", "de"),
    ("where can i do the placement test please", "ar", "en"),
    ("man nemitoonam dige, komak mikham", "fa", "fa"),  # Finglish stays Persian
    ("ya ne mogu bolshe, pomogite", "ru", "ru"),
    ("wo ist cafe", "fa", "fa"),  # short: the conversation's language decides
])
def test_a_latin_sentence_plainly_in_one_of_our_languages_is_no_transliteration(
        chooser: LanguageChooser, message: str, remembered: str, expected: str) -> None:
    """A Persian speaker writing a German sentence (a crisis, a friend's phone) is answered in German."""
    assert chooser.decide(message, remembered, None, None).language == expected


def test_unsupported_is_said_only_for_a_long_text(chooser: LanguageChooser) -> None:
    assert not chooser.decide("Dzień dobry", None, None, None).unsupported
    assert not chooser.decide("Bonjour madame", "tr", None, None).unsupported
    assert chooser.decide("Dzień dobry, gdzie mogę znaleźć kurs języka niemieckiego?", None, None, None).unsupported


def test_a_sentence_in_another_script_switches_at_once_even_with_few_known_words(chooser: LanguageChooser) -> None:
    assert chooser.decide("я из Айкеля, кто мой кейс-менеджер?", "de", None, None).language == "ru"


# -- other scripts typed in Latin letters (bot/transliteration.py) ---------------------------------


@pytest.mark.parametrize("message", ["t7akini", "sa3idni", "3arabi", "la2 mesh hek"])
def test_arabizi_digits_inside_latin_words_are_arabic(chooser: LanguageChooser, message: str) -> None:
    """2 3 5 7 9 stand for Arabic consonants; none of these words is in a word list."""
    assert chooser.decide(message, None, None, None).language == "ar"


@pytest.mark.parametrize("message", ["a2 kurs", "b2", "3er bus", "um 9am", "3eme etage", "mp3", "9euro ticket"])
def test_levels_ordinals_and_times_are_no_arabizi(message: str) -> None:
    assert arabizi_words(message) == 0


@pytest.mark.parametrize(("message", "language"), [("shukran", "ar"), ("marhaba", "ar"), ("mamnoon", "fa"),
                                                   ("chetori", "fa"), ("kheyli mamnoon", "fa")])
def test_transliterated_words_of_the_word_lists_are_their_language(chooser: LanguageChooser, message: str,
                                                                   language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize(("message", "language"), [
    ("poftim", "ro"), ("mai rar va rog", "ro"), ("inscriere curs", "ro"), ("ne rozumiiu nichoho", "uk"),
    ("motevajeh nashodam", "fa"), ("shab bekheyr", "fa"), ("pesaram madrese mikhad", "fa"),
    ("koe uchilishte", "bg"), ("otmenyam termina", "bg"), ("отменям часа", "bg"),
    ("brb", "en"), ("nvm thx", "en"), ("tkt merci", "fr"), ("jsp", "fr"), ("wesh", "fr"), ("noroc", "ro"),
    ("saol abi", "tr"), ("абе", "bg"), ("ye lahze", "fa"), ("poniatno", "ru"), ("leka nosht", "bg"),
])
def test_session_18_words_decide_short_messages(chooser: LanguageChooser, message: str, language: str) -> None:
    """Words from language-blind-4 (measured once, a development set since), reworded."""
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize(("message", "language"), [
    ("ne ponimayu", "ru"), ("ne rozumiyu", "uk"), ("ne razbiram", "bg"), ("kolko struva kursat", "bg"),
    ("privet", "ru"),  # Russian and Bulgarian both list привет: the detector, asked about the Cyrillic reading
])
def test_cyrillic_languages_in_latin_letters_are_read_in_cyrillic(chooser: LanguageChooser, message: str,
                                                                  language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize(("message", "language"), [
    ("ya hochu zapisatsya na kurs nemeckogo yazyka", "ru"),
    ("mene zvaty olena i ya shukayu robotu", "uk"),
    ("kazhete mi kude e kafeto", "bg"),
    ("ana badi sajjel bil kurs ya3ni", "ar"),
    ("man mikham dar kelas almani esm benevisam", "fa"),
])
def test_a_long_transliterated_message_is_its_language_not_a_latin_one(chooser: LanguageChooser, message: str,
                                                                       language: str) -> None:
    decision = chooser.decide(message, None, None, None)
    assert (decision.language, decision.unsupported) == (language, False)


@pytest.mark.parametrize(("message", "language"), [("test de nivel", "ro"), ("numar de telefon", "ro"),
                                                   ("de", "de"), ("zerina kolic", "de")])
def test_latin_words_and_names_read_in_cyrillic_make_no_transliteration(chooser: LanguageChooser, message: str,
                                                                        language: str) -> None:
    """"de" reads "де" (Ukrainian "where"), "Zerina" is in the Ukrainian texts as "Зеріна": neither
    is a Ukrainian message."""
    assert chooser.decide(message, None, None, None).language == language


def test_a_transliterated_message_moves_a_returning_user_like_any_other(chooser: LanguageChooser) -> None:
    first = chooser.decide("shukran", "de", None, None)
    assert (first.language, first.pending) == ("de", "ar")
    assert chooser.decide("t7akini", "de", first.pending, None).language == "ar"


@pytest.mark.parametrize(("message", "language"), [
    ("искаш ли да дойдеш по-рано", "bg"),  # the comparative по-, the second person without a soft sign
    ("знаеш ли къде е", "bg"),
    ("страхотно", "bg"),
    ("да, благодаря", "bg"),
    ("ты можешь говорить по-русски", "ru"),  # Russian hyphenates по- before -ски, and writes -шь
])
def test_bulgarian_and_russian_are_told_apart(chooser: LanguageChooser, message: str, language: str) -> None:
    assert chooser.decide(message, None, None, None).language == language


def test_polish_typed_without_diacritics_stays_a_language_we_do_not_speak(chooser: LanguageChooser) -> None:
    """Read in Cyrillic, "mogu" and "apteka" are Russian words; two of six words are not enough."""
    assert chooser.decide("Gdzie jest najblizsza apteka w miescie?", None, None, None).unsupported


def test_letters_with_diacritics_are_no_transliteration(chooser: LanguageChooser) -> None:
    """Read in Cyrillic, Polish "moj nowy adres" is Bulgarian "мой нови адрес"; typed with its
    diacritics, "mój" is plainly a Latin-script language's own word."""
    assert chooser.decide("mój nowy adres", None, None, None).language != "bg"


def test_a_borrowed_word_also_in_the_languages_own_list_counts_once_as_borrowed(tmp_path: Path) -> None:
    """Staff adding "merci" to German's own words again must not make "Merci" German."""
    (tmp_path / "words.yml").write_text(
        "language: {de: [danke, merci], fr: [merci]}\nborrowed: {de: [merci]}\nloanwords: [termin]\n"
        "follow_up_start: {de: [und], fr: [et]}\nfollow_up_anywhere: {de: [dort], fr: [la-bas]}\n", encoding="utf-8")
    words = load_words(tmp_path / "words.yml", {"de", "fr"})
    assert words.votes("Merci") == {"de": 1, "fr": 1}
    assert words.borrowed_votes("Merci") == {"de": 1}


@pytest.mark.parametrize("message", ["Mama", "papa"])
def test_a_german_word_that_reads_as_cyrillic_stays_german_for_a_new_user(chooser: LanguageChooser, message: str) -> None:
    """"Mama" read in Cyrillic is Ukrainian "мама"; it is a German word as much."""
    assert chooser.decide(message, None, None, None).language == "de"
    assert chooser.decide(message, "uk", None, None).language == "uk"


@pytest.mark.parametrize(("text", "language", "reading"), [
    ("zhenskaya konsultaciya vo skolko", "ru", "женская консултация во сколко"),
    ("dytyna 11 rokiv yaka shkola", "uk", "дитина 11 років яка школа"),
    ("kade e cafeo", "bg", "каде е cafeo"),
    ("nomer jobcenter", "ru", "номер jobcenter"),
])
def test_a_latin_message_is_read_in_its_languages_cyrillic(text: str, language: str, reading: str) -> None:
    assert cyrillic_reading(text, language, lambda word: word in {"cafeo", "jobcenter"}) == reading


@pytest.mark.parametrize(("text", "language"), [("где кафе", "ru"), ("wo ist das cafe", "de"), ("wen el cafe", "ar")])
def test_no_cyrillic_reading_for_another_alphabet_or_script(text: str, language: str) -> None:
    assert cyrillic_reading(text, language, lambda word: False) is None


@pytest.mark.parametrize(("message", "language"), [("la ce ora se deschide Ausländerbehörde", "ro"),
                                                   ("Ausländerbehörde icin randevu nasil alinir", "tr")])
def test_the_detector_judges_a_sentence_without_its_german_service_words(chooser: LanguageChooser, message: str,
                                                                         language: str) -> None:
    """A long German office name outweighed the rest of the sentence (blind set 6)."""
    assert chooser.decide(message, None, None, None).language == language


@pytest.mark.parametrize(("message", "language"), [("Aufenthaltstitel uzatma", "tr"), ("renouveler Aufenthaltstitel", "fr"),
                                                   ("Aufenthaltstitel expirat", "ro"), ("Termin iptal", "tr"),
                                                   ("baraye Anmeldung che madareki lazeme", "fa"),
                                                   ("kasi farsi baladeh oonja", "fa")])
def test_a_german_office_word_beside_a_word_of_ones_own_language(chooser: LanguageChooser, message: str,
                                                                 language: str) -> None:
    """A new user's own word decides, not the German office name beside it (blind sets 5 and 6)."""
    assert chooser.decide(message, None, None, None).language == language
