"""Log followers: a container's stdout/stderr through the Engine API, and host log files.

Lines are split on ``\\n`` only and decoded as UTF-8 with replacement; nothing
is stripped or interpreted here (a bare ``\\r``, escape sequences and markup
stay in the text: the UI makes them harmless).  Very long lines are cut into
pieces of :data:`MAX_LINE` bytes so memory stays bounded, and
:class:`LogBuffer` keeps only the newest lines.

Followers yield *batches* (a list of :class:`LogLine` per chunk read) so a
pane can take tens of thousands of lines a second without one await per
line; :func:`lines` flattens a batch iterator when one line at a time is
easier.
"""

from __future__ import annotations

import asyncio
import collections
import json
import struct
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple

from core.hosts.base import Host
from core.probes.base import ProbeError, host_down_reason, host_is_up
from core.probes.dockerapi import DockerClient, container_path
from core.state import ProbeStatus

MAX_LINE = 64 * 1024
"""Longest line kept in one piece (bytes); longer lines are split."""

STDOUT, STDERR, FILE = "stdout", "stderr", "file"

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class LogLine(NamedTuple):
    """One line of output: which stream it came from and its text (without the newline)."""

    stream: str
    text: str


class LineSplitter:
    """Bytes in, complete lines out; split on ``\\n`` only, UTF-8 decoded with replacement."""

    def __init__(self, stream: str, max_line: int = MAX_LINE) -> None:
        self.stream = stream
        self.max_line = max_line
        self._partial = b""

    def feed(self, data: bytes) -> list[LogLine]:
        """Lines completed by ``data``."""
        if self._partial:
            data = self._partial + data
            self._partial = b""
        cut = data.rfind(b"\n") + 1
        if cut < len(data):  # an unterminated last line waits for the rest
            data, rest = data[:cut], data[cut:]
            while len(rest) > self.max_line:
                data += rest[: self.max_line] + b"\n"
                rest = rest[self.max_line :]
            self._partial = rest
        if not data:
            return []
        if len(data) > self.max_line + 1:  # some line may be too long for one piece
            parts = data.split(b"\n")
            parts.pop()
            if max(map(len, parts)) > self.max_line:
                return [line for raw in parts for line in self._pieces(raw)]
        # decode all at once: a newline is a byte that never occurs inside a UTF-8
        # sequence, so this gives the same lines and the same replacement
        # characters as decoding line by line
        texts = data.decode("utf-8", "replace").split("\n")
        texts.pop()
        stream = self.stream
        return [LogLine(stream, text) for text in texts]

    def _pieces(self, raw: bytes) -> Iterable[LogLine]:
        if len(raw) <= self.max_line:
            return (LogLine(self.stream, raw.decode("utf-8", "replace")),)
        return (
            LogLine(self.stream, raw[i : i + self.max_line].decode("utf-8", "replace"))
            for i in range(0, len(raw), self.max_line)
        )

    def flush(self) -> list[LogLine]:
        """The unterminated last line, if any (at end of stream)."""
        if not self._partial:
            return []
        text = self._partial.decode("utf-8", "replace")
        self._partial = b""
        return [LogLine(self.stream, text)]


class Demultiplexer:
    """Docker's multiplexed stream format: frames of an 8-byte header and a payload.

    Header: stream type (0 stdin, 1 stdout, 2 stderr), three zero bytes, and
    the payload length as a big-endian uint32.  Frames and lines do not line
    up: a frame may hold part of a line or several lines, so each stream has
    its own :class:`LineSplitter`.  Docker sends a frame per write, often a
    frame per line, so consecutive frames of one stream are joined and split
    into lines together.
    """

    HEADER = struct.Struct(">BxxxL")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buffer = b""
        self._splitters = {
            1: LineSplitter(STDOUT, max_line),
            2: LineSplitter(STDERR, max_line),
        }

    def feed(self, data: bytes) -> list[LogLine]:
        """Lines completed by ``data`` (in the order their frames arrived)."""
        if self._buffer:  # a frame was cut at the end of the last chunk
            data = self._buffer + data
            self._buffer = b""
        out: list[LogLine] = []
        offset = 0
        size = self.HEADER.size
        end_of_data = len(data)
        unpack = self.HEADER.unpack_from
        run: list[bytes] = []  # payloads of consecutive frames of one stream
        run_kind = 1
        while end_of_data - offset >= size:
            kind, length = unpack(data, offset)
            end = offset + size + length
            if end > end_of_data:
                break
            kind = 2 if kind == 2 else 1  # stdin (0) or unknown types: shown as stdout
            if kind != run_kind and run:
                out.extend(self._splitters[run_kind].feed(b"".join(run)))
                run = []
            run_kind = kind
            run.append(data[offset + size : end])
            offset = end
        if run:
            out.extend(self._splitters[run_kind].feed(b"".join(run)))
        if offset < end_of_data:
            self._buffer = data[offset:]
        return out

    def flush(self) -> list[LogLine]:
        """Unterminated last lines of both streams."""
        return self._splitters[1].flush() + self._splitters[2].flush()


