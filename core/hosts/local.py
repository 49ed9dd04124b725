"""The local transport: this machine, through subprocesses and its own sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable

from core.hosts.base import (
    ByteReader,
    ByteWriter,
    Command,
    CommandResult,
    LinkEvent,
    LinkListener,
    LinkState,
    ListenerSet,
    TcpForward,
    clip,
    now,
    render_command,
)
from core.timeouts import wait_for


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill a command and everything it started (it runs in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class LocalStream:
    """Output lines of a local subprocess."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.exit_status: int | None = None
        self.error = ""

    async def __aiter__(self) -> AsyncIterator[str]:
        assert self._process.stdout is not None
        finished = False
        try:
            async for raw in self._process.stdout:
                yield raw.decode("utf-8", "replace")
            finished = True
        finally:
            if not finished and self._process.returncode is None:
                _kill_group(self._process)  # the reader stopped early: stop the command too
            status = await self._process.wait()
            self.exit_status = status if finished else None

    async def close(self) -> None:
        if self._process.returncode is None:
            _kill_group(self._process)
            await self._process.wait()


class LocalHost:
    """The machine warroom runs on.  Its link is always up."""

    def __init__(self, name: str = "local") -> None:
        self.name = name
        self._listeners = ListenerSet()
        self._state = LinkState.CONNECTING
        self._streams: set[LocalStream] = set()

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def reason(self) -> str:
        return ""

    def subscribe(self, listener: LinkListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    async def start(self) -> None:
        self._state = LinkState.UP
        self._listeners.emit(LinkEvent(self.name, LinkState.UP, at=now()))

    async def wait_up(self, timeout: float) -> bool:
        return self._state is LinkState.UP

    async def run(
        self, command: Command, *, timeout: float = 30.0, input: str | None = None
    ) -> CommandResult:
        text = render_command(command)
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            text,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await wait_for(
                process.communicate(input.encode() if input is not None else None), timeout
            )
        except TimeoutError:
            _kill_group(process)
            await process.wait()
            return CommandResult(
                text, None, "", "", time.monotonic() - started, f"timed out after {timeout:g} s"
            )
        return CommandResult(
            text,
            process.returncode,
            clip(out.decode("utf-8", "replace")),
            clip(err.decode("utf-8", "replace")),
            time.monotonic() - started,
        )

    async def stream(self, command: Command) -> LocalStream:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            render_command(command),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=1024 * 1024,
        )
        stream = LocalStream(process)
        self._streams.add(stream)
        return stream

    async def forward_unix_socket(self, remote_path: str) -> str:
        return remote_path

    async def forward_tcp(self, remote_host: str, remote_port: int) -> TcpForward:
        return TcpForward(remote_host, remote_port)

    async def open_unix_stream(self, remote_path: str) -> tuple[ByteReader, ByteWriter]:
        return await asyncio.open_unix_connection(remote_path)

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()
        self._streams.clear()
        self._state = LinkState.CLOSED
        self._listeners.emit(LinkEvent(self.name, LinkState.CLOSED, at=now()))
