"""Text normalisation shared by NLU training, NLU parsing and the application.

One function, `normalize`, so that Rasa sees the same text at training and at parse time
(through `bot.rasa_normalizer`) and the dialogue matches districts and concepts the same
way. Pure standard library, and Python 3.10 compatible: the Rasa environment imports it.
"""

import re
import unicodedata
from typing import List, Tuple

# Apostrophe look-alikes people type: ASCII, right single quote, modifier letter, backtick...
_APOSTROPHES = "'\u2019\u2018\u02bc\u02b9\u0060\u00b4\u2032"

# Arabic-script letters folded to one form, so that Arabic and Persian keyboards,
# and sloppy typing, meet: yeh and alef maksura, kaf, teh marbuta, heh variants.
_ARABIC_FOLDS = str.maketrans(
    {
        "\u0649": "\u064a",  # alef maksura -> yeh
        "\u06cc": "\u064a",  # farsi yeh -> yeh
        "\u06d0": "\u064a",  # yeh with two dots below
        "\u06a9": "\u0643",  # keheh (Persian kaf) -> kaf
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u06c0": "\u0647",  # heh with yeh above
        "\u06c1": "\u0647",  # heh goal
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0640": None,  # tatweel
        "\u200c": " ",  # zero-width non-joiner (Persian half-space)
        "\u200d": None,  # zero-width joiner
        "\u200f": None,  # right-to-left mark
        "\u200e": None,  # left-to-right mark
    }
)

# Eastern Arabic and Persian digits -> ASCII digits.
_DIGIT_FOLDS = str.maketrans(
    {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
)

_SPACES = re.compile(r"\s+")


def _is_cyrillic(char: str) -> bool:
    return "CYRILLIC" in unicodedata.name(char, "")


def _fold_char_classes(text: str) -> str:
    """Apostrophes inside Cyrillic words vanish (пам'ять is one word); elsewhere they split words."""
    out: List[str] = []
    for index, char in enumerate(text):
        if char in _APOSTROPHES:
            before = text[index - 1] if index > 0 else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if before and after and _is_cyrillic(before) and _is_cyrillic(after):
                continue
            out.append(" ")
            continue
        category = unicodedata.category(char)
        if category.startswith("P") or category.startswith("S"):
            out.append(" ")  # punctuation, symbols and emoji separate words
        else:
            out.append(char)
    return "".join(out)


def normalize(text: str) -> str:
    """Fold case, diacritics, script variants and punctuation so that spellings meet.

    "CaféO?" -> "cafeo", "İstanbul" -> "istanbul", "пам’ять" -> "память",
    "كافيهٔ" -> "كافيه", "ی"/"ي"/"ى" -> "ي".
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_ARABIC_FOLDS).translate(_DIGIT_FOLDS)
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    # Turkish dotted and dotless i both become plain i; done before lower() so İ cannot
    # turn into "i" plus a combining dot.
    text = text.replace("İ", "i").replace("I", "i").replace("ı", "i")
    text = text.lower()
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    # Fold again: stripping marks can uncover a letter the table folds (heh goal with hamza).
    text = unicodedata.normalize("NFC", text).translate(_ARABIC_FOLDS)
    text = _fold_char_classes(text)
    return _SPACES.sub(" ", text).strip()


def normalize_with_spans(text: str, spans: List[Tuple[int, int]]) -> Tuple[str, List[Tuple[int, int]]]:
    """Normalise `text` and move the given (start, end) spans along with it.

    Used for annotated training examples, whose entity offsets must still point at the
    entity after normalisation changed the length of the text around it.
    """
    pieces: List[str] = []
    new_spans: List[Tuple[int, int]] = []
    cursor = 0
    for start, end in sorted(spans):
        before = normalize(text[cursor:start])
        if before:
            pieces.append(before)
        prefix = " ".join(pieces)
        entity = normalize(text[start:end])
        new_start = len(prefix) + (1 if prefix else 0)
        pieces.append(entity)
        new_spans.append((new_start, new_start + len(entity)))
        cursor = end
    rest = normalize(text[cursor:])
    if rest:
        pieces.append(rest)
    return " ".join(pieces), new_spans


# Arabic and Persian attach short words to the next one: "بفانه" is "in Wanne", "وللنساء"
# "and for women". Lookup entries (districts) are matched with these prefixes too.
_PROCLITICS = ("\u0628", "\u0648", "\u0644", "\u0641", "\u0648\u0628", "\u0641\u064a")  # ب و ل ف وب في


def with_proclitics(term: str) -> List[str]:
    """`term` and, when it is written in Arabic script, its forms with attached prefixes."""
    if not term or not ("\u0600" <= term[0] <= "\u06ff"):
        return [term]
    return [term] + [prefix + term for prefix in _PROCLITICS]
