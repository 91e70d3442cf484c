"""Which language a message is written in, among the languages the bot supports.

Short messages ("Hallo", "Servus", "CaféO Adresse") carry too few letters for statistics, so the
decision uses what is known besides the letters, in this order:
1. the script (Arabic letters are Arabic or Persian, never German) and letters only one of our
   languages uses (Persian پ چ ژ گ, Ukrainian і ї є ґ, Russian ы э ё, Bulgarian ъ, Turkish ğ ı, Romanian ă ș ț,
   French è ê à ù);
2. the per-language words of content/words.yml (greetings, thanks, everyday words); in Latin
   letters also those of Arabic, Persian, Russian, Ukrainian, Bulgarian as people type them without
   their keyboard ("shukran", "3afwan", "spasibo": bot/transliteration.py);
3. the language the user already speaks with the bot: a short message keeps it unless it shows
   another language plainly; German service words ("Termin", "Adresse") never move anyone;
4. the channel's hint (browser language, Telegram `language_code`);
5. a word several languages use is read as the one whose own word it is ("sorry" is English,
   "merci" French, though German speakers say both), then German, Herne's default.
Longer messages go to the statistical detector (Lingua), restricted to the script's languages.
A language we do not speak is declared only for a long text the detector is sure of.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from bot.i18n import script_of
from bot.normalization import normalize
from bot.transliteration import Transliteration, in_cyrillic
from bot.words import Words

SHORT_WORDS = 3  # up to this many words a message is "short": words and context decide
DETECTOR_MIN_LETTERS = 12  # below this the detector's guess is noise
UNSUPPORTED_MIN_WORDS = 4  # calling a language unsupported needs a real sentence...
UNSUPPORTED_MIN_LETTERS = 20
UNSUPPORTED_MIN_CONFIDENCE = 0.8  # ...that the detector is sure of, and few of whose words are ours:
UNSUPPORTED_KNOWN = 4  # a quarter at most
# Polish or Czech typed without diacritics shares words with Russian read in Cyrillic ("mogu", "apteka"):
# a transliteration the detector takes for a language we do not speak needs half its words known.
UNSUPPORTED_TYPED_KNOWN = 2
NO_WORDS_DETECTOR_LETTERS = 8  # a short message no word list knows goes to the detector...
NO_WORDS_DETECTOR_SHARE = 0.8  # ...which decides only when it is sure
WORDS_MARGIN = 2  # a long message whose known words lead by this many is that language
SWITCH_CONFIDENCE = 0.9  # a long message this clearly in another language switches at once
# A short message with this many words of one language's own and none of the user's language
# ("ich brauche deutschkurs" after an English "hi") switches at once, like a long one.
SWITCH_OWN_WORDS = 2

# Letters that only one (or two) of the supported languages use, in lower case.
_TELLING_LETTERS: dict[str, str] = {
    "fa": "پچژگیک",  # Persian keyboard letters (Arabic keyboards type ي ك instead of ی ک)
    "ar": "ةيىك",
    "uk": "іїєґ",
    "ru": "ыэё",
    "bg": "ъ",  # Bulgarian's most frequent vowel; in Russian a rare separator ("подъезд")
    "tr": "ğış",
    "ro": "ăâîșțşţ",
    "de": "äß",  # ö and ü are Turkish too
    "fr": "èêàùœëûô",  # not é ("CaféO" in every language) nor ç (Turkish)
}

# Word forms only some of the Cyrillic languages write, each kind counting like a telling letter:
# the Bulgarian comparative "по-просто", "по-добре" (Russian and Ukrainian hyphenate по- only before
# -ски, -ому, -ему: "по-русски", "по-моему"), and the second person singular without a soft sign,
# "можеш", "обясниш" (Bulgarian and Ukrainian; Russian writes "можешь").
_TELLING_FORMS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = (
    (frozenset({"bg"}), re.compile(r"(?<!\w)по-(?!\w*(?:ски|цки|ому|ему|єму|ьи)(?!\w))\w+")),
    (frozenset({"bg", "uk"}), re.compile(r"(?<!\w)\w{2,}[аеиєяю]ш(?!\w)")),
)


@dataclass(frozen=True)
class Choice:
    """The language of one message: `language` is a supported code, or "" for one we do not speak.
    `sure`: the message itself shows the language plainly (a long text, another script), so a
    user's remembered language gives way at once instead of after a second message."""

    language: str
    sure: bool = False
    reason: str = ""

    @property
    def unsupported(self) -> bool:
        return self.language == ""


