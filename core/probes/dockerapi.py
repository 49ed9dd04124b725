"""A small async Docker Engine API client over a host's unix socket (local or over SSH).

The socket is reached through :meth:`Host.open_unix_stream`, so the same
client serves a local Docker and one on the far side of an SSH connection.
The API version is negotiated once per connection from ``GET /version``:
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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.hosts.base import Host
from core.probes.base import ProbeError, host_down_reason, host_is_up
from core.probes.hoststreams import host_socket_transport
from core.probes.httpstream import (
    HttpStreamError,
    ResponseHead,
    body_pieces,
    get_request,
    read_body,
    read_head,
)
from core.state import ProbeStatus

MAX_API_VERSION = "1.47"
"""The newest Engine API version this client was written against."""

DEFAULT_TIMEOUT = 10.0


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


class DockerClient:
    """Docker Engine API for one host.  Cheap to keep; call :meth:`close` when done."""

    def __init__(self, host: Host, socket: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host
        self.socket = socket
        self.timeout = timeout
        self.api_version = ""
        self.server_version = ""
        self._client: httpx.AsyncClient | None = None

    # -- connection --------------------------------------------------------------

    async def _http(self) -> httpx.AsyncClient:
        if not host_is_up(self.host):
            raise ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(self.host))
        if self._client is None:
            # each connection is a stream to the socket on the host (an SSH channel);
            # plain HTTP, so no CA bundle is loaded; keep-alive for every connection,
            # so a burst of requests does not open and close channels
            transport = host_socket_transport(
                self.host, self.socket,
                httpx.Limits(max_connections=16, max_keepalive_connections=16),
            )
            self._client = httpx.AsyncClient(
                transport=transport, base_url="http://docker", timeout=self.timeout,
                verify=False,
            )
        if not self.api_version:
            try:
                response = await self._client.get("/version")
            except httpx.HTTPError as exc:
                raise await self._transport_error(exc) from None
            if response.status_code >= 400:
                raise DockerError(response.status_code, _response_message(response))
            info = response.json()
            self.server_version = str(info.get("Version", ""))
            self.api_version = negotiate(str(info.get("ApiVersion", "")))
        return self._client

    def _url(self, path: str) -> str:
        return f"/v{self.api_version}{path}"

    async def reset(self) -> None:
        """Drop pooled connections and the negotiated version (after a transport error)."""
        client, self._client = self._client, None
        self.api_version = ""
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.reset()

    async def _transport_error(self, exc: Exception) -> ProbeError:
        await self.reset()
        if not host_is_up(self.host):
            return ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(self.host))
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return ProbeError(ProbeStatus.TIMEOUT, f"Docker API on {self.host.name} timed out")
        return await self._diagnose(exc)

    async def _diagnose(self, exc: Exception) -> ProbeError:
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
    ) -> httpx.Response:
        """Send one request to ``/v{api}{path}``; raise on transport or HTTP errors."""
        client = await self._http()
        try:
            response = await client.request(
                method,
                self._url(path),
                params=params,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except httpx.HTTPError as exc:
            raise await self._transport_error(exc) from None
        if response.status_code >= 400:
            raise DockerError(response.status_code, _response_message(response))
        return response

    async def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """GET ``path`` and decode the JSON body."""
        response = await self.request("GET", path, params=params, timeout=timeout)
        return response.json()

    async def post(
        self, path: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> int:
        """POST ``path`` with no body; returns the HTTP status (204 or 304 for most actions)."""
        response = await self.request("POST", path, params=params, timeout=timeout)
        return response.status_code

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """GET ``path`` as a stream with no read timeout (events, logs, stats)."""
        client = await self._http()
        timeout = httpx.Timeout(self.timeout, read=None)
        request = client.build_request("GET", self._url(path), params=params, timeout=timeout)
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise await self._transport_error(exc) from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise DockerError(response.status_code, _response_message(response))
            yield response
        finally:
            await response.aclose()

    @contextlib.asynccontextmanager
    async def bulk_stream(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[BulkResponse]:
        """GET ``path`` on a connection of its own; the body in pieces as large as they come.

        For firehoses such as a followed log, where :meth:`stream` would cost
        a trip through httpx per HTTP chunk (see :mod:`core.probes.httpstream`).
        Raises :class:`DockerError` for an HTTP error, ProbeError when the
        engine cannot be reached.
        """
        await self._http()  # the host is up and the API version negotiated
        try:
            reader, writer = await asyncio.wait_for(
                self.host.open_unix_stream(self.socket), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise await self._transport_error(exc) from None
        try:
            try:
                writer.write(get_request(self._url(path), dict(params or {})))
                async with asyncio.timeout(self.timeout):
                    await writer.drain()
                    head, first = await read_head(reader)
                    if head.status >= 400:
                        body = await read_body(reader, head, first, limit=4096)
                        raise DockerError(head.status, _message(body, head.reason))
            except (OSError, TimeoutError) as exc:
                raise await self._transport_error(exc) from None
            yield BulkResponse(head, body_pieces(reader, head, first))
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def stream_failed(self, exc: Exception) -> ProbeError:
        """Turn an error raised while reading a stream into a :class:`ProbeError`."""
        if isinstance(exc, ProbeError):
            return exc
        if isinstance(exc, httpx.HTTPError | OSError):
            return await self._transport_error(exc)
        if isinstance(exc, HttpStreamError):
            return ProbeError(ProbeStatus.ERROR, f"Docker's answer broke off: {exc}")
        return ProbeError(ProbeStatus.ERROR, str(exc) or type(exc).__name__)


@dataclass(frozen=True)
class BulkResponse:
    """A response of :meth:`DockerClient.bulk_stream`: its head and its body as it comes."""

    head: ResponseHead
    pieces: AsyncIterator[bytes]


def _response_message(response: httpx.Response) -> str:
    return _message(response.content, response.reason_phrase)


def _message(body: bytes, reason: str) -> str:
    """What the engine said in an error answer (its JSON ``message``, else the text)."""
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return body.decode("utf-8", "replace").strip()[:200] or reason
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return str(parsed)[:200]
