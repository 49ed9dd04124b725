"""Colours from the active theme's variables, for Rich renderables (DataTable cells)."""

from __future__ import annotations

from textual.dom import DOMNode

from themes import VARIABLE_DEFAULTS


def theme_color(node: DOMNode, name: str) -> str:
    """The colour of theme variable ``name`` (e.g. ``state-down``) in the running app."""
    try:
        variables = node.app.theme_variables
    except Exception:  # not mounted yet
        variables = {}
    return variables.get(name) or VARIABLE_DEFAULTS.get(name, "default")


STATE_VARIABLE = {
    "running": "state-up",
    "healthy": "state-up",
    "up": "state-up",
    "ok": "state-up",
    "starting": "state-warn",
    "restarting": "state-warn",
    "paused": "state-warn",
    "created": "state-muted",
    "unhealthy": "state-down",
    "exited": "state-down",
    "dead": "state-down",
    "down": "state-down",
}


def state_color(node: DOMNode, state: str) -> str:
    """The colour for a container/host state word."""
    return theme_color(node, STATE_VARIABLE.get(state, "state-muted"))
