"""DockerClient's connection handling against a scripted HTTP server on a real unix socket.

The engine is stood in for by a small server (pure protocol behaviour: kept
connections, split chunk endings, dropped idle connections, a hung answer);
the lab's real engines are used by test_lab_docker.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from core.hosts.local import LocalHost
from core.probes.base import ProbeError
from core.probes.dockerapi import DockerClient, container_path
from core.probes.logs import follow_container
from core.state import ProbeStatus

Answer = Callable[[str, asyncio.StreamWriter], object]
"""What the scripted engine sends for one request (may be a coroutine)."""

VERSION = b'{"Version": "20.10.24", "ApiVersion": "1.41"}'


def answer_bytes(body: bytes, status: str = "200 OK", headers: str = "") -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length."""
    return (f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode()
            + body)

class Engine:
    """Answers each request with ``answer(target, writer)``; counts connections and requests."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.targets: list[str] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                self.targets.append(target)
                if target.endswith("/version"):
                    writer.write(answer_bytes(VERSION))
                else:
                    result = self.answer(target, writer)
                    if asyncio.iscoroutine(result):
                        await result
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


StartEngine = Callable[..., Awaitable[tuple["Engine", DockerClient]]]


@pytest.fixture
async def engine_at(tmp_path: Path) -> AsyncIterator[StartEngine]:
    servers: list[asyncio.AbstractServer] = []
    clients: list[DockerClient] = []

    async def start(answer: Answer,
                    timeout: float = 5.0) -> tuple[Engine, DockerClient]:
        engine = Engine(answer)
        path = str(tmp_path / f"docker{len(servers)}.sock")
        servers.append(await asyncio.start_unix_server(engine.serve, path))
        host = LocalHost()
        await host.start()
        client = DockerClient(host, path, timeout=timeout)
        clients.append(client)
        return engine, client

    yield start
    for client in clients:
        await client.close()
    for server in servers:
        server.close()


async def test_a_chunk_ending_split_across_writes_keeps_the_connection_usable(
    engine_at: StartEngine,
) -> None:
    async def answer(target: str, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({"target": target}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"%x\r\n%s\r\n0\r\n" % (len(body), body))
        await writer.drain()
        await asyncio.sleep(0.05)  # the final CRLF comes in a later read
        writer.write(b"\r\n")

    engine, client = await engine_at(answer)
    for n in range(3):
        assert await client.get_json(container_path(f"c{n}", "/json")) == {
            "target": f"/v1.41/containers/c{n}/json"}
    assert engine.connections == 1, "each request should reuse the kept connection"


async def test_an_idle_connection_the_engine_dropped_is_replaced(
    engine_at: StartEngine,
) -> None:
    def answer(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer_bytes(b"{}"))

    engine, client = await engine_at(answer)
    assert await client.get_json("/info") == {}
    for writer in engine.writers:  # the engine restarts, say: idle connections die
        writer.close()
    await asyncio.sleep(0.05)
    assert await client.get_json("/info") == {}
    assert engine.connections == 2


async def test_a_hung_answer_times_out_once_and_is_not_sent_again(
    engine_at: StartEngine,
) -> None:
    async def answer(target: str, writer: asyncio.StreamWriter) -> None:
        if target.endswith("/hang"):
            await asyncio.sleep(30)
        writer.write(answer_bytes(b"{}"))

    engine, client = await engine_at(answer, timeout=0.5)
    assert await client.get_json("/info") == {}  # a kept connection the retry could take
    with pytest.raises(ProbeError) as caught:
        await client.get_json("/hang")
    assert caught.value.status is ProbeStatus.TIMEOUT
    assert [t for t in engine.targets if t.endswith("/hang")] == ["/v1.41/hang"]


async def test_a_non_json_answer_is_a_docker_error_not_a_crash(
    engine_at: StartEngine,
) -> None:
    from core.probes.dockerapi import DockerError

    def answer(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer_bytes(b"moved", "301 Moved", "Location: /x\r\n"))

    _, client = await engine_at(answer)
    with pytest.raises(DockerError, match="not a JSON answer"):
        await client.get_json("/containers/json")


def test_container_ids_are_one_path_segment() -> None:
    assert container_path("web/../../images", "/json") == "/containers/web%2F..%2F..%2Fimages/json"
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            container_path(bad)


def test_a_quoted_id_is_sent_as_quoted_once() -> None:
    from core.probes.httpstream import request_bytes

    wire = request_bytes("GET", container_path("web/1 x", "/json"))
    assert wire.startswith(b"GET /containers/web%2F1%20x/json HTTP/1.1\r\n")  # not %252F


BROKEN = {  # how the engine's answer goes wrong: (chunked answer, whole answer)
    "breaks off": (b"40\r\nhalf a ", b"Content-Length: 100\r\n\r\n{\"Id\": \"ab"),
    "malformed": (b"zz\r\nnot a chunk size\r\n",
                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk size\r\n"),
}


@pytest.mark.parametrize("how", sorted(BROKEN))
async def test_a_broken_answer_is_the_same_error_for_requests_and_streams(
    engine_at: StartEngine, tmp_path: Path, how: str
) -> None:
    chunked, whole = BROKEN[how]

    def answer(target: str, writer: asyncio.StreamWriter) -> None:
        if "/logs" in target:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        elif target.endswith("/containers/c1/json"):
            writer.write(answer_bytes(b'{"Config": {"Tty": false}}'))
            return
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n" + whole)
        writer.close()

    _, client = await engine_at(answer)
    with pytest.raises(ProbeError) as request:
        await client.get_json("/containers/json")
    with pytest.raises(ProbeError) as stream:
        async for _ in follow_container(client, "c1"):
            pass
    for caught in (request.value, stream.value):
        if how == "breaks off":  # the engine went away: diagnosed like any lost engine
            assert caught.status is ProbeStatus.UNREACHABLE, caught.reason
            assert caught.reason.startswith("cannot talk to Docker at "), caught.reason
        else:  # it answered, but not HTTP/1.1 as we read it
            assert caught.status is ProbeStatus.ERROR, caught.reason
            assert caught.reason.startswith("unreadable answer from Docker: "), caught.reason
