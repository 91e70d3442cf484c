"""Languages of other scripts typed in Latin letters: Arabic as "Arabizi" ("marhaba", "3afwan",
"sabah el 5eer"), Persian as "Finglish" ("salam khoobi"), Russian, Ukrainian and Bulgarian
("spasibo", "dyakuyu", "blagodarya"). People write so on a phone without their keyboard.

The evidence, per language of another script, for the language chooser (and the Cyrillic
readings for the crisis check):
- Arabizi digits: 2 3 5 7 9 stand for the Arabic sounds Latin has no letter for (ء ع خ ح ق),
  inside or at the edge of a word ("mosa3ade", "3afwan", "la2"); no other language writes so;
- the message read in Cyrillic, with the habits Russian, Ukrainian and Bulgarian speakers
  transliterate by, against the Cyrillic word lists of content/words.yml;
- the Latin words those lists carry ("zdravei") and the `transliterated:` section ("shukran").
"""

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator

from bot.normalization import normalize
from bot.words import Words, _Terms

# Latin letter groups read in Cyrillic; longer letter groups first.
_LATIN_TO_CYRILLIC_COMMON = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"), ("ya", "я"),
    ("ja", "я"), ("yu", "ю"), ("ju", "ю"), ("yo", "е"), ("jo", "е"), ("a", "а"), ("b", "б"),
    ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"),
    ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("x", "кс"),
    ("w", "в"), ("c", "ц"), ("q", "к"),
)
# Three readings, as people mix the habits: Russian ("y" = ы, "h" = х, "ts" = тс as in "-tsya"),
# Ukrainian ("y" = и, "i" = і, "h" = г, "ts" = ц), and "zhyty"/"hochu" style ("y" = и, "h" = х).
# (`normalize` folds й into и, so "dobryi" and "zdravei" meet "добрый" and "здравей".)
_LATIN_TO_CYRILLIC = (
    (("ye", "е"), ("je", "е"), ("y", "ы"), ("i", "и"), ("h", "х")) + _LATIN_TO_CYRILLIC_COMMON,
    (("ye", "є"), ("je", "є"), ("yi", "ї"), ("ji", "ї"), ("ts", "ц"), ("y", "и"), ("i", "і"), ("h", "г"))
    + _LATIN_TO_CYRILLIC_COMMON,
    (("ye", "е"), ("je", "е"), ("y", "и"), ("i", "и"), ("h", "х")) + _LATIN_TO_CYRILLIC_COMMON,
)
_READINGS = [(re.compile("|".join(re.escape(letters) for letters, _ in sorted(pairs, key=lambda p: -len(p[0])))),
              dict(pairs)) for pairs in _LATIN_TO_CYRILLIC]
_LATIN_LETTER = re.compile("[a-z]")
_NOT_LATIN_LETTER = re.compile(r"[^\W\da-z_]")
_ACCENTED_LETTER = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")  # é, č, ł, ș, ğ...
_APOSTROPHE = re.compile(r"(?<=[A-Za-z])['’ʼ`](?=[A-Za-z])")  # the soft sign: "b'et" = бьет

# Arabizi: a digit for an Arabic consonant between letters ("mosa3ade", "t7akini"), or at the edge
# of a word next to a vowel ("3afwan", "5eer", "la2"); never 1 4 6 8 (Arabic letters have none).
_ARABIZI_INSIDE = re.compile(r"[a-z][23579][a-z]")
_ARABIZI_START = re.compile(r"^[23579][aeiou][a-z]+$")
_ARABIZI_END = re.compile(r"^(?=[a-z]{2})[a-z]*[aeiou][a-z]*[23579]$")  # "la2", not the level "a2"
# ...but not an ordinal, a count or a time ("2er", "3eme", "7am", "9euro", "mp3", "ps5").
_NUMBER_ENDINGS = frozenset({"er", "ern", "ers", "es", "en", "em", "eme", "ere", "ieme", "am", "pm",
                             "euro", "eur", "uhr", "st", "nd", "rd", "th", "te", "ten", "ter", "tes", "ok"})
ARABIZI_WORD_VOTES = 2  # a word with an Arabizi digit counts like a telling letter
CYRILLIC_READING_MIN_LETTERS = 2  # "i", "a", "s" are English and Romanian words too: not read in Cyrillic
READING_ANCHOR_MIN_LETTERS = 3  # a reading needs a word this long that no Latin language's list has


def in_cyrillic(text: str) -> Iterator[str]:
    """The text read in Cyrillic, once per reading; nothing unless it has only Latin letters."""
    latin = normalize(text)
    if not _LATIN_LETTER.search(latin) or _NOT_LATIN_LETTER.search(latin):
        return
    latin = normalize(_APOSTROPHE.sub("ь", text))
    for pattern, table in _READINGS:
        yield pattern.sub(lambda found: table[found[0]], latin)


