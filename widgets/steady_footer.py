"""A Footer that rebuilds its keys only when the bindings it shows have changed.

Textual's Footer recomposes on every ``bindings_updated`` signal (focus moves,
screens suspend and resume, widgets are pruned).  Each recompose mounts a
FooterKey per binding, and each FooterKey restyles itself against the whole
stylesheet as it mounts: at start-up the dashboard's footer was rebuilt six
times with the same keys.  This one compares what it would show with what it
shows and skips the rebuild when they are the same.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_bindings(screen: Screen[Any]) -> tuple[tuple[object, ...], ...]:
    """What a Footer on ``screen`` would show: each shown binding's key, text and state.

    The command palette's key is shown although its binding is hidden, so it
    is part of this too.
    """
    app = screen.app
    palette = app.COMMAND_PALETTE_BINDING
    return tuple(
        (binding.key, app.get_key_display(binding), binding.description, binding.action,
         binding.group, enabled, tooltip or binding.tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class SteadyFooter(Footer):
    """Footer, minus the rebuilds that would show the same keys again."""

    _shown: tuple[tuple[object, ...], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = shown_bindings(screen)
            if self._bindings_ready and shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
