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
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f" + _BIDI + "]")


def _stand_in(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␍ ␊ ␇ …
    if code == 0x7F:
        return "␡"
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def visible(text: str, tab_size: int = 4) -> str:
    """``text`` with control characters replaced by visible stand-ins and tabs expanded."""
    if "\t" in text:
        text = text.expandtabs(tab_size)
    return _CONTROL.sub(_stand_in, text)
