"""The bulk HTTP/1.1 stream reader: response heads, chunk framing split anywhere, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.probes.httpstream import (
    ChunkedDecoder,
    HttpStreamError,
    NoAnswer,
    ResponseHead,
    body_pieces,
    json_lines,
    parse_head,
    read_head,
    request_bytes,
)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


class Feed:
    """A ByteReader over fixed bytes, handed out ``step`` bytes per read (as a link might)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    async def read(self, n: int = -1) -> bytes:
        piece, self.data = self.data[: min(n, self.step)], self.data[min(n, self.step) :]
        return piece

    def at_eof(self) -> bool:
        return not self.data


def test_chunked_body_is_the_same_however_the_bytes_are_cut() -> None:
    pieces = [b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n", b"x" * 300, b"\r\n inside data \r\n"]
    wire = chunked(*pieces)
    for step in (1, 2, 3, 5, 7, 64, len(wire)):
        decoder = ChunkedDecoder()
        out = b"".join(decoder.feed(wire[i : i + step]) for i in range(0, len(wire), step))
        assert out == b"".join(pieces), step
        assert decoder.done


def test_chunk_extensions_are_ignored_and_input_after_the_last_chunk_too() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5;name=value\r\nhello\r\n0\r\n\r\n") == b"hello"
    assert decoder.done and decoder.feed(b"3\r\nmore\r\n") == b""


def test_the_body_ends_only_after_the_trailers_and_the_empty_line() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"2\r\nab\r\n0\r\n") == b"ab"
    assert not decoder.done  # the final CRLF is still to come: the connection is not free
    assert decoder.feed(b"X-Trailer: 1\r\n") == b"" and not decoder.done
    decoder.feed(b"\r\n")
    assert decoder.done


def test_interim_answers_and_stray_line_ends_before_the_head_are_skipped() -> None:
    wire = b"\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    head, first = asyncio.run(read_head(Feed(wire, 3)))
    assert head.status == 204 and first == b""


def test_json_lines_across_pieces() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b'{"a": 1}\n{"b"', b': 2}\n\n', b'{"c": 3}'):
            yield piece

    async def collect_all() -> list[object]:
        return [doc async for doc in json_lines(pieces())]

    assert asyncio.run(collect_all()) == [{"a": 1}, {"b": 2}, {"c": 3}]


@pytest.mark.parametrize("wire", [
    b"zz\r\nhello\r\n",  # not hex
    b"-5\r\nhello\r\n",  # negative
    b"3\r\nhello\r\n",  # longer than its size
    b"1" * 2000,  # a size line that never ends
])
def test_bad_chunk_framing_is_an_error(wire: bytes) -> None:
    with pytest.raises(HttpStreamError):
        ChunkedDecoder().feed(wire)


def test_head_is_parsed_and_the_body_bytes_after_it_kept() -> None:
    wire = (b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"abc", b"def"))
    for step in (1, 10, len(wire)):
        feed = Feed(wire, step)
        head, first = asyncio.run(read_head(feed))
        assert head.status == 200 and head.reason == "OK" and head.chunked
        assert head.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        assert first + feed.data == chunked(b"abc", b"def")  # nothing lost past the head


@pytest.mark.parametrize(
    "raw", [b"SSH-2.0-OpenSSH", b"HTTP/1.1 OK", b"HTTP/1.1 200 OK\r\nno colon"]
)
def test_malformed_heads_are_errors(raw: bytes) -> None:
    with pytest.raises(HttpStreamError):
        parse_head(raw)


def test_a_link_that_closes_before_the_head_ends_is_an_error() -> None:
    with pytest.raises(HttpStreamError, match="before the response head"):
        asyncio.run(read_head(Feed(b"HTTP/1.1 200 OK\r\nContent-", 4)))
    with pytest.raises(NoAnswer):  # nothing at all: a kept connection the server dropped
        asyncio.run(read_head(Feed(b"", 4)))


async def collect(reader: Feed, head: ResponseHead, first: bytes = b"") -> bytes:
    return b"".join([piece async for piece in body_pieces(reader, head, first)])


def test_bodies_by_length_by_close_and_by_chunks() -> None:
    by_length = ResponseHead(200, "OK", {"content-length": "5"})
    assert asyncio.run(collect(Feed(b"llo and more", 3), by_length, b"he")) == b"hello"
    by_close = ResponseHead(200, "OK", {})
    assert asyncio.run(collect(Feed(b"until the end", 4), by_close)) == b"until the end"
    by_chunks = ResponseHead(200, "OK", {"transfer-encoding": "chunked"})
    assert asyncio.run(collect(Feed(chunked(b"a", b"bc"), 2), by_chunks)) == b"abc"


def test_no_content_answers_end_without_waiting_for_the_link_to_close() -> None:
    for status in (204, 304):
        head = ResponseHead(status, "", {})
        assert head.length == 0 and head.keep_alive
        assert asyncio.run(collect(Feed(b"next answer", 4), head)) == b""


def test_a_body_cut_off_in_the_middle_is_an_error() -> None:
    by_chunks = ResponseHead(200, "OK", {"transfer-encoding": "chunked"})
    with pytest.raises(HttpStreamError, match="in the middle"):
        asyncio.run(collect(Feed(b"5\r\nhel", 2), by_chunks))
    by_length = ResponseHead(200, "OK", {"content-length": "10"})
    with pytest.raises(HttpStreamError, match="in the middle"):
        asyncio.run(collect(Feed(b"short", 2), by_length))


def test_request_values_cannot_add_headers_or_requests() -> None:
    evil_path, evil_value = "/containers/x\r\nEvil: 1/logs", "1\r\n\r\nGET / HTTP/1.1"
    wire = request_bytes("GET", evil_path, {"since": evil_value})
    head, _, rest = wire.partition(b"\r\n")
    assert head.startswith(b"GET /containers/x%0D%0AEvil%3A%201/logs?since=1%0D%0A")
    assert rest.count(b"\r\n") == 4 and rest.endswith(b"Connection: close\r\n\r\n")
