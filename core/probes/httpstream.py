"""HTTP/1.1 to a Docker Engine socket, read in bulk: requests, and long-lived streams.

Docker flushes a followed log after every line, so each line arrives as its
own HTTP chunk.  This reader takes whatever the connection has buffered (up
to :data:`READ_SIZE` bytes), strips the chunk framing in one pass and hands
the payload on in one piece, so a line costs a few slice operations, not a
parser event and a trip through layers of iterators.

It covers what the Engine API needs: ``GET``/``POST`` without a request
body, and a response body that is chunked, has a ``Content-Length``, or ends
when the connection does.  :class:`core.probes.dockerapi.DockerClient` keeps
connections alive between requests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from core.hosts.base import ByteReader

READ_SIZE = 64 * 1024
"""Bytes asked of the connection per read."""

MAX_HEAD = 64 * 1024
"""Longest response head (status line and headers) accepted."""

MAX_SIZE_LINE = 1024
"""Longest chunk-size line accepted (size, extensions)."""


class HttpStreamError(Exception):
    """The response is not HTTP/1.1 as this reader understands it, or it broke off."""


class BrokeOff(HttpStreamError):
    """The connection closed part-way through the response (the server went away)."""


class NoAnswer(BrokeOff):
    """The connection closed before any answer came (a kept connection the server dropped)."""


@dataclass(frozen=True)
class ResponseHead:
    """Status and headers of a response (names lower-cased; a repeated header keeps its last)."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def chunked(self) -> bool:
        """Whether the body is sent in chunks."""
        if self.status in (204, 304):
            return False
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def length(self) -> int | None:
        """The body's ``Content-Length``, or None when the body is chunked or ends with the link."""
        if self.status in (204, 304) or 100 <= self.status < 200:
            return 0  # answers that never have a body
        if self.chunked:
            return None
        value = self.headers.get("content-length", "").strip()
        if not value.isdigit():
            return None
        return int(value)

    @property
    def keep_alive(self) -> bool:
        """Whether the connection can carry another request after this body."""
        if self.headers.get("connection", "").lower() == "close":
            return False
        return self.chunked or self.length is not None


