"""The one Host interface every transport offers, and the values it returns.

A transport never raises into its caller for a network problem: a command
on a host that is down comes back as a :class:`CommandResult` whose
``error`` says why, and a stream simply ends with its ``error`` set.
Link state changes (connecting, up, down with a reason, reconnecting) are
reported to subscribers as :class:`LinkEvent` values.
"""

from __future__ import annotations

import contextlib
import enum
import shlex
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.timeouts import wait_for

Command = str | Sequence[str]
"""A command: a list of arguments (each quoted) or a shell string used as written."""


def render_command(command: Command) -> str:
    """The shell text of ``command``: an argument list is joined with every value quoted."""
    if isinstance(command, str):
        return command
    return shlex.join(str(arg) for arg in command)


class LinkState(enum.Enum):
    """Where a host's connection stands."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True)
class LinkEvent:
    """A change of a host's link state, with the reason when it went down."""

    host: str
    state: LinkState
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class CommandResult:
    """What running one command gave.

    ``exit_status`` is ``None`` when the command did not finish (timeout,
    host down); then ``error`` says why.
    """

    command: str
    exit_status: int | None
    stdout: str
    stderr: str
    duration: float
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.exit_status == 0 and not self.error


@dataclass(frozen=True)
class TcpForward:
    """A local TCP address that reaches a port as seen from the host."""

    host: str
    port: int


class CommandStream(Protocol):
    """A running command whose output arrives line by line."""

    exit_status: int | None
    error: str

    def __aiter__(self) -> AsyncIterator[str]: ...

    async def close(self) -> None: ...


LinkListener = Callable[[LinkEvent], None]


class ByteReader(Protocol):
    """The reading half of a byte stream (asyncio's StreamReader, asyncssh's SSHReader)."""

    async def read(self, n: int = -1) -> bytes: ...

    def at_eof(self) -> bool: ...


class ByteWriter(Protocol):
    """The writing half of a byte stream (asyncio's StreamWriter, asyncssh's SSHWriter)."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class Host(Protocol):
    """One machine, reached through SSH or locally."""

    name: str

    @property
    def state(self) -> LinkState: ...

    @property
    def reason(self) -> str: ...

    def subscribe(self, listener: LinkListener) -> Callable[[], None]:
        """Call ``listener`` on every link state change; returns an unsubscribe function."""
        ...

    async def start(self) -> None:
        """Begin connecting (in the background); never raises for network problems."""
        ...

    async def wait_up(self, timeout: float) -> bool:
        """Wait until the link is up; False if it is not within ``timeout`` seconds."""
        ...

    async def run(
        self, command: Command, *, timeout: float = 30.0, input: str | None = None
    ) -> CommandResult:
        """Run ``command`` and collect exit status, stdout, stderr and duration."""
        ...

    async def stream(self, command: Command) -> CommandStream:
        """Start ``command`` and stream its output lines (stdout and stderr merged)."""
        ...

    async def forward_unix_socket(self, remote_path: str) -> str:
        """A local unix socket path that reaches ``remote_path`` on the host."""
        ...

    async def forward_tcp(self, remote_host: str, remote_port: int) -> TcpForward:
        """A local TCP address that reaches ``remote_host:remote_port`` from the host."""
        ...

    async def open_unix_stream(self, remote_path: str) -> tuple[ByteReader, ByteWriter]:
        """A byte stream to the unix socket ``remote_path`` on the host.

        Over SSH this is one channel of the host's connection (no local
        socket in between); raises ``OSError`` when it cannot be opened.
        """
        ...

    async def close(self) -> None:
        """Close the link and everything opened through it."""
        ...


class ListenerSet:
    """Subscribers to a host's link events."""

    def __init__(self) -> None:
        self._listeners: list[LinkListener] = []

    def add(self, listener: LinkListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def emit(self, event: LinkEvent) -> None:
        for listener in list(self._listeners):
            listener(event)


def now() -> float:
    """Wall-clock time for events."""
    return time.time()


OUTPUT_LIMIT = 4 * 1024 * 1024
"""Largest stdout or stderr a single :meth:`Host.run` keeps (bytes of text); the rest is cut."""


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep at most ``limit`` characters of command output, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[warroom: output cut, {len(text) - limit} more characters]\n"


async def wait_settled(host: Host, timeout: float) -> LinkState:
    """Start ``host`` and wait for its first verdict: up, or down with a reason.

    Returns the state at that moment (``CONNECTING`` if ``timeout`` passed first).
    """
    import asyncio

    settled = asyncio.Event()

    def on_event(event: LinkEvent) -> None:
        if event.state in (LinkState.UP, LinkState.DOWN):
            settled.set()

    unsubscribe = host.subscribe(on_event)
    try:
        await host.start()
        if host.state not in (LinkState.UP, LinkState.DOWN):
            with contextlib.suppress(TimeoutError):
                await wait_for(settled.wait(), timeout)
    finally:
        unsubscribe()
    return host.state