class LogBuffer:
    """The newest ``maxlen`` lines, for a pane to read; memory stays bounded.

    ``total`` counts every line ever added, so a reader that remembers the
    total it last saw can fetch only what is new with :meth:`since`.
    """

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=maxlen)
        self.total = 0

    @property
    def maxlen(self) -> int:
        """How many lines are kept."""
        return self._lines.maxlen or 0

    def __len__(self) -> int:
        return len(self._lines)

    def append(self, line: LogLine) -> None:
        """Add one line (the oldest falls out when full)."""
        self._lines.append(line)
        self.total += 1

    def extend(self, lines: Iterable[LogLine]) -> None:
        """Add many lines."""
        batch = lines if isinstance(lines, list | tuple) else list(lines)
        self._lines.extend(batch)
        self.total += len(batch)

    def lines(self) -> list[LogLine]:
        """Every kept line, oldest first."""
        return list(self._lines)

    def since(self, total_seen: int) -> list[LogLine]:
        """Lines added after the reader saw ``total_seen`` (as many as are still kept)."""
        new = self.total - total_seen
        if new <= 0:
            return []
        if new >= len(self._lines):
            return list(self._lines)
        return list(self._lines)[-new:]

    def clear(self) -> None:
        """Forget every line (``total`` keeps counting)."""
        self._lines.clear()


async def container_tty(docker: DockerClient, container_id: str) -> bool:
    """Whether the container was started with a TTY (its logs are then not multiplexed)."""
    info = await docker.get_json(container_path(container_id, "/json"))
    return bool((info.get("Config") or {}).get("Tty"))


async def follow_container(
    docker: DockerClient,
    container_id: str,
    *,
    tail: int | str = 200,
    since: float | None = None,
    follow: bool = True,
    timestamps: bool = False,
) -> AsyncIterator[list[LogLine]]:
    """Batches of a container's log lines: the last ``tail``, then new ones as they come.

    ``since`` is epoch seconds; ``tail`` may be ``"all"``.  Ends when the
    container's log stream ends (``follow=False``, or the container was
    removed); raises :class:`ProbeError` if the engine cannot be reached.
    """
    tty = await container_tty(docker, container_id)
    params = {
        "follow": "1" if follow else "0",
        "stdout": "1",
        "stderr": "1",
        "tail": str(tail),
        "timestamps": "1" if timestamps else "0",
    }
    if since is not None:
        params["since"] = f"{since:.6f}"
    try:
        async with docker.stream(container_path(container_id, "/logs"), params) as response:
            kind = response.head.headers.get("content-type", "")
            multiplexed = kind.startswith(MULTIPLEXED) or (not kind.startswith(RAW) and not tty)
            parser: Demultiplexer | LineSplitter = (
                Demultiplexer() if multiplexed else LineSplitter(STDOUT)
            )
            async for chunk in response.pieces:
                batch = parser.feed(chunk)
                if batch:
                    yield batch
            rest = parser.flush()
            if rest:
                yield rest
    except ProbeError:
        raise
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ProbeError(ProbeStatus.ERROR, str(exc)) from None
    except Exception as exc:
        raise await docker.stream_failed(exc) from None


async def follow_file(
    host: Host, path: str, *, tail: int = 200, follow: bool = True
) -> AsyncIterator[list[LogLine]]:
    """Batches of a log file on the host (``tail -n N -F``, so rotation is followed).

    Lines ``tail`` prints about the file itself (``tail: cannot open …``)
    arrive as ordinary lines.  Ends when the command ends (the host went
    down, or ``follow=False``); raises :class:`ProbeError` when the host is
    down at the start.
    """
    if not host_is_up(host):
        raise ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(host))
    command = ["tail", "-n", str(int(tail)), *(["-F"] if follow else []), "--", path]
    stream = await host.stream(command)
    if stream.error:
        raise ProbeError(ProbeStatus.UNREACHABLE, stream.error)
    try:
        async for raw in stream:
            if not raw:  # end of stream (a real empty line is "\n")
                continue
            text = raw[:-1] if raw.endswith("\n") else raw
            if len(text) > MAX_LINE:
                yield [LogLine(FILE, text[i : i + MAX_LINE]) for i in range(0, len(text), MAX_LINE)]
            else:
                yield [LogLine(FILE, text)]
    finally:
        await stream.close()


async def lines(batches: AsyncIterator[list[LogLine]]) -> AsyncIterator[LogLine]:
    """One line at a time from a batch iterator."""
    async for batch in batches:
        for line in batch:
            yield line


async def pump(
    source: AsyncIterator[list[LogLine]],
    buffer: LogBuffer,
    on_batch: Callable[[list[LogLine]], None] | None = None,
) -> str:
    """Feed ``source`` into ``buffer`` until it ends; returns why it ended ("" if it just did).

    ``on_batch`` is called after each batch is stored (e.g. to post a
    "new lines" message to a pane).  Never raises except for cancellation.
    """
    try:
        async for batch in source:
            buffer.extend(batch)
            if on_batch is not None:
                on_batch(batch)
    except asyncio.CancelledError:
        raise
    except ProbeError as exc:
        return exc.reason
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return ""
