"""Transports: one async :class:`~core.hosts.base.Host` interface, over SSH or local."""

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