def request_bytes(
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    *,
    keep_alive: bool = False,
) -> bytes:
    """The bytes of a request without a body, e.g. ``GET path?params``.

    ``path`` is percent-quoted (``/`` and escapes already made, such as a
    container id quoted as one segment, kept) and ``params`` are
    form-encoded, so no value can add a header or a second request.
    ``keep_alive=False`` asks the server to close the connection after this
    answer (a stream).
    """
    target = quote(path, safe="/%")
    if params:
        target += "?" + urlencode(params)
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: docker",  # the engine ignores it; HTTP/1.1 requires one
        "Accept: */*",
        "Connection: " + ("keep-alive" if keep_alive else "close"),
    ]
    if method in ("POST", "PUT"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


async def read_head(reader: ByteReader) -> tuple[ResponseHead, bytes]:
    """Read a response head; returns it and the body bytes that came with it.

    Empty lines before the status line are skipped (RFC 9112 §2.2) and so
    are interim (1xx) answers.
    """
    data = b""
    while True:
        data = data.lstrip(b"\r\n")
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = parse_head(data[:end])
            data = data[end + 4 :]
            if 100 <= head.status < 200:
                continue
            return head, data
        if len(data) > MAX_HEAD:
            raise HttpStreamError(f"response head longer than {MAX_HEAD} bytes")
        more = await reader.read(READ_SIZE)
        if not more:
            if data:
                raise BrokeOff("the connection closed before the response head ended")
            raise NoAnswer("the connection closed before the response head ended")
        data += more


def parse_head(raw: bytes) -> ResponseHead:
    """Parse ``HTTP/1.x CODE REASON`` and the header lines after it."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpStreamError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpStreamError(f"malformed header line: {line[:80]!r}")
        headers[name.lower()] = value.strip()
    return ResponseHead(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


class ChunkedDecoder:
    """``Transfer-Encoding: chunked`` framing in, body bytes out, any split of the input."""

    def __init__(self) -> None:
        self._pending = b""  # an incomplete size line or chunk-ending CRLF
        self._data_left = 0  # bytes of the current chunk's data still to come
        self._crlf_left = 0  # bytes of the CRLF after the current chunk still to come
        self._trailers = False  # after the last chunk: trailer lines up to an empty one
        self.done = False
        """True once the body ended (last chunk and trailers read); later input is ignored."""

    def feed(self, data: bytes) -> bytes:
        """The body bytes ``data`` completes (possibly none)."""
        if self.done:
            return b""
        buf = self._pending + data if self._pending else data
        self._pending = b""
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if self._data_left:
                stop = min(end, pos + self._data_left)
                out.append(buf[pos:stop])
                self._data_left -= stop - pos
                pos = stop
                if not self._data_left:
                    self._crlf_left = 2
                continue
            if self._crlf_left:
                if end - pos < self._crlf_left:
                    self._pending = buf[pos:]
                    break
                if buf[pos : pos + self._crlf_left] != b"\r\n"[2 - self._crlf_left :]:
                    raise HttpStreamError("a chunk is longer than its size says")
                pos += self._crlf_left
                self._crlf_left = 0
                continue
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if end - pos > MAX_SIZE_LINE:
                    raise HttpStreamError("chunk size line too long")
                self._pending = buf[pos:]
                break
            if self._trailers:  # a trailer field (ignored), or the empty line that ends all
                if eol == pos:
                    self.done = True
                    break
                pos = eol + 2
                continue
            size_field = buf[pos:eol].split(b";", 1)[0]
            try:
                size = int(size_field, 16)
            except ValueError:
                raise HttpStreamError(f"bad chunk size {size_field[:20]!r}") from None
            if size < 0:
                raise HttpStreamError(f"bad chunk size {size_field[:20]!r}")
            pos = eol + 2
            if size == 0:  # the last chunk: trailers, if any, then an empty line
                self._trailers = True
                continue
            self._data_left = size
        if len(out) == 1:
            return out[0]
        return b"".join(out)


async def body_pieces(
    reader: ByteReader, head: ResponseHead, first: bytes = b""
) -> AsyncIterator[bytes]:
    """The response body in pieces as large as the connection has at hand.

    ``first`` is what :func:`read_head` read past the head.  Ends with the
    body; raises :class:`HttpStreamError` when the connection closes in the
    middle of a chunked or length-delimited body.
    """
    decoder = ChunkedDecoder() if head.chunked else None
    left = head.length
    data = first
    while left != 0:
        if data:
            if decoder is not None:
                payload = decoder.feed(data)
            elif left is not None:
                payload = data[:left]
                left -= len(payload)
            else:
                payload = data
            if payload:
                yield payload
            if (decoder is not None and decoder.done) or left == 0:
                return
        data = await reader.read(READ_SIZE)
        if not data:
            if decoder is not None or left:
                raise BrokeOff("the connection closed in the middle of the response")
            return


async def read_body(
    reader: ByteReader, head: ResponseHead, first: bytes, limit: int, *, truncate: bool = False
) -> bytes:
    """The whole body, at most ``limit`` bytes of it.

    A longer body is an :class:`HttpStreamError`, or with ``truncate`` (the
    text of an error answer, say) its first ``limit`` bytes.
    """
    pieces: list[bytes] = []
    size = 0
    async for piece in body_pieces(reader, head, first):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            if truncate:
                return b"".join(pieces)[:limit]
            raise HttpStreamError(f"answer longer than {limit} bytes")
    return b"".join(pieces)


async def json_lines(pieces: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """One JSON document per line of a streamed body (blank lines skipped)."""
    partial = b""
    async for piece in pieces:
        *lines, partial = (partial + piece).split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if partial.strip():
        yield json.loads(partial)
