"""HTTP over a host's unix socket without a local socket in between.

httpx (through httpcore) asks a *network backend* for a connection; this
one opens a byte stream to the socket on the host with
:meth:`Host.open_unix_stream` — over SSH, a channel of the host's
connection.  Compared with a forwarded local socket, every request and
every chunk of a response skips a hop through the kernel and a second
trip through the event loop: Docker stats, inspects and log firehoses
cost less.
"""

from __future__ import annotations

import asyncio
import contextlib
import typing
from collections.abc import Iterable

import httpcore
import httpx

from core.hosts.base import ByteReader, ByteWriter, Host


class HostSocketStream(httpcore.AsyncNetworkStream):
    """One connection to a host's unix socket, as httpcore uses it."""

    def __init__(self, reader: ByteReader, writer: ByteWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.read(max_bytes), timeout)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no answer within {timeout:g} s") from None
        except Exception as exc:  # the channel or the connection under it broke
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            await asyncio.wait_for(self._writer.drain(), timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send within {timeout:g} s") from None
        except Exception as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":  # asked of an idle connection: has the other end closed?
            return self._reader.at_eof()
        return None


class HostSocketBackend(httpcore.AsyncNetworkBackend):
    """Connections to unix sockets on ``host`` (TCP is not offered)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            reader, writer = await asyncio.wait_for(self.host.open_unix_stream(path), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{path} on {self.host.name}: timed out") from None
        except Exception as exc:  # refused, no such socket, the link went down meanwhile
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        return HostSocketStream(reader, writer)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("only unix sockets are reached through a host")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def host_socket_transport(host: Host, path: str, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection is a stream to ``path`` on ``host``.

    httpx's transport has no parameter for the network backend, so its
    connection pool is replaced by one built with ours (same limits); the
    transport still maps httpcore's errors to httpx's.
    """
    transport = httpx.AsyncHTTPTransport(uds=path, verify=False, limits=limits)
    transport._pool = httpcore.AsyncConnectionPool(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        uds=path,
        network_backend=HostSocketBackend(host),
    )
    return transport
