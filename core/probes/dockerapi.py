"""A small async Docker Engine API client over a host's unix socket (local or over SSH).

The socket is reached through :meth:`Host.open_unix_stream`, so the same
client serves a local Docker and one on the far side of an SSH connection
(there, every connection is a channel of the host's SSH connection).  HTTP
is spoken by :mod:`core.probes.httpstream`; a client keeps connections
alive between requests and sends at most :data:`MAX_CONNECTIONS` at a time.
The API version is negotiated once per client (and again after a transport
error) from ``GET /version``:
the highest version both sides speak (the server's ``ApiVersion`` capped at
:data:`MAX_API_VERSION`).  Transport problems raise
:class:`~core.probes.base.ProbeError` with an operator-readable reason;
HTTP errors from the engine raise :class:`DockerError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from core.hosts.base import ByteReader, ByteWriter, Host
from core.probes.base import ProbeError, host_down_reason, host_is_up
from core.probes.httpstream import (
    BrokeOff,
    HttpStreamError,
    NoAnswer,
    ResponseHead,
    body_pieces,
    read_body,
    read_head,
    request_bytes,
)
from core.probes.shared import Coalescer
from core.state import ProbeStatus
from core.timeouts import wait_for

T = TypeVar("T")

MAX_API_VERSION = "1.47"
"""The newest Engine API version this client was written against."""

DEFAULT_TIMEOUT = 10.0

MAX_CONNECTIONS = 16
"""Requests in flight at once per client, each on a connection of its own (streams apart)."""

MAX_BODY = 64 * 1024 * 1024
"""Largest answer read (a listing of thousands of containers is a few MB)."""

ERROR_BODY = 4096
"""How much of an error answer is read for its message."""


class DockerError(Exception):
    """The engine answered with an HTTP error (``status`` and the engine's message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Docker API error {status}: {message}")
        self.status = status
        self.message = message


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.41"`` → ``(1, 41)``; junk parts count as 0."""
    parts = []
    for part in version.strip().split("."):
        try:
            parts.append(int(part))
        except ValueError:
            parts.append(0)
    return tuple(parts)


def negotiate(server_version: str, client_max: str = MAX_API_VERSION) -> str:
    """The API version to speak: the server's, capped at what this client knows."""
    if not server_version:
        return client_max
    if version_tuple(server_version) < version_tuple(client_max):
        return server_version
    return client_max


def container_path(container_id: str, suffix: str = "") -> str:
    """``/containers/{id}{suffix}`` with the id as one quoted path segment."""
    if container_id in ("", ".", ".."):
        raise ValueError(f"not a container id or name: {container_id!r}")
    return f"/containers/{quote(container_id, safe='')}{suffix}"


class DockerClient:
    """Docker Engine API for one host.  Cheap to keep; call :meth:`close` when done."""

    def __init__(self, host: Host, socket: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host
        self.socket = socket
        self.timeout = timeout
        self.api_version = ""
        self.server_version = ""
        self._idle: list[tuple[ByteReader, ByteWriter]] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._negotiating = Coalescer()  # the first requests of a burst ask /version once
        self._streams: set[ByteWriter] = set()
        self._closed = False

    # -- connection --------------------------------------------------------------

    async def _ready(self) -> None:
        """Check the host is up and negotiate the API version once."""
        if not host_is_up(self.host):
            raise ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(self.host))
        if not self.api_version:
            await self._negotiating.run("version", self._negotiate)

    async def _negotiate(self) -> None:
        status, reason, body = await self._exchange("GET", "/version", None, self.timeout)
        if status >= 400:
            raise DockerError(status, _message(body, reason))
        info = json.loads(body)
        self.server_version = str(info.get("Version", ""))
        self.api_version = negotiate(str(info.get("ApiVersion", "")))

    def _url(self, path: str) -> str:
        return f"/v{self.api_version}{path}"

    async def _open(self) -> tuple[ByteReader, ByteWriter]:
        return await wait_for(self.host.open_unix_stream(self.socket), self.timeout)

    async def _exchange(
        self, method: str, target: str, params: Mapping[str, Any] | None, timeout: float
    ) -> tuple[int, str, bytes]:
        """One request on a kept-alive connection (or a new one): status, reason, body.

        Transport failures raise as they come (the caller turns them into a
        ProbeError).  A GET whose kept connection turns out closed (no answer
        at all, or a reset) is sent again on another, a new one at the
        latest; a POST or a request that timed out is never resent.
        """
        async with self._slots:
            while True:
                kept = self._take_idle()
                reused = kept is not None
                reader, writer = kept if kept is not None else await self._open()
                try:
                    async with asyncio.timeout(timeout):
                        writer.write(request_bytes(method, target, params, keep_alive=True))
                        await writer.drain()
                        head, first = await read_head(reader)
                        limit = ERROR_BODY if head.status >= 400 else MAX_BODY
                        body = await read_body(
                            reader, head, first, limit, truncate=head.status >= 400
                        )
                except (NoAnswer, ConnectionError) as exc:  # (TimeoutError is neither)
                    _close(writer)
                    if reused and method == "GET":
                        continue  # the engine had closed the idle connection: another one
                    raise exc from None
                except BaseException:
                    _close(writer)
                    raise
                if head.keep_alive and head.status < 400 and not self._closed:
                    self._idle.append((reader, writer))  # (an error body may be cut short)
                else:
                    _close(writer)
                return head.status, head.reason, body

    def _take_idle(self) -> tuple[ByteReader, ByteWriter] | None:
        """A kept connection the engine has not closed meanwhile, if there is one."""
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof():
                return reader, writer
            _close(writer)
        return None

    async def _reaching(self, work: Awaitable[T]) -> T:
        """``work``, with a failure to reach the engine turned into a ProbeError.

        HTTP errors (DockerError) and ProbeErrors pass as they are.
        """
        try:
            return await work
        except (ProbeError, DockerError):
            raise
        except Exception as exc:  # OSError, TimeoutError, HttpStreamError, the SSH channel's own
            raise await self._transport_error(exc) from None

    async def reset(self) -> None:
        """Drop kept connections and the negotiated version (after a transport error)."""
        self.api_version = ""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            _close(writer)

    async def close(self) -> None:
        """Close every kept connection and open stream; requests still out close theirs."""
        self._closed = True
        await self.reset()
        for writer in list(self._streams):
            _close(writer)

    async def _transport_error(self, exc: BaseException) -> ProbeError:
        await self.reset()
        if not host_is_up(self.host):
            return ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(self.host))
        if isinstance(exc, TimeoutError):
            return ProbeError(ProbeStatus.TIMEOUT, f"Docker API on {self.host.name} timed out")
        if isinstance(exc, HttpStreamError) and not isinstance(exc, BrokeOff):
            # the engine answered what it meant to: the answer itself is the problem
            return ProbeError(ProbeStatus.ERROR, f"unreadable answer from Docker: {exc}")
        return await self._diagnose(exc)

    async def _diagnose(self, exc: BaseException) -> ProbeError:
        """Say why the socket could not be used: missing, not writable, or the engine."""
        path = shlex.quote(self.socket)
        script = (
            f"if [ ! -e {path} ]; then echo missing; "
            f"elif [ ! -w {path} ]; then echo denied; else echo present; fi"
        )
        result = await self.host.run(script, timeout=5)
        verdict = result.stdout.strip()
        if verdict == "missing":
            return ProbeError(
                ProbeStatus.UNREACHABLE,
                f"no Docker socket at {self.socket} on {self.host.name} (is Docker running?)",
            )
        if verdict == "denied":
            return ProbeError(
                ProbeStatus.PERMISSION_DENIED,
                f"permission denied on {self.socket} (add the SSH user to the docker group)",
            )
        detail = str(exc) or type(exc).__name__
        return ProbeError(
            ProbeStatus.UNREACHABLE, f"cannot talk to Docker at {self.socket}: {detail}"
        )

    # -- requests ----------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Send one request to ``/v{api}{path}``: the status and body of a success.

        Raises :class:`DockerError` for an HTTP error and ProbeError when
        the engine cannot be reached or does not answer in time.
        """
        await self._reaching(self._ready())
        status, reason, body = await self._reaching(self._exchange(
            method, self._url(path), params, timeout if timeout is not None else self.timeout
        ))
        if status >= 400:
            raise DockerError(status, _message(body, reason))
        return status, body

    async def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """GET ``path`` and decode the JSON body."""
        status, body = await self.request("GET", path, params=params, timeout=timeout)
        try:
            return json.loads(body)
        except ValueError:  # (a redirect, a proxy's page): not what the API promises
            raise DockerError(status, f"not a JSON answer: {_message(body, '')}") from None

    async def post(
        self, path: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> int:
        """POST ``path`` with no body; returns the HTTP status (204 or 304 for most actions)."""
        status, _ = await self.request("POST", path, params=params, timeout=timeout)
        return status

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[BulkResponse]:
        """GET ``path`` on a connection of its own; the body in pieces as large as they come.

        For answers that go on (events, a followed log, a stats stream): no
        read timeout, and each read takes whatever the connection has, so a
        log firehose costs a few slice operations per line.  Raises
        :class:`DockerError` for an HTTP error, ProbeError when the engine
        cannot be reached.
        """
        await self._reaching(self._ready())
        target = self._url(path)  # before any await: a reset elsewhere forgets the version
        reader, writer = await self._reaching(self._open())
        self._streams.add(writer)
        try:
            head, first = await self._reaching(self._stream_head(reader, writer, target, params))
            yield BulkResponse(head, body_pieces(reader, head, first))
        finally:
            self._streams.discard(writer)
            _close(writer)

    async def _stream_head(
        self, reader: ByteReader, writer: ByteWriter, target: str,
        params: Mapping[str, Any] | None,
    ) -> tuple[ResponseHead, bytes]:
        """Send a stream's request; its head (DockerError for an HTTP error)."""
        writer.write(request_bytes("GET", target, params))
        async with asyncio.timeout(self.timeout):
            await writer.drain()
            head, first = await read_head(reader)
            if head.status >= 400:
                body = await read_body(reader, head, first, ERROR_BODY, truncate=True)
                raise DockerError(head.status, _message(body, head.reason))
        return head, first

    async def stream_failed(self, exc: Exception) -> ProbeError:
        """Turn an error raised while reading a stream into a :class:`ProbeError`."""
        if isinstance(exc, ProbeError):
            return exc
        if isinstance(exc, DockerError):
            return ProbeError(ProbeStatus.ERROR, str(exc))
        return await self._transport_error(exc)


@dataclass(frozen=True)
class BulkResponse:
    """A response of :meth:`DockerClient.stream`: its head and its body as it comes."""

    head: ResponseHead
    pieces: AsyncIterator[bytes]


def _close(writer: ByteWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


def _message(body: bytes, reason: str) -> str:
    """What the engine said in an error answer (its JSON ``message``, else the text)."""
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return body.decode("utf-8", "replace").strip()[:200] or reason
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return str(parsed)[:200]
