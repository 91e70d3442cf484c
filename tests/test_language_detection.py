"""The bot answers in the language the user writes in: clear sentences are recognised, replies
like "ok" never flip the language, and a language we do not support is not forced into one we do."""

import pytest

from bot.language_detection import Detection, LanguageGuesser
from bot.settings import Settings

SUPPORTED = ["de", "en", "ar", "tr", "ro", "uk", "ru", "fa"]


@pytest.fixture(scope="module")
def guesser() -> LanguageGuesser:
    """The real Lingua detector, as the application builds it (takes a few seconds)."""
    return LanguageGuesser(SUPPORTED, Settings().contrast_language_list())


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
]


@pytest.mark.parametrize(("language", "sentence"), SENTENCES, ids=[f"{l}-{i % 2}" for i, (l, _) in enumerate(SENTENCES)])
def test_clear_sentence_is_detected_as_its_language(guesser: LanguageGuesser, language: str, sentence: str) -> None:
    detection = guesser.guess(sentence)
    assert detection is not None
    assert detection.language == language
    assert not detection.unsupported


@pytest.mark.parametrize("message", ["ok", "👍", "12", "?", "hm", "OK!", "  ", "", "👍👍👍", "۱۲۳"])
def test_too_short_message_gives_no_guess(guesser: LanguageGuesser, message: str) -> None:
    assert guesser.guess(message) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Gdzie mogę zarejestrować mój nowy adres w mieście?",  # Polish
        "Où est-ce que je peux déclarer ma nouvelle adresse en ville ?",  # French
    ],
    ids=["pl", "fr"],
)
def test_unsupported_language_is_recognised_as_such(guesser: LanguageGuesser, sentence: str) -> None:
    detection = guesser.guess(sentence)
    assert isinstance(detection, Detection)
    assert detection.language == ""
    assert detection.unsupported


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("ar", "هل تعرف طبيبا يتكلم العربية في هرنه؟"),
        ("fa", "آیا دکتری می‌شناسید که در هرنه فارسی صحبت کند؟"),
        ("ar", "أنا لا أعرف إلى أين يجب أن أذهب بهذه الرسالة"),
        ("fa", "من نمی‌دانم با این نامه کجا باید بروم"),
    ],
)
def test_arabic_and_persian_are_told_apart(guesser: LanguageGuesser, language: str, sentence: str) -> None:
    detection = guesser.guess(sentence)
    assert detection is not None and detection.language == language


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("uk", "Ми хочемо знайти житло для нашої родини"),
        ("ru", "Мы хотим найти жильё для нашей семьи"),
        ("uk", "Чи можу я отримати допомогу з документами?"),
        ("ru", "Могу ли я получить помощь с документами?"),
    ],
)
def test_ukrainian_and_russian_are_told_apart(guesser: LanguageGuesser, language: str, sentence: str) -> None:
    detection = guesser.guess(sentence)
    assert detection is not None and detection.language == language
