"""Per-language words from content/words.yml: what a short message's language is, and whether a
message follows up on the topic just answered.

A detector guesses "Hallo" as English and "Servus" as Turkish: three words carry too few letters
for statistics, but a list of greetings, thanks and everyday words knows them. The lists live in
the content store so that KI staff can add a word without a developer.
Terms are normalised like messages and match whole words (a term with spaces, a whole phrase).
A language's borrowed words ("sorry" and "merci" in German) count for it like its own, but where
languages tie on a message the ones whose own words they are come first.
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from bot.errors import ContentError
from bot.normalization import normalize
from bot.content_files import SAFE_LOADER, normalize_term

_SECTIONS = ("language", "borrowed", "loanwords", "follow_up_start", "follow_up_anywhere")


@dataclass(frozen=True)
class _Terms:
    """Normalised single words and phrases (padded with spaces, for whole-phrase matching)."""

    words: frozenset[str]
    phrases: tuple[str, ...]

    @staticmethod
    def of(terms: list[str]) -> "_Terms":
        normalized = [normalize_term(t) for t in terms]
        return _Terms(frozenset(t for t in normalized if " " not in t),
                      tuple(f" {t} " for t in normalized if " " in t))

    def count_in(self, words: list[str], padded: str) -> int:
        """Words found, a phrase counting one more than its words ("доброго дня" is a Ukrainian
        greeting even though Russian has both words)."""
        return sum(w in self.words for w in words) + sum(len(p.split()) + 1 for p in self.phrases if p in padded)

    def without(self, other: "_Terms") -> "_Terms":
        return _Terms(self.words - other.words, tuple(p for p in self.phrases if p not in other.phrases))

    def starts(self, words: list[str], padded: str) -> bool:
        return bool(words) and words[0] in self.words or any(padded.startswith(p) for p in self.phrases)


@dataclass(frozen=True)
class Words:
    language: dict[str, _Terms]  # each language's own words
    borrowed: dict[str, _Terms]  # words it uses that are another language's own (not every language has some)
    loanwords: _Terms
    follow_up_start: dict[str, _Terms]
    follow_up_anywhere: dict[str, _Terms]
    # Languages of another script as typed in Latin letters ("shukran", "mamnoon"), per language.
    transliterated: dict[str, _Terms] = field(default_factory=dict)
    # Words a language's `language` list has from its content texts (see `with_service_words`).
    service_words: dict[str, frozenset[str]] = field(default_factory=dict)

    def votes(self, text: str) -> Counter[str]:
        """How many of the message's words each language's lists know, own and borrowed (loanwords not counted)."""
        return self._count(text, self.language) + self._count(text, self.borrowed)

    def own_words(self, text: str, code: str) -> int:
        """How many different words of the message are the language's own, alone or in one of its
        phrases (not borrowed, no loanword): "ich brauche deutschkurs" has two German ones."""
        own = self.language.get(code)
        if own is None:
            return 0
        words, padded = _split(text)
        found = {w for w in words if w in own.words and w not in self.loanwords.words}
        for phrase in own.phrases:
            if phrase in padded:
                found.update(phrase.split())
        return len(found)

    def borrowed_votes(self, text: str) -> Counter[str]:
        """How many of the message's words each language has only borrowed ("sorry" for German)."""
        return self._count(text, self.borrowed)

    def _count(self, text: str, lists: dict[str, _Terms]) -> Counter[str]:
        words, padded = _split(text)
        words = [w for w in words if w not in self.loanwords.words]
        return Counter({code: n for code, terms in lists.items() if (n := terms.count_in(words, padded))})

    def transliterated_votes(self, text: str) -> Counter[str]:
        """How many of the message's words each language's `transliterated:` list knows."""
        words, padded = _split(text)
        words = [w for w in words if w not in self.loanwords.words]
        return Counter({code: n for code, terms in self.transliterated.items() if (n := terms.count_in(words, padded))})

    def only_loanwords(self, text: str) -> bool:
        """Every word is a German service word or no word at all ("CaféO Adresse", "Termin?")."""
        words, _ = _split(text)
        return all(w in self.loanwords.words or not any(c.isalpha() for c in w) for w in words)

    def without_loanwords(self, text: str) -> str:
        """The message without its German service words, as written ("koly pratsyuye
        Ausländerbehörde u Herne" -> "koly pratsyuye u"): what a detector should judge."""
        return " ".join(token for token in text.split()
                        if not all(w in self.loanwords.words for w in normalize(token).split()))

    def has_loanword(self, text: str) -> bool:
        words, padded = _split(text)
        return self.loanwords.count_in(words, padded) > 0

    def is_follow_up(self, text: str) -> bool:
        """Does the message continue the conversation: "and for women?", "can I park there?"."""
        words, padded = _split(text)
        return any(terms.starts(words, padded) for terms in self.follow_up_start.values()) or any(
            terms.count_in(words, padded) for terms in self.follow_up_anywhere.values()
        )


