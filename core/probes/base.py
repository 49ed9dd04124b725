"""The one protocol every probe follows, and helpers that turn failures into results.

A probe is a small object that keeps whatever state it needs between
refreshes (a previous CPU sample, an open database connection) and answers
:meth:`Probe.collect` with a :class:`~core.state.ProbeResult`.  It never
raises for anything the outside world does: a host that is down, a command
that timed out, a permission problem or a missing setting all come back as
a result whose ``status`` and ``reason`` say so.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from core.hosts.base import CommandResult, Host, LinkState
from core.state import ProbeResult, ProbeStatus
from core.timeouts import wait_for

T = TypeVar("T")


class Probe(Protocol):
    """A source of one kind of snapshot for one host."""

    name: str

    async def collect(self) -> ProbeResult[Any]:
        """Look once and return what was seen (or why nothing was); never raises."""
        ...

    async def close(self) -> None:
        """Release connections and clients the probe keeps between collects."""
        ...


class ProbeError(Exception):
    """A failure a probe reports as a result: carries the status and a one-line reason."""

    def __init__(self, status: ProbeStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def ok(probe: str, data: T) -> ProbeResult[T]:
    """A successful result stamped with the current time."""
    return ProbeResult(probe, ProbeStatus.OK, data, "", time.time())


def failed(probe: str, status: ProbeStatus, reason: str, data: Any = None) -> ProbeResult[Any]:
    """A failed result (``data`` may carry what could still be seen)."""
    return ProbeResult(probe, status, data, reason, time.time())


def settled(results: list[T | BaseException]) -> tuple[list[T], ProbeError | None]:
    """Results of ``asyncio.gather(..., return_exceptions=True)``: the values, and the
    first ProbeError among them (any other exception is raised again)."""
    values: list[T] = []
    error: ProbeError | None = None
    for result in results:
        if isinstance(result, ProbeError):
            error = error or result
        elif isinstance(result, BaseException):
            raise result
        else:
            values.append(result)
    return values, error


def not_configured(probe: str, what: str = "") -> ProbeResult[Any]:
    """The host's config does not ask for this probe."""
    return failed(probe, ProbeStatus.NOT_CONFIGURED, what or f"no {probe} configured")


def host_is_up(host: Host) -> bool:
    """True when the host's link is up (a local host always is, once started)."""
    return host.state is LinkState.UP


def host_down_reason(host: Host) -> str:
    """Why ``host`` cannot be reached, in one line."""
    why = f": {host.reason}" if host.reason else ""
    return f"host {host.name} is {host.state.value}{why}"


def host_down(probe: str, host: Host) -> ProbeResult[Any]:
    """A HOST_DOWN result carrying the host's own reason."""
    return failed(probe, ProbeStatus.HOST_DOWN, host_down_reason(host))


PERMISSION_WORDS = ("permission denied", "operation not permitted", "access denied")


def command_failure(result: CommandResult, host: Host | None = None) -> ProbeError:
    """Classify a command that did not succeed as a :class:`ProbeError`."""
    error = result.error
    if error:
        if "timed out" in error:
            return ProbeError(ProbeStatus.TIMEOUT, error)
        if host is not None and not host_is_up(host):
            return ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(host))
        if " is down" in error or " is reconnecting" in error or " is closed" in error:
            return ProbeError(ProbeStatus.HOST_DOWN, error)
        return ProbeError(ProbeStatus.UNREACHABLE, error)
    detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
    first = detail[-1] if detail else f"exit status {result.exit_status}"
    if any(word in first.lower() for word in PERMISSION_WORDS):
        return ProbeError(ProbeStatus.PERMISSION_DENIED, first)
    if result.exit_status == 127:
        return ProbeError(ProbeStatus.ERROR, f"command not found: {first}")
    return ProbeError(ProbeStatus.ERROR, first)


def describe_exception(exc: BaseException) -> tuple[ProbeStatus, str]:
    """A status and a one-line reason for an exception raised while probing."""
    if isinstance(exc, ProbeError):
        return exc.status, exc.reason
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ProbeStatus.TIMEOUT, str(exc) or "timed out"
    if isinstance(exc, PermissionError):
        return ProbeStatus.PERMISSION_DENIED, exc.strerror or "permission denied"
    if isinstance(exc, ConnectionRefusedError):
        return ProbeStatus.UNREACHABLE, "connection refused"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET):
            return ProbeStatus.UNREACHABLE, exc.strerror or str(exc)
        return ProbeStatus.UNREACHABLE, exc.strerror or str(exc) or type(exc).__name__
    text = str(exc).strip().splitlines()
    return ProbeStatus.ERROR, f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def guarded(
    probe: str, work: Awaitable[ProbeResult[Any]], timeout: float
) -> ProbeResult[Any]:
    """Await ``work`` for at most ``timeout`` seconds; every failure becomes a result."""
    try:
        return await wait_for(work, timeout)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return failed(probe, ProbeStatus.TIMEOUT, f"no answer within {timeout:g} s")
    except Exception as exc:
        status, reason = describe_exception(exc)
        return failed(probe, status, reason)


SEPARATOR = "@@warroom@@"
"""A line that splits the sections of one batched command's output."""


def split_sections(text: str, separator: str = SEPARATOR) -> list[str]:
    """Split batched command output on lines equal to ``separator``."""
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == separator:
            sections.append([])
        else:
            sections[-1].append(line)
    return ["\n".join(lines) for lines in sections]
