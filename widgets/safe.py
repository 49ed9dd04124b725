"""Untrusted text → Rich ``Text``: never markup, never terminal escapes."""

from __future__ import annotations

from rich.text import Text

from core.textsafe import visible


def safe_text(value: object, style: str = "") -> Text:
    """``value`` as plain text with control characters made visible.

    ``Text(...)`` is never parsed as markup, and :func:`core.textsafe.visible`
    neutralises escape sequences, so a container name or log line shows
    exactly what it contains.
    """
    return Text(visible(str(value)), style=style, no_wrap=True, overflow="ellipsis")
