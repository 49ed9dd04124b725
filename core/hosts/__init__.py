"""Transports: one async :class:`~core.hosts.base.Host` interface, over SSH or local.

:class:`~core.hosts.fleet.Fleet` (and with it asyncssh) is imported on
first use, so that modules needing only the interface stay light.
"""

from typing import TYPE_CHECKING, Any

from core.hosts.base import (
    Command,
    CommandResult,
    CommandStream,
    Host,
    LinkEvent,
    LinkState,
    TcpForward,
    render_command,
)

if TYPE_CHECKING:
    from core.hosts.fleet import Fleet

__all__ = [
    "Command",
    "CommandResult",
    "CommandStream",
    "Fleet",
    "Host",
    "LinkEvent",
    "LinkState",
    "TcpForward",
    "render_command",
]


def __getattr__(name: str) -> Any:
    if name == "Fleet":
        from core.hosts.fleet import Fleet

        return Fleet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
