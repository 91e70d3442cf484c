"""Concept words: evidence that a message is about a topic, declared in content/concepts.yml.

A classifier trained only on our topics maps "when does the Jobcenter open?" to CaféO's hours
with full confidence. So a topic is answered only when the message (or the conversation's
current topic) mentions one of the concepts its content file lists under `evidence`.
Terms are normalised like messages; a term matches a word that starts with it, or, from
four characters on, contains it; a two-letter term, or one ending in "=", only a whole word;
a term with spaces matches as a phrase.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import ContentError
from bot.normalization import normalize
from bot.content_files import SAFE_LOADER, normalize_term

PHRASE_MIN = 4  # one-word terms this long also match inside words (kurs in deutschkurs)
WHOLE_WORD_MAX = 2  # terms this short (Persian اپ, "app") match only a whole word
NAMED_WORDS_KEPT = 20_000  # words `Concepts.names` remembers before it starts afresh
WHOLE_WORD_MARK = "="  # "wann=" matches the word "wann" only, not "wanne"


@dataclass(frozen=True)
class Concepts:
    """Normalised terms per concept name."""

    terms: dict[str, tuple[str, ...]]
    # Concepts that say what a question asks ABOUT a service (cost, duration, place...): a topic
    # lists the ones its answer covers under `asks`.
    aspects: frozenset[str] = frozenset()
    # The terms by what a message word must be to meet them, so that `mentioned` looks words up
    # instead of testing every term against every word.
    _whole: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)  # word -> concepts
    _prefix: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)  # start of a word
    _inside: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)  # from PHRASE_MIN on
    _phrases: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)  # (term, concept)
    _longest: int = field(init=False, repr=False, compare=False)  # of the `_inside` terms
    _named: dict[str, bool] = field(init=False, repr=False, compare=False)  # `names`, by word

    def __post_init__(self) -> None:
        whole: dict[str, set[str]] = {}
        prefix: dict[str, set[str]] = {}
        inside: dict[str, set[str]] = {}
        phrases: list[tuple[str, str]] = []
        for name, terms in self.terms.items():
            for term in terms:
                if term.endswith(WHOLE_WORD_MARK) and " " in term:
                    phrases.append((term, name))  # whole words only: "c est ou=" is not "c est ouvert"
                elif term.endswith(WHOLE_WORD_MARK):
                    whole.setdefault(term[:-1], set()).add(name)
                elif " " in term:
                    phrases.append((term, name))
                elif len(term) <= WHOLE_WORD_MAX:
                    whole.setdefault(term, set()).add(name)
                elif len(term) >= PHRASE_MIN:
                    inside.setdefault(term, set()).add(name)  # a word starting with it contains it
                else:
                    prefix.setdefault(term, set()).add(name)  # WHOLE_WORD_MAX < length < PHRASE_MIN
        object.__setattr__(self, "_whole", {t: frozenset(n) for t, n in whole.items()})
        object.__setattr__(self, "_prefix", {t: frozenset(n) for t, n in prefix.items()})
        object.__setattr__(self, "_inside", {t: frozenset(n) for t, n in inside.items()})
        object.__setattr__(self, "_phrases", tuple(phrases))
        object.__setattr__(self, "_longest", max(map(len, inside), default=0))
        object.__setattr__(self, "_named", {})

    def mentioned(self, text: str) -> set[str]:
        """The concepts the text mentions."""
        normalized = normalize(text)
        words = normalized.split()
        padded = f" {normalized} "
        found: set[str] = set()
        for word in set(words):
            found.update(self._whole.get(word, ()))
            for length in range(WHOLE_WORD_MAX + 1, PHRASE_MIN):
                found.update(self._prefix.get(word[:length], ()))
            for start in range(len(word) - PHRASE_MIN + 1):
                for end in range(start + PHRASE_MIN, min(len(word), start + self._longest) + 1):
                    found.update(self._inside.get(word[start:end], ()))
        for term, name in self._phrases:
            if name in found:
                continue
            if term.endswith(WHOLE_WORD_MARK):
                if f" {term[:-1]} " in padded:
                    found.add(name)
            elif f" {term} " in padded or (len(term) >= PHRASE_MIN and term in normalized):
                found.add(name)
        return found

    def names(self, word: str) -> bool:
        """Does this one word mention a concept ("cafeo", "jobcenter")? Remembered per word."""
        known = self._named.get(word)
        if known is None:
            if len(self._named) >= NAMED_WORDS_KEPT:
                self._named.clear()  # random words from many users: memory stays bounded
            known = self._named[word] = bool(self.mentioned(word))
        return known

    def strip(self, text: str, names: set[str]) -> str:
        """The normalised text without the words of the named concepts (e.g. greetings)."""
        words = normalize(text).split()
        terms = {t.removesuffix(WHOLE_WORD_MARK) for name in names for t in self.terms.get(name, ()) if " " not in t}
        phrases = [t for name in names for t in self.terms.get(name, ()) if " " in t]
        text = " ".join(w for w in words if not any(w.startswith(t) for t in terms))
        for phrase in phrases:
            text = f" {text} ".replace(f" {phrase.removesuffix(WHOLE_WORD_MARK)} ", " ").strip()
        return text


def load_concepts(path: Path) -> Concepts:
    """Read content/concepts.yml; ContentError names the file and line of a bad entry."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        raise ContentError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {error}") from error
    except FileNotFoundError:
        raise ContentError(f"{path}: missing (concept words for the topics' evidence)") from None
    if not isinstance(node, yaml.MappingNode):
        raise ContentError(f"{path}:1: expected a mapping with `concepts:`")
    concepts_node = next((v for k, v in node.value if k.value == "concepts"), None)
    if not isinstance(concepts_node, yaml.MappingNode):
        raise ContentError(f"{path}:1: expected `concepts:` mapping concept names to lists of terms")
    terms: dict[str, tuple[str, ...]] = {}
    for key, value in concepts_node.value:
        line = key.start_mark.line + 1
        if not isinstance(value, yaml.SequenceNode) or not value.value:
            raise ContentError(f"{path}:{line}: concept {key.value!r} needs a non-empty list of terms")
        normalized = []
        for item in value.value:
            raw = str(item.value) if isinstance(item, yaml.ScalarNode) else ""
            whole = raw.endswith(WHOLE_WORD_MARK)
            term = normalize_term(raw.removesuffix(WHOLE_WORD_MARK))
            if len(term) < WHOLE_WORD_MAX and " " not in term:
                raise ContentError(f"{path}:{item.start_mark.line + 1}: term {item.value!r} is too short to be evidence")
            normalized.append(term + WHOLE_WORD_MARK if whole else term)
        terms[str(key.value)] = tuple(dict.fromkeys(normalized))
    aspects_node = next((v for k, v in node.value if k.value == "aspects"), None)
    aspects: list[str] = []
    if aspects_node is not None:
        if not isinstance(aspects_node, yaml.SequenceNode):
            raise ContentError(f"{path}:{aspects_node.start_mark.line + 1}: `aspects:` must be a list of concept names")
        for item in aspects_node.value:
            if not isinstance(item, yaml.ScalarNode) or item.value not in terms:
                raise ContentError(f"{path}:{item.start_mark.line + 1}: aspect {getattr(item, 'value', item)!r} is no concept")
            aspects.append(str(item.value))
    return Concepts(terms, frozenset(aspects))
