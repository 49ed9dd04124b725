"""Make untrusted text (log lines, container names, command output) harmless to show.

Terminal control sequences in such text could clear the screen, write the
clipboard (OSC 52), plant hyperlinks (OSC 8) or move the cursor; a bare
``\\r`` could hide what came before it.  :func:`visible` replaces every
control character with a visible stand-in, so the operator sees what was
sent and the terminal interprets none of it.  Markup is a separate matter:
the UI shows the result as plain text, never parsed as markup.
"""

from __future__ import annotations

import re

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def _stand_in(code: int) -> str:
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␍ ␊ ␇ …
    if code == 0x7F:
        return "␡"
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


_TABLE = {
    code: _stand_in(code)
    for code in (*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0), *map(ord, _BIDI))
}
"""Every character the terminal could act on → its visible stand-in (one pass: str.translate)."""

_ANY = re.compile("[" + re.escape("".join(map(chr, _TABLE))) + "]")


def visible(text: str, tab_size: int = 4) -> str:
    """``text`` with control characters replaced by visible stand-ins and tabs expanded."""
    if "\t" in text:
        text = text.expandtabs(tab_size)
    if _ANY.search(text) is None:  # the common case: nothing to replace
        return text
    return text.translate(_TABLE)