def _script(text: str) -> str:
    """The message's script; any Arabic or Cyrillic letters win over Latin ones, which in
    "متى Termin" or "Deutschkurs когда" are German words inside another language."""
    letters = [char for char in text if char.isalpha()]
    others = [char for char in letters if not ("a" <= char.lower() <= "z" or "\u00c0" <= char <= "\u024f")]
    return script_of("".join(others)) if others else script_of(text)


def _lingua_language(code: str) -> Language:
    iso = getattr(IsoCode639_1, code.upper(), None)
    if iso is None:
        raise ValueError(f"language {code!r} is unknown to the language detector")
    return Language.from_iso_code_639_1(iso)


class LanguageGuesser:
    """The statistical detector: Lingua over the supported and the contrast languages (e.g. Polish,
    so that a Polish sentence is recognised as unsupported rather than forced into Romanian).

    Low-accuracy mode (trigrams only) is used: it is the detector for long messages only, where
    it is as accurate as the full models, at a fraction of the memory (see README, "Language").
    """

    def __init__(self, supported: list[str], contrast: list[str]) -> None:
        self._by_lingua = {_lingua_language(code): code for code in supported}
        others = {_lingua_language(code) for code in contrast} - set(self._by_lingua)
        self._detector: LanguageDetector = (
            LanguageDetectorBuilder.from_languages(*self._by_lingua, *others)
            .with_low_accuracy_mode().with_preloaded_language_models().build()
        )

    def confidences(self, text: str) -> list[tuple[str, float]]:
        """(code, confidence) best first; a language we do not support has the code ""."""
        return [(self._by_lingua.get(value.language, ""), value.value)
                for value in self._detector.compute_language_confidence_values(text)]


@dataclass(frozen=True)
class Decision:
    """The language to answer one message in, and the language the user may be moving to
    (`pending`: one short message in it so far; a second one switches)."""

    language: str
    pending: str | None = None
    unsupported: bool = False


