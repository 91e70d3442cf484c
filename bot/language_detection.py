"""Guess which language a message is written in, among the languages the bot supports.

Lingua compares the supported languages with a few contrast languages (a setting), so that a
message in, say, Polish is recognised as unsupported rather than forced into Romanian.
The script narrows the candidates first (Lingua filters by alphabet). Messages too short
to carry a language ("ok", "👍", "12") return no guess, so they never flip a user's language.
"""

from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from bot.normalization import normalize

MIN_LETTERS = 4  # fewer letters than this carry no reliable language signal
UNSUPPORTED_MIN_LETTERS = 12  # calling a language unsupported needs a real sentence


@dataclass(frozen=True)
class Detection:
    """`language` is a supported code, or "" when the text is in a language we do not support."""

    language: str
    confidence: float

    @property
    def unsupported(self) -> bool:
        return self.language == ""


def _lingua_language(code: str) -> Language:
    iso = getattr(IsoCode639_1, code.upper(), None)
    if iso is None:
        raise ValueError(f"language {code!r} is unknown to the language detector")
    return Language.from_iso_code_639_1(iso)


class LanguageGuesser:
    """Two Lingua detectors, built once: supported languages alone, and those plus contrast languages.

    The first picks among the supported languages with sharp confidences; the second tells
    whether the text is rather in a language we do not support (`contrast`, e.g. Polish).
    """

    def __init__(self, supported: list[str], contrast: list[str], min_confidence: float = 0.35) -> None:
        self._by_lingua = {_lingua_language(code): code for code in supported}
        others = {_lingua_language(code) for code in contrast} - set(self._by_lingua)
        self._min_confidence = min_confidence
        self._supported: LanguageDetector = (
            LanguageDetectorBuilder.from_languages(*self._by_lingua).with_preloaded_language_models().build()
        )
        self._with_contrast: LanguageDetector | None = (
            LanguageDetectorBuilder.from_languages(*self._by_lingua, *others).with_preloaded_language_models().build()
            if others
            else None
        )

    def guess(self, text: str) -> Detection | None:
        """The likeliest language, or None when the text is too short or too unclear to tell."""
        letters = sum(char.isalpha() for char in normalize(text))
        if letters < MIN_LETTERS:
            return None
        if self._with_contrast is not None and letters >= UNSUPPORTED_MIN_LETTERS:
            values = self._with_contrast.compute_language_confidence_values(text)
            if values and values[0].language not in self._by_lingua and values[0].value >= 0.6:
                return Detection(language="", confidence=values[0].value)
        values = self._supported.compute_language_confidence_values(text)
        if not values or values[0].value < self._min_confidence:
            return None
        return Detection(language=self._by_lingua[values[0].language], confidence=values[0].value)