def with_service_words(words: Words, texts: dict[str, list[str]]) -> Words:
    """`words` plus, per language, the words its own content uses and no other language's does
    ("placement", "consiliere", "записатися"): the service words people write back.

    Names, places and German terms that every translation carries ("CaféO", "Ausländerbehörde")
    appear in several languages' texts and are left out, as are loanwords and words with digits.
    """
    used = {code: {w for text in chunks for w in normalize_term(text).split()
                   if w.isalpha() and len(w) > 2 and w not in words.loanwords.words}
            for code, chunks in texts.items()}
    language, service_words = {}, {}
    for code, terms in words.language.items():
        others = set().union(*(used[other] for other in used if other != code))
        own = used.get(code, set()) - others
        if code in words.borrowed:
            own -= words.borrowed[code].words
        language[code] = _Terms(terms.words | own, terms.phrases)
        service_words[code] = frozenset(own - terms.words)
    return replace(words, language=language, service_words=service_words)


def _split(text: str) -> tuple[list[str], str]:
    normalized = normalize(text)
    return normalized.split(), f" {normalized} "


def load_words(path: Path, languages: set[str]) -> Words:
    """Read content/words.yml; ContentError names the file and line of what is wrong.

    Read as YAML nodes, not values, so that words such as "no", "yes" or "on" stay words.
    """
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise ContentError(f"{path}: missing (per-language words for short messages and follow-ups)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        raise ContentError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {error}") from error
    if not isinstance(node, yaml.MappingNode):
        raise ContentError(f"{path}:1: expected a mapping with {', '.join(_SECTIONS)}")
    sections = {key.value: value for key, value in node.value}
    for section in _SECTIONS:
        if section not in sections:
            raise ContentError(f"{path}:1: `{section}:` is missing")
    loanwords = _terms(path, "loanwords", sections["loanwords"])
    borrowed = _borrowed(path, sections["borrowed"], languages)
    per_language: dict[str, dict[str, _Terms]] = {}
    for section in ("language", "follow_up_start", "follow_up_anywhere"):
        value = sections[section]
        if not isinstance(value, yaml.MappingNode):
            raise ContentError(f"{path}:{value.start_mark.line + 1}: {section}: expected a list of words per language")
        by_code = {key.value: _terms(path, f"{section}.{key.value}", terms) for key, terms in value.value}
        missing = sorted(languages - set(by_code))
        if missing:
            raise ContentError(f"{path}:{value.start_mark.line + 1}: {section}: languages missing: {missing}")
        per_language[section] = {code: terms for code, terms in by_code.items() if code in languages}
    transliterated = {}
    if (node := sections.get("transliterated")) is not None:  # optional: not every bot meets other scripts
        if not isinstance(node, yaml.MappingNode):
            raise ContentError(f"{path}:{node.start_mark.line + 1}: transliterated: expected words per language")
        transliterated = {key.value: _terms(path, f"transliterated.{key.value}", terms)
                          for key, terms in node.value if key.value in languages}
    # A word a language has borrowed is not its own, even if it also stands in its `language:` list.
    own = {code: terms.without(borrowed[code]) if code in borrowed else terms
           for code, terms in per_language["language"].items()}
    return Words(own, borrowed, loanwords, per_language["follow_up_start"],
                 per_language["follow_up_anywhere"], transliterated)


def _borrowed(path: Path, node: yaml.Node, languages: set[str]) -> dict[str, _Terms]:
    """The `borrowed:` section: for some languages, the words they use that another language owns."""
    if not isinstance(node, yaml.MappingNode):
        raise ContentError(f"{path}:{node.start_mark.line + 1}: borrowed: expected a list of words per language")
    by_code = {key.value: _terms(path, f"borrowed.{key.value}", terms) for key, terms in node.value}
    return {code: terms for code, terms in by_code.items() if code in languages}


def _terms(path: Path, name: str, node: yaml.Node) -> _Terms:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise ContentError(f"{path}:{node.start_mark.line + 1}: {name}: expected a non-empty list of words")
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not normalize_term(str(item.value)):
            raise ContentError(f"{path}:{item.start_mark.line + 1}: {name}: {item.value!r} is no word")
    return _Terms.of([str(item.value) for item in node.value])