class LanguageChooser:
    """Decides the language of each message from its words, letters, the conversation and the detector."""

    def __init__(self, guesser: LanguageGuesser, words: Words, scripts: dict[str, str], default: str) -> None:
        """`scripts`: each supported language's script ("LATIN", "ARABIC", "CYRILLIC")."""
        self._guesser = guesser
        self._words = words
        self._scripts = scripts
        self._default = default
        self._transliteration = Transliteration(words, scripts)

    def _other_transliteration(self, text: str, remembered: str, n_words: int) -> Choice | None:
        """Latin letters that plainly show another language of another script than the user's
        ("mikham ba ye adam sohbat konam", Finglish, from a user the bot took for Arabic after
        "salam"): that language; sure when a longer message shows it in half its words, a short
        one only the second time."""
        votes = self._transliteration.votes(text)
        if not votes:
            return None
        best = max(votes, key=lambda code: votes[code])
        if best == remembered or votes[best] <= votes.get(remembered, 0):
            return None
        return Choice(best, sure=n_words > SHORT_WORDS and votes[best] * 2 >= n_words, reason="transliteration")

    def transliterated(self, text: str, language: str) -> bool:
        """Does the Latin-letter `text` show `language`, one of another script, typed in Latin letters?"""
        return language in self._transliteration.votes(text)

    def decide(self, text: str, remembered: str | None, pending: str | None, hint: str | None) -> Decision:
        """The language to answer in. A new user gets the message's language (or the hint, or
        the default); a returning one keeps theirs unless the message plainly shows another
        (`Choice.sure`) or a second message in a row is in the same other language."""
        choice = self.choose(text, remembered, hint)
        if choice is not None and choice.unsupported:
            return Decision(remembered or self._default, pending, unsupported=True)
        if remembered is None:
            return Decision(choice.language if choice is not None else hint or self._default)
        if choice is None:
            return Decision(remembered, pending)
        if choice.language == remembered:
            return Decision(remembered)
        if choice.sure or pending == choice.language:
            return Decision(choice.language)
        return Decision(remembered, choice.language)

    def choose(self, text: str, remembered: str | None = None, hint: str | None = None) -> Choice | None:
        """The message's language, or None when it shows none ("ok", "👍", "12", "KIM")."""
        words = normalize(text).split()
        letters = sum(char.isalpha() for char in "".join(words))
        script = _script(text)
        candidates = [code for code, s in self._scripts.items() if s == script]
        if not candidates:
            return self._foreign_script(text, len(words), letters)
        if remembered is not None and self._scripts.get(remembered) != "LATIN" and script == "LATIN":
            # Latin letters from an Arabic, Persian or Russian speaker: a transliteration, unless
            # it is a sentence plainly in one of our Latin languages ("ich kann nicht mehr").
            plain = self._plainly_latin(text, len(words), candidates) if remembered in self._scripts else None
            return plain or self._other_transliteration(text, remembered, len(words)) \
                or Choice(remembered, reason="transliteration")
        if self._words.only_loanwords(text):
            # "CaféO Adresse", "Termin?": German words every newcomer uses; they move no one,
            # and for a new user the channel's hint or Herne's default (German) decides.
            return Choice(remembered, reason="loanwords") if remembered is not None else None
        scores = self._scores(text, candidates)
        if script == "LATIN":
            # "marhaba", "3afwan", "spasibo": a language of another script typed in Latin letters.
            for code, votes in self._transliteration.votes(text).items():
                candidates.append(code)
                scores[code] = votes
        if len(words) > SHORT_WORDS and letters >= DETECTOR_MIN_LETTERS:
            ranked = sorted(scores.values(), reverse=True) + [0, 0]
            leader = max(scores, key=lambda code: scores[code])
            # The detector knows no language of another script in Latin letters: their words count
            # against its verdict that the text is in a language we do not speak (Polish, Czech).
            known = ranked[0] if self._scripts[leader] != script else None
            if ranked[0] - ranked[1] >= WORDS_MARGIN and self._detected_ours(text, len(words), letters, known):
                # Most words are plainly one language's ("was ist kim genau"): no statistics needed.
                return Choice(leader, sure=ranked[0] * 2 >= len(words) or self._new_script(remembered, script),
                              reason="words")
            typed = [code for code in candidates if self._scripts[code] != script and scores[code] == ranked[0]]
            if typed and all(scores[code] < ranked[0] for code in candidates if self._scripts[code] == script) \
                    and self._detected_ours(text, len(words), letters, ranked[0]):
                # Another script's language typed in Latin letters leads: the detector would read it as a Latin one.
                code = self._ranked_among(typed, text, script)[0][0] if len(typed) > 1 else typed[0]
                return Choice(code, sure=ranked[0] * 2 >= len(words) or self._new_script(remembered, script),
                              reason="transliteration")
            long_choice = self._detect(text, candidates, remembered, len(words), letters)
            if long_choice is not None:
                return replace(long_choice, sure=long_choice.sure or self._new_script(remembered, script))
        return self._short(scores, candidates, remembered, hint, script, text, letters)

    def _short(self, scores: dict[str, int], candidates: list[str], remembered: str | None, hint: str | None,
               script: str, text: str, letters: int) -> Choice | None:
        best = max(scores.values(), default=0)
        if best == 0 and letters < 4:
            return None  # "hm", "ok": nothing to go on
        leaders = [code for code in candidates if scores.get(code, 0) == best] if best > 0 else list(candidates)
        different_script = self._new_script(remembered, script)
        if remembered in leaders:
            return Choice(remembered, reason="remembered")
        if len(leaders) == 1:
            return Choice(leaders[0], sure=different_script or self._plainly_other(text, leaders[0], remembered, scores),
                          reason="words")
        if best == 0 and letters >= NO_WORDS_DETECTOR_LETTERS:
            # No word of any list ("placement test"): the detector may say, if it is sure.
            ranked = [(code, value) for code, value in self._guesser.confidences(text) if code in leaders]
            total = sum(value for _, value in ranked)
            if ranked and total > 0 and ranked[0][1] / total >= NO_WORDS_DETECTOR_SHARE:
                return Choice(ranked[0][0], sure=different_script, reason="detector")
        if hint in leaders:
            return Choice(hint, sure=different_script, reason="hint")
        if best > 0:
            # "Merci", "hi": the languages that only borrowed the word give way to its own one.
            borrowed = self._words.borrowed_votes(text)
            fewest = min(borrowed.get(code, 0) for code in leaders)
            leaders = [code for code in leaders if borrowed.get(code, 0) == fewest]
            if len(leaders) == 1:
                return Choice(leaders[0], sure=different_script, reason="own word")
        if self._default in leaders:
            return Choice(self._default, sure=different_script, reason="default")
        if letters >= 4:
            ranked = self._ranked_among(leaders, text, script)
            if ranked:
                return Choice(ranked[0][0], sure=different_script, reason="detector")
        return Choice(leaders[0], sure=different_script, reason="script") if different_script or not remembered else None

    def _ranked_among(self, leaders: list[str], text: str, script: str) -> list[tuple[str, float]]:
        """The detector's ranking of the leaders; Cyrillic typed in Latin letters ("privet") is
        judged in its Cyrillic readings, which the detector knows."""
        if script == "LATIN" and all(self._scripts.get(code) == "CYRILLIC" for code in leaders):
            totals = dict.fromkeys(leaders, 0.0)
            for reading in in_cyrillic(text):
                for code, value in self._guesser.confidences(reading):
                    if code in totals:
                        totals[code] += value
            return sorted(totals.items(), key=lambda item: -item[1])
        return [(code, value) for code, value in self._guesser.confidences(text) if code in leaders]

    def _plainly_other(self, text: str, leader: str, remembered: str | None, scores: dict[str, int]) -> bool:
        """A short message in words of the leader's own and none of the user's language: the
        user plainly writes another language now ("was ist cafeo" after "hi" was taken for English)."""
        return remembered is not None and scores.get(remembered, 0) == 0 \
            and self._words.own_words(text, leader) >= SWITCH_OWN_WORDS

    def _new_script(self, remembered: str | None, script: str) -> bool:
        """A message in another script than the user's language: plainly another language."""
        return remembered is not None and self._scripts.get(remembered) != script

    def _plainly_latin(self, text: str, n_words: int, candidates: list[str]) -> Choice | None:
        """A longer Latin text most of whose words are one Latin language's own, with no word of a
        language of another script typed in Latin letters: that language, plainly."""
        if n_words <= SHORT_WORDS or self._transliteration.votes(text):
            return None
        scores = self._scores(text, candidates)
        ranked = sorted(scores.values(), reverse=True) + [0, 0]
        leader = max(scores, key=lambda code: scores[code])
        if ranked[0] - ranked[1] >= WORDS_MARGIN and ranked[0] * 2 >= n_words:
            return Choice(leader, sure=True, reason="words")
        return None

    def _scores(self, text: str, candidates: Iterable[str]) -> dict[str, int]:
        """Word votes from content/words.yml plus telling letters and forms (each kind counts twice)."""
        votes = self._words.votes(text)
        lowered = text.lower()
        scores = {}
        for code in candidates:
            telling = _TELLING_LETTERS.get(code, "")
            scores[code] = votes.get(code, 0) + 2 * sum(1 for char in set(lowered) if char in telling) \
                + 2 * sum(1 for codes, form in _TELLING_FORMS if code in codes and form.search(lowered))
        return scores

    def _detected_ours(self, text: str, n_words: int, letters: int, known: int | None = None) -> bool:
        """False when the text is plainly in a language we do not speak (a Polish sentence).
        `known`: how many of its words a language typed in Latin letters knows, if one leads."""
        return not self._unsupported(self._guesser.confidences(text), text, n_words, letters, known)

    def _unsupported(self, ranked: list[tuple[str, float]], text: str, n_words: int, letters: int,
                     known: int | None = None) -> bool:
        typed = known is not None
        if known is None:
            known = max(self._words.votes(text).values(), default=0)
        return bool(ranked) and ranked[0][0] == "" and ranked[0][1] >= UNSUPPORTED_MIN_CONFIDENCE \
            and n_words >= UNSUPPORTED_MIN_WORDS and letters >= UNSUPPORTED_MIN_LETTERS \
            and known * (UNSUPPORTED_TYPED_KNOWN if typed else UNSUPPORTED_KNOWN) <= n_words

    def _detect(self, text: str, candidates: list[str], remembered: str | None, n_words: int,
                letters: int) -> Choice | None:
        # German service words in another language ("Ausländerbehörde", "Herne") move no one.
        ranked = self._guesser.confidences(self._words.without_loanwords(text) or text)
        if self._unsupported(ranked, text, n_words, letters):
            return Choice("", sure=True, reason="unsupported")
        ours = [(code, value) for code, value in ranked if code in candidates]
        total = sum(value for _, value in ours)
        if not ours or total <= 0:
            return None
        code, value = ours[0]
        share = value / total
        if remembered in candidates and code != remembered and share < SWITCH_CONFIDENCE:
            remembered_share = next((v for c, v in ours if c == remembered), 0.0) / total
            if remembered_share >= 0.2:
                return Choice(remembered, reason="remembered")
        return Choice(code, sure=share >= SWITCH_CONFIDENCE, reason="detector")

    @staticmethod
    def _foreign_script(text: str, n_words: int, letters: int) -> Choice | None:
        """Greek, Chinese, Amharic...: a language we do not speak, if there is enough of it."""
        if letters >= 4:
            return Choice("", sure=True, reason="script")
        return None
