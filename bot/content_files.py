"""Reading content files fast, so that a staff member's edit is live within 2 s (bot/live_content.py).

- `SAFE_LOADER`: libyaml's loader (PyYAML's C binding) where it is installed. The pure-Python
  loader takes seconds for the store (crisis.yml alone over 1 s); libyaml is about eight times
  faster and builds the same nodes, with the same line marks.
- `normalize_term`: `normalize` remembered for the words, expressions and texts of the files.
  A reload reads mostly what it read before; normalising the crisis expressions and word lists
  again was most of a reload's time.
- `parsed_once`: a big file (crisis.yml, words.yml, concepts.yml) is parsed again only when its
  bytes changed, so an edit of one topic reloads in a fraction of a second.
"""

import functools
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.normalization import normalize

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The store has about 60,000 distinct terms and texts; a few reloads' worth of edits fit besides.
normalize_term = functools.lru_cache(maxsize=1 << 17)(normalize)

T = TypeVar("T")
_REMEMBERED_FILES = 8  # a few stores' files (tests load several copies of content/)
_parsed: dict[tuple[Hashable, ...], tuple[bytes, Any]] = {}
_parsed_lock = threading.Lock()


def parsed_once(load: Callable[..., T], path: Path, *args: Hashable) -> T:
    """`load(path, *args)`, or what it returned before for the same bytes of the same file.

    Kept only when the file still holds the bytes it held before `load` read it, so a result is
    never remembered for bytes it was not parsed from. Errors are not remembered: a broken file
    is read and reported again."""
    try:
        before = path.read_bytes()
    except OSError:
        return load(path, *args)  # missing or unreadable: the loader says so in its words
    key = (load.__module__, load.__qualname__, str(path), *args)
    with _parsed_lock:
        remembered = _parsed.get(key)
    if remembered is not None and remembered[0] == before:
        return remembered[1]  # type: ignore[no-any-return]
    result = load(path, *args)
    try:
        unchanged = path.read_bytes() == before
    except OSError:
        unchanged = False
    if unchanged:
        with _parsed_lock:
            _parsed.pop(key, None)
            _parsed[key] = (before, result)
            while len(_parsed) > _REMEMBERED_FILES:
                del _parsed[next(iter(_parsed))]  # the oldest
    return result
