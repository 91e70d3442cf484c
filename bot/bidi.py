"""Numbers in right-to-left text: keep phone numbers, times and addresses in reading order.

In an Arabic or Persian sentence the Unicode bidi algorithm lays out "02323 16-4705" as
"4705-16 02323": the space and hyphen between digit groups are weak characters that take
the paragraph's direction. Wrapping each Latin-and-digits run (a phone number, "10:00–12:00",
"Overwegstr. 32, 44623 Herne") in a left-to-right isolate (U+2066 … U+2069) keeps it whole and
in order on every client that follows Unicode (browsers, Telegram, WhatsApp).
"""

import re

LRI, PDI = "\u2066", "\u2069"

# A run of Latin letters, digits and the punctuation inside numbers, addresses and e-mails,
# starting and ending with a letter or digit (so sentence punctuation stays outside).
# Brackets stay outside too: the paragraph must mirror them.
_LATIN = "A-Za-z\u00c0-\u024f"
_RUN = re.compile(rf"(?:\+?[{_LATIN}0-9][{_LATIN}0-9 .,:/@_&'’+\-–—]*[{_LATIN}0-9]|[0-9])")


def isolate_numbers(text: str) -> str:
    """`text` with every Latin run that contains a digit wrapped in a left-to-right isolate."""
    return _RUN.sub(lambda m: f"{LRI}{m.group(0)}{PDI}" if any(c.isdigit() for c in m.group(0)) else m.group(0),
                    text)
