"""Reading content files fast, so that a staff member's edit is live within 2 s (bot/live_content.py).

- `SAFE_LOADER`: libyaml's loader (PyYAML's C binding) where it is installed. The pure-Python
  loader takes seconds for the store (crisis.yml alone over 1 s); libyaml is about eight times
  faster and builds the same nodes, with the same line marks.
- `normalize_term`: `normalize` remembered for the words, expressions and texts of the files.
  A reload reads mostly what it read before; normalising the crisis expressions and word lists
  again was most of a reload's time.
"""

import functools

import yaml

from bot.normalization import normalize

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The store has about 60,000 distinct terms and texts; a few reloads' worth of edits fit besides.
normalize_term = functools.lru_cache(maxsize=1 << 17)(normalize)