# The reading of each Cyrillic language's habits (see _LATIN_TO_CYRILLIC): "y" is ы in Russian,
# и in Ukrainian ("dytyna") and Bulgarian ("vsichki" has no y; "h" is х: "hodi").
_READING_OF = {"ru": 0, "uk": 1, "bg": 2}


def cyrillic_reading(text: str, language: str, keep: Callable[[str], bool]) -> str | None:
    """`text`, typed in Latin letters by a speaker of `language` (Russian, Ukrainian or
    Bulgarian), read in Cyrillic with that language's habits, for the NLU, which has learnt these
    languages mostly from Cyrillic: "zhenskaya konsultaciya vo skolko" -> "женская консултация во
    сколко". Words `keep` says are Latin on purpose ("jobcenter", "cafeo") stay as typed. None for a
    text with letters of another script, or a language of another alphabet."""
    if language not in _READING_OF or not _LATIN_LETTER.search(normalize(text)) \
            or _NOT_LATIN_LETTER.search(normalize(text)):
        return None
    pattern, table = _READINGS[_READING_OF[language]]
    words = normalize(_APOSTROPHE.sub("ь", text)).split()
    return " ".join(w if keep(w) else pattern.sub(lambda found: table[found[0]], w) for w in words)


def arabizi_words(text: str) -> int:
    """How many words carry an Arabizi digit ("3afwan", "mosa3ade", "la2")."""
    return sum(_is_arabizi(word) for word in normalize(text).split())


def _is_arabizi(word: str) -> bool:
    if _ARABIZI_INSIDE.search(word):
        return not word[0].isdigit() or word.lstrip("0123456789") not in _NUMBER_ENDINGS
    if _ARABIZI_START.match(word):
        return word[1:] not in _NUMBER_ENDINGS
    return bool(_ARABIZI_END.match(word))


class Transliteration:
    """Votes, for the languages of other scripts, from a message in Latin letters."""

    def __init__(self, words: Words, scripts: dict[str, str]) -> None:
        """`scripts`: each supported language's script ("LATIN", "ARABIC", "CYRILLIC")."""
        self._words = words
        self._latin = {code for code, script in scripts.items() if script == "LATIN"}
        self._others = {code for code, script in scripts.items() if script != "LATIN"}
        self._cyrillic_languages = {code for code, script in scripts.items() if script == "CYRILLIC"}

    @functools.cached_property
    def _cyrillic(self) -> dict[str, _Terms]:
        """The Cyrillic lists without the soft sign, which people typing in Latin letters leave out
        ("den" for "день"), and without the words taken from the content: they include names
        ("Зеріна" is "Zerina"). Built on the first message in Latin letters that needs it."""
        lists = {}
        for code in self._cyrillic_languages & set(self._words.language):
            terms = self._words.language[code]
            listed = terms.words - self._words.service_words.get(code, frozenset())
            lists[code] = _Terms.of([term.replace("ь", "") for term in (*listed, *terms.phrases)])
        return lists

    def votes(self, text: str) -> Counter[str]:
        """Per language of another script, how plainly the Latin text is that language typed in
        Latin letters: its Latin words, Arabizi digits, and its words in a Cyrillic reading.
        Nothing for letters with diacritics ("mieście", "němčiny"): those are a Latin-script
        language's own, a transliteration is typed in plain letters."""
        if _ACCENTED_LETTER.search(text):
            return Counter()
        written = self._words.votes(text) + self._words.transliterated_votes(text)
        votes = Counter({code: n for code, n in written.items() if code in self._others})
        if "ar" in self._others:
            votes["ar"] += ARABIZI_WORD_VOTES * arabizi_words(text)
        return +(votes + self._read_in_cyrillic(text))

    def _read_in_cyrillic(self, text: str) -> Counter[str]:
        """The Cyrillic lists' votes for the text's best reading per language. A reading needs a
        word of its own: one of a Latin language ("de", "ne", "den") or of two letters only
        confirms it, so that a Romanian "de" is no Ukrainian "де" but "ne rozumiyu" is "не розумію"."""
        latin = [w for w in normalize(text).split() if w not in self._words.loanwords.words and _LATIN_LETTER.search(w)
                 and len(w) >= CYRILLIC_READING_MIN_LETTERS]
        own = [len(w) >= READING_ANCHOR_MIN_LETTERS and not self._latin & set(self._words.votes(w)) for w in latin]
        read = Counter[str]()
        for reading in zip(*(in_cyrillic(w) for w in latin)):
            words = [w.replace("ь", "") for w in reading]
            anchors = [w if is_own else "·" for w, is_own in zip(words, own)]
            for code, terms in self._cyrillic.items():
                if terms.count_in(anchors, f" {' '.join(anchors)} "):
                    read[code] = max(read[code], terms.count_in(words, f" {' '.join(words)} "))
        return read
