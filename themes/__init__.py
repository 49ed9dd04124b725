"""Theme files (TOML) turned into Textual themes.

Each ``*.toml`` here holds the fields of :class:`textual.theme.Theme` plus a
``[variables]`` table with warroom's own colours (``severity-0`` …
``severity-3``, ``state-up``, ``state-down`` …).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from textual.theme import Theme

DEFAULT_THEME = "warroom-dark"

VARIABLE_DEFAULTS: dict[str, str] = {
    "severity-0": "red",
    "severity-1": "darkorange",
    "severity-2": "yellow",
    "severity-3": "dodgerblue",
    "state-up": "green",
    "state-down": "red",
    "state-warn": "yellow",
    "state-muted": "grey",
    "log-error": "red",
    "log-match": "yellow",
}
"""Fallbacks for warroom's variables, so Textual's built-in themes work too."""


def theme_from_table(table: dict[str, Any]) -> Theme:
    """Build a :class:`Theme` from a parsed theme file."""
    fields = dict(table)
    variables = {**VARIABLE_DEFAULTS, **fields.pop("variables", {})}
    return Theme(variables=variables, **fields)


def load_themes() -> list[Theme]:
    """Every theme shipped in this package."""
    themes = []
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            themes.append(theme_from_table(tomllib.loads(entry.read_text(encoding="utf-8"))))
    return themes
