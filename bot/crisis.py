"""The crisis path: recognise a person in danger in any language and give the emergency numbers.

A message about suicide or self-harm, violence or threats, a medical emergency or a child in
danger must be answered with Germany's emergency and help-line numbers at once, before any
classifier or topic logic can misread it. The detector is a word-list matcher over
content/crisis.yml, so staff can read and extend it and every decision can be explained.

Expression syntax (documented for staff at the top of content/crisis.yml):

- An expression is words separated by spaces, matched on text normalised by
  `bot.normalization.normalize` (case, diacritics, ß, Turkish i, Arabic/Persian letters).
- Each word matches a message word that STARTS with it ("umbring" finds "umbringen");
  a word ending in "=" only the whole word ("die=" is not "diet"); a word starting with "*"
  may also sit inside a word ("*kurs" finds "deutschkurs"). Words of one or two letters
  always match whole words only.
- The words must appear in this order, with at most two other words between neighbours.
- Arabic-script words may carry attached prefixes in the message (و ف ب ل ك س, the article
  ال, Persian می/نمی/ب/ن); a separate Persian "می"/"نمی" joins the next word. Latin "ae",
  "oe", "ue" count as "a", "o", "u", so "schlaegt" meets "schlägt". A spoken Turkish present tense
  counts as written: "uyanmiyo" meets "uyanmıyor", "istiyom" meets "istiyorum".
- A word of seven letters or more (not in Arabic script, without "*" or "=") forgives one typo
  after its first letter: a letter missing, one too many, two neighbours swapped, and from eight
  letters one wrong letter ("umbirngen" meets "umbringen").
- A message in Latin letters only is also read in Cyrillic (Russian and Ukrainian habits), so the
  Cyrillic expressions find "muzh b'jot menya"; there only expressions of two words or of six
  letters count, and none if a look-alike shows in any reading.

A `not_crisis` expression (hyperbole, prevention courses, first-aid courses...) that matches
takes the words it matched away from the crisis expressions; a crisis expression can still
match elsewhere in the same message. So "Kurse zur Gewaltprävention" stays quiet, but
"Gewalt zu Hause, und gibt es Gewaltprävention?" still gets the numbers.
"""

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import ContentError
from bot.normalization import normalize
from bot.content_files import SAFE_LOADER, normalize_term
from bot.transliteration import in_cyrillic

CATEGORIES = ("suicide", "violence", "medical", "child")
MAX_GAP = 2  # other words allowed between two neighbouring words of an expression
WHOLE_WORD_MAX = 2  # words this short match whole words only (a prefix "er" would find "erste")
ANYWHERE_MIN = 3  # a "*" word needs at least this many letters, or it finds almost anything
# A word this long (not in Arabic script, not "*" or "=") also meets a message word with one typo:
# a letter missing or one too many, or two neighbours swapped, anywhere but the first letter; from
# WRONG_LETTER_MIN letters also one wrong letter (shorter, too many real words are one letter apart:
# "kaliyor", "kaniyor").
TYPO_MIN = 7
WRONG_LETTER_MIN = 8
DETECTIONS_REMEMBERED = 256  # recent texts whose reading is kept (one turn asks up to three times)
FALLBACK_LANGUAGE = "de"  # a crisis reply must never fail for want of a translation

_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
# Letters Arabic and Persian attach in front of a word: conjunctions و ف, prepositions ب ل ك,
# the future س, the article ال and their combinations, Persian verb prefixes می/نمی/ب/ن.
# Already folded by `normalize` (ی -> ي, ک -> ك).
_ARABIC_PREFIXES = tuple(sorted(
    {"و", "ف", "ب", "ل", "ك", "س", "ال", "وال", "فال", "بال", "كال", "لل", "ولل", "فلل",
     "وب", "ول", "وس", "فب", "فل", "فس", "وك", "مي", "نمي", "ن"},
    key=len, reverse=True))
_PERSIAN_VERB_PREFIXES = ("مي", "نمي")  # written apart with a half-space, which normalize splits
_LATIN_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"))
# Russian, Ukrainian and Bulgarian typed in Latin letters are also read in Cyrillic
# (bot/transliteration.py), so that every Cyrillic expression applies.
_CYRILLIC_LANGUAGES = frozenset({"ru", "uk", "bg"})
# A one-word expression found in such a reading needs this many letters: "bye" read "бє" is "б'є" (beats).
TRANSLITERATED_WORD_MIN = 6


# Spoken Turkish drops the r of the present tense: "almiyo" for "almıyor", "istiyom" for
# "istiyorum", "dövüyolar" for "dövüyorlar" (after normalize: ı -> i, ü -> u).
_TURKISH_SPOKEN = re.compile(r"^(.+[iu]yo)(m|n|z|lar|du|dum|sun|sunuz)?$")
_TURKISH_WRITTEN_ENDINGS = {"": "r", "m": "rum", "n": "rsun", "z": "ruz", "lar": "rlar", "du": "rdu",
                            "dum": "rdum", "sun": "rsun", "sunuz": "rsunuz"}


def _fold_digraphs(word: str) -> str:
    """German typed without umlauts ("schlaegt") meets the folded umlaut ("schlagt")."""
    if word.isascii():
        for digraph, letter in _LATIN_DIGRAPHS:
            word = word.replace(digraph, letter)
    return word


def _words(normalized: str) -> list[str]:
    """Split normalised text into matchable words, rejoining Persian می/نمی with their verb."""
    words: list[str] = []
    for word in normalized.split():
        if words and words[-1] in _PERSIAN_VERB_PREFIXES and _ARABIC_SCRIPT.match(word):
            words[-1] += word
        else:
            words.append(_fold_digraphs(word))
    return words


def _one_letter_less(text: str) -> Iterator[tuple[str, int]]:
    """The text with one letter left out, and where; never the first (a typo rarely hits it)."""
    return ((text[:i] + text[i + 1:], i) for i in range(1, len(text)))


def _stems(word: str) -> tuple[str, ...]:
    """The word and, in Arabic script, the word without each prefix it may carry; a spoken Turkish
    present tense ("almiyo") also as written ("almiyor")."""
    if not _ARABIC_SCRIPT.match(word):
        if (spoken := _TURKISH_SPOKEN.match(word)) is not None:
            return (word, spoken[1] + _TURKISH_WRITTEN_ENDINGS[spoken[2] or ""])
        return (word,)
    return (word,) + tuple(word[len(p):] for p in _ARABIC_PREFIXES if word.startswith(p) and len(word) > len(p) + 1)


@dataclass(frozen=True)
class Term:
    """One word of an expression and how it may meet a message word."""

    text: str
    whole: bool = False  # "=": nothing may follow
    anywhere: bool = False  # "*": letters may come before


@dataclass(frozen=True)
class Expression:
    """A crisis or look-alike expression, as written in the file and as terms."""

    language: str
    category: str  # one of CATEGORIES, or "not_crisis"
    written: str
    terms: tuple[Term, ...]

    def matches(self, candidates: list[list[int]]) -> Iterator[tuple[int, ...]]:
        """Every way the expression matches, given the ascending positions where each term may
        stand (blocked words already left out); the first is the leftmost."""
        if not all(candidates):
            return

        def extend(found: tuple[int, ...], index: int) -> Iterator[tuple[int, ...]]:
            if index == len(self.terms):
                yield found
                return
            for position in candidates[index]:
                if found[-1] < position <= found[-1] + MAX_GAP + 1:
                    yield from extend(found + (position,), index + 1)

        for start in candidates[0]:
            yield from extend((start,), 1)


class _TermIndex:
    """Every distinct term of the file, numbered, and found from the message's words by look-ups
    rather than by testing thousands of terms against every word. A message word meets:
    - a "*" term that it contains (with "=": that it ends with), tested one by one (they are few);
    - a whole-word term ("=", or one or two letters) that it is, or, from three letters on, that
      one of its Arabic-script stems is;
    - any other term that it, or one of its stems, starts with;
    - a term of TYPO_MIN letters or more (not in Arabic script) that it starts with but for one
      typo: a letter missing (not the term's last, or "schlag" would be "schlägt"), one too many,
      two neighbours swapped, or (from WRONG_LETTER_MIN letters) one wrong."""

    def __init__(self) -> None:
        self.ids: dict[Term, int] = {}
        self._whole: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._long: dict[str, list[int]] = {}  # a term of TYPO_MIN letters or more -> numbers
        self._less: dict[str, list[tuple[int, int]]] = {}  # such a term less a letter -> (number, where)
        self._anywhere: list[tuple[str, bool, int]] = []  # (text, whole, number)

    def add(self, term: Term) -> int:
        if term in self.ids:
            return self.ids[term]
        number = self.ids[term] = len(self.ids)
        if term.anywhere:
            self._anywhere.append((term.text, term.whole, number))
        elif term.whole or len(term.text) <= WHOLE_WORD_MAX:
            self._whole.setdefault(term.text, []).append(number)
        else:
            self._prefix.setdefault(term.text, []).append(number)
            if len(term.text) >= TYPO_MIN and not _ARABIC_SCRIPT.search(term.text):
                self._long.setdefault(term.text, []).append(number)
                for less, where in _one_letter_less(term.text):
                    self._less.setdefault(less, []).append((number, where))
        return number

    def find(self, words: list[str], typos: bool = True) -> dict[int, list[int]]:
        """Term number -> the ascending positions of the words it meets (only terms met)."""
        positions: dict[int, list[int]] = {}
        for index, word in enumerate(words):
            stems = _stems(word)
            met: set[int] = set(self._whole.get(word, ()))
            for stem in stems[1:]:
                if len(stem) > WHOLE_WORD_MAX:
                    met.update(self._whole.get(stem, ()))
            for stem in stems:
                for end in range(WHOLE_WORD_MAX + 1, len(stem) + 1):
                    met.update(self._prefix.get(stem[:end], ()))
            if typos and not _ARABIC_SCRIPT.match(word):
                for stem in stems:
                    met.update(self._typos(stem))
            for text, whole, number in self._anywhere:
                if word.endswith(text) if whole else text in word:
                    met.add(number)
            for number in met:
                positions.setdefault(number, []).append(index)
        return positions

    def _typos(self, word: str) -> set[int]:
        """The long terms the word starts with but for one typo."""
        met: set[int] = set()
        for end in range(TYPO_MIN - 1, len(word) + 1):
            start = word[:end]
            met.update(number for number, where in self._less.get(start, ()) if where < len(start))  # one missing
            for less, at in _one_letter_less(start):
                met.update(self._long.get(less, ()))  # one too many
                for number, where in self._less.get(less, ()):
                    if abs(where - at) == 1 or (where == at and len(less) + 1 >= WRONG_LETTER_MIN):
                        met.add(number)  # two neighbours swapped, or one wrong letter in a long word
        return met


class _ExpressionIndex:
    """Expressions by one of their terms (the longest: the rarest in messages), so that only those
    whose every term occurs in the message are tried, in the file's order."""

    def __init__(self, expressions: tuple[Expression, ...], terms: _TermIndex) -> None:
        self.expressions = expressions
        self.term_ids = [tuple(terms.add(t) for t in e.terms) for e in expressions]
        self._by_term: dict[int, list[int]] = {}
        for number, (expression, ids) in enumerate(zip(expressions, self.term_ids)):
            key = max(range(len(ids)), key=lambda i: len(expression.terms[i].text))
            self._by_term.setdefault(ids[key], []).append(number)

    def candidates(self, found: dict[int, list[int]]) -> Iterator[tuple[Expression, tuple[int, ...]]]:
        """The expressions all of whose terms were found, in the file's order, with their term numbers."""
        numbers = sorted(n for term in found if term in self._by_term for n in self._by_term[term])
        for number in numbers:
            ids = self.term_ids[number]
            if all(i in found for i in ids):
                yield self.expressions[number], ids


@functools.lru_cache(maxsize=1 << 15)  # a reload of crisis.yml parses only the expressions that changed
def parse_expression(written: str) -> tuple[Term, ...]:
    """Terms of a written expression; ValueError says what a staff member must fix."""
    terms: list[Term] = []
    for raw in written.split():
        anywhere, whole = raw.startswith("*"), raw.endswith("=")
        core = raw.strip("*=")
        if "*" in core or "=" in core:
            raise ValueError(f"{raw!r}: '*' belongs only at the start of a word, '=' only at its end")
        words = _words(normalize_term(core))
        if not words:
            raise ValueError(f"{raw!r} has no letters or digits")
        for position, word in enumerate(words):
            term = Term(word, whole=whole and position == len(words) - 1, anywhere=anywhere and position == 0)
            if term.anywhere and len(word) < ANYWHERE_MIN:
                raise ValueError(f"{raw!r}: a word with '*' needs at least {ANYWHERE_MIN} letters")
            terms.append(term)
    if not terms:
        raise ValueError("empty expression")
    return tuple(terms)


@dataclass(frozen=True)
class CrisisMatch:
    """Why a message was taken for a crisis: the category and the expression that matched."""

    category: str
    language: str
    expression: str


@dataclass(frozen=True)
class CrisisGuide:
    """The crisis expressions of every language, their look-alikes, and the reply per language."""

    expressions: tuple[Expression, ...]
    look_alikes: tuple[Expression, ...]
    replies: dict[str, str] = field(default_factory=dict)
    _terms: _TermIndex = field(init=False, repr=False, compare=False)
    _crises: _ExpressionIndex = field(init=False, repr=False, compare=False)
    _look_alikes: _ExpressionIndex = field(init=False, repr=False, compare=False)
    _remembered: Callable[[str], CrisisMatch | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        terms = _TermIndex()
        object.__setattr__(self, "_terms", terms)
        object.__setattr__(self, "_crises", _ExpressionIndex(self.expressions, terms))
        object.__setattr__(self, "_look_alikes", _ExpressionIndex(self.look_alikes, terms))
        # A turn asks about its message more than once (before the turn, for the rate limit, in
        # the dialogue); the guide never changes, so each text is read once.
        object.__setattr__(self, "_remembered", functools.lru_cache(maxsize=DETECTIONS_REMEMBERED)(self._read))

    def detect(self, text: str) -> CrisisMatch | None:
        """The crisis the text is about, or None.

        Every language's expressions are checked, not only the user's: people mix languages,
        and the language guess of a short, upset message is the least reliable one. Of several
        matches the one with most words wins (it is the most specific); of equally long ones,
        the one whose language's matches cover most words of the message, so that a word two
        languages share ("stalk", "سکته") is placed in the language the rest is written in.
        """
        return self._remembered(text)

    def _read(self, text: str) -> CrisisMatch | None:
        words = _words(normalize(text))
        found = self._terms.find(words)
        match = self._detect(words, found)
        if match is not None or self._look_alike_in(found):
            return match
        # Latin letters may be Russian or Ukrainian ("muzh b'jot"): read in Cyrillic, a long enough
        # expression counts, unless a look-alike shows in any reading ("umirayu ot lyubopytstva").
        readings = [_words(normalize(cyrillic)) for cyrillic in in_cyrillic(text)]
        if any(self._look_alike_in(self._terms.find(words)) for words in readings):
            return None
        for words in readings:
            match = self._detect(words, self._terms.find(words, typos=False))  # a reading is a guess already
            if match is not None and match.language in _CYRILLIC_LANGUAGES \
                    and (len(match.expression.split()) >= 2 or len(match.expression) >= TRANSLITERATED_WORD_MIN):
                return match
        return None

    def looks_alike(self, text: str) -> bool:
        """A curated look-alike ("this heat is killing me", a first-aid course) is in the text, as
        written or read in Cyrillic: the NLU's second signal of danger defers to it."""
        readings = [_words(normalize(text))] + [_words(normalize(cyrillic)) for cyrillic in in_cyrillic(text)]
        return any(self._look_alike_in(self._terms.find(words)) for words in readings)

    def _look_alike_in(self, found: dict[int, list[int]]) -> bool:
        return any(next(look_alike.matches([found[i] for i in ids]), None) is not None
                   for look_alike, ids in self._look_alikes.candidates(found))

    def _detect(self, words: list[str], found: dict[int, list[int]]) -> CrisisMatch | None:
        """The best crisis expression among the words (`found`: their terms), look-alikes taken away first."""
        if not words:
            return None
        blocked: set[int] = set()
        for look_alike, ids in self._look_alikes.candidates(found):
            for match in look_alike.matches([found[i] for i in ids]):
                blocked.update(match)
        matched: list[Expression] = []
        covered: dict[str, set[int]] = {}
        for expression, ids in self._crises.candidates(found):
            free = [[p for p in found[i] if p not in blocked] for i in ids]
            if (where := next(expression.matches(free), None)) is not None:
                matched.append(expression)
                covered.setdefault(expression.language, set()).update(where)
        if not matched:
            return None
        best = max(matched, key=lambda e: (len(e.terms), len(covered[e.language])))  # first of equals
        return CrisisMatch(category=best.category, language=best.language, expression=best.written)

    def reply(self, language: str) -> str:
        """The crisis reply in the language; German (or any) if the language has none."""
        if language in self.replies:
            return self.replies[language]
        return self.replies.get(FALLBACK_LANGUAGE) or next(iter(self.replies.values()))


# --- loading -------------------------------------------------------------------------------------

_SECTIONS = ("numbers", "expressions", "not_crisis", "reply")
_NUMBER_FIELDS = {"number", "name", "free", "day_and_night", "hours", "source"}


class _Problems:
    """Collects "file:line: what is wrong" so a staff member sees every mistake at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []

    def add(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.messages.append(f"{self.path}:{line}: {message}")


def _mapping(node: yaml.Node, where: str, problems: _Problems) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    """The key/value pairs of a mapping node; reports a non-mapping or a repeated key."""
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, f"{where}: expected a mapping (name: value)")
        return []
    pairs: list[tuple[yaml.ScalarNode, yaml.Node]] = []
    seen: set[str] = set()
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            problems.add(key, f"{where}: a key must be a plain name")
            continue
        if key.value in seen:
            problems.add(key, f"{where}.{key.value}: appears twice (the second would silently replace the first)")
            continue
        seen.add(key.value)
        pairs.append((key, value))
    return pairs


def _text(node: yaml.Node, where: str, problems: _Problems) -> str | None:
    """A non-empty text value, or None after reporting it."""
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        problems.add(node, f"{where}: expected a non-empty text")
        return None
    return str(node.value)


def _expressions(node: yaml.Node, language: str, category: str, where: str,
                 problems: _Problems) -> list[Expression]:
    """A non-empty list of expressions, each parsed; reports empty lists and bad expressions."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        problems.add(node, f"{where}: expected a non-empty list of expressions")
        return []
    parsed: list[Expression] = []
    for item in node.value:
        written = _text(item, where, problems)
        if written is None:
            continue
        try:
            parsed.append(Expression(language, category, written, parse_expression(written)))
        except ValueError as error:
            problems.add(item, f"{where}: {error}")
    return parsed


def _load_numbers(node: yaml.Node, problems: _Problems) -> dict[str, str]:
    """The help lines (name -> number); each needs a number and its official source."""
    numbers: dict[str, str] = {}
    for key, entry in _mapping(node, "numbers", problems):
        where = f"numbers.{key.value}"
        fields = dict((k.value, v) for k, v in _mapping(entry, where, problems))
        for unknown in sorted(set(fields) - _NUMBER_FIELDS):
            problems.add(entry, f"{where}: unknown field {unknown!r} (known: {', '.join(sorted(_NUMBER_FIELDS))})")
        for required in ("number", "source"):
            if required not in fields:
                problems.add(entry, f"{where}: needs `{required}`")
            elif (value := _text(fields[required], f"{where}.{required}", problems)) is not None and required == "number":
                numbers[key.value] = value
    if not numbers and not problems.messages:
        problems.add(node, "numbers: no help lines")
    return numbers


def load_crisis(path: Path, languages: set[str]) -> CrisisGuide:
    """Read content/crisis.yml; ContentError lists every "file:line: what is wrong".

    Every language in `languages` needs its expressions (all four categories) and a reply,
    and each reply must contain every number of `numbers`, so an edit can never drop one.
    """
    problems = _Problems(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        raise ContentError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {error}") from error
    except FileNotFoundError:
        raise ContentError(f"{path}: missing (the crisis numbers, expressions and replies)") from None
    if root is None:
        raise ContentError(f"{path}:1: empty; expected {', '.join(_SECTIONS)}")
    sections = dict((k.value, (k, v)) for k, v in _mapping(root, "file", problems))
    for unknown in sorted(set(sections) - set(_SECTIONS)):
        problems.add(sections[unknown][0], f"unknown section {unknown!r} (expected {', '.join(_SECTIONS)})")
    for missing in [s for s in _SECTIONS if s not in sections]:
        problems.add(root, f"missing section `{missing}`")
    if problems.messages:
        raise ContentError("\n".join(problems.messages))

    numbers = _load_numbers(sections["numbers"][1], problems)

    expressions: list[Expression] = []
    expressions_key, expressions_node = sections["expressions"]
    found: set[str] = set()
    for language_key, by_category in _mapping(expressions_node, "expressions", problems):
        language = language_key.value
        found.add(language)
        categories = _mapping(by_category, f"expressions.{language}", problems)
        for category_key, items in categories:
            where = f"expressions.{language}.{category_key.value}"
            if category_key.value not in CATEGORIES:
                problems.add(category_key, f"{where}: unknown category (known: {', '.join(CATEGORIES)})")
                continue
            expressions.extend(_expressions(items, language, category_key.value, where, problems))
        lacking = [c for c in CATEGORIES if c not in {k.value for k, _ in categories}]
        if lacking and isinstance(by_category, yaml.MappingNode):
            problems.add(language_key, f"expressions.{language}: lacks categories {lacking}")
    if missing_languages := sorted(languages - found):
        problems.add(expressions_key, f"expressions: lacks languages {missing_languages}")

    look_alikes: list[Expression] = []
    for language_key, items in _mapping(sections["not_crisis"][1], "not_crisis", problems):
        look_alikes.extend(_expressions(items, language_key.value, "not_crisis",
                                        f"not_crisis.{language_key.value}", problems))

    replies: dict[str, str] = {}
    reply_key, reply_node = sections["reply"]
    written: set[str] = set()
    for language_key, text_node in _mapping(reply_node, "reply", problems):
        written.add(language_key.value)
        text = _text(text_node, f"reply.{language_key.value}", problems)
        if text is None:
            continue
        replies[language_key.value] = text.strip()
        absent = [number for number in numbers.values() if number not in text]
        if absent:
            problems.add(text_node, f"reply.{language_key.value}: lacks the numbers {absent}")
    if missing_languages := sorted(languages - written):
        problems.add(reply_key, f"reply: lacks languages {missing_languages}")

    if problems.messages:
        raise ContentError("\n".join(problems.messages))
    return CrisisGuide(expressions=tuple(expressions), look_alikes=tuple(look_alikes), replies=replies)
