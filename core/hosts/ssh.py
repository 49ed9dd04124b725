"""The SSH transport: one asyncssh connection per host, reused for everything.

The connection is kept by a supervisor task that connects, waits for the
link to drop (keepalives notice a dead host within
``keepalive_seconds * (keepalive_count + 1)``), and reconnects with capped
exponential backoff, reporting every state change.  Commands share the
connection through a semaphore kept below the server's ``MaxSessions``;
forwarded sockets and ports keep their local address across reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.config import HostConfig
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
from core.hosts.hostkeys import HostKeyPolicy
from core.hosts.identities import KEYS
from core.hosts.sshlib import asyncssh
from core.timeouts import wait_for

PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0


def backoff_delays(first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> AsyncIterator[float]:
    """Exponential delays with a little jitter, capped at ``cap`` seconds."""

    async def gen() -> AsyncIterator[float]:
        delay = first
        while True:
            yield min(cap, delay) * random.uniform(0.8, 1.0)
            delay *= 2

    return gen()


def describe_error(exc: BaseException) -> str:
    """A one-line reason an operator can act on."""
    if isinstance(exc, asyncssh.PermissionDenied):
        return "authentication refused (check user and identity_file)"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"disconnected: {exc.reason}" if exc.reason else "disconnected"
    if isinstance(exc, asyncssh.ChannelOpenError):
        return f"channel refused: {exc.reason}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is sshd running?)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


T = TypeVar("T")

CHANNEL_RETRIES = 4


READ_CHUNK = 16 * 1024
"""Bytes read from an SSH socket at a time (asyncio reads up to 256 KiB)."""


def _bound_reads(conn: asyncssh.SSHClientConnection) -> None:
    """Read the connection's socket in :data:`READ_CHUNK` pieces.

    asyncssh handles every packet of a read before the event loop runs
    anything else; a 256 KiB read of small packets (a container logging as
    fast as it can: a line or two per packet) is over 100 ms of work during
    which no key press is answered.  Smaller reads let the loop interleave.
    The asyncio transport is not public in asyncssh: if it is not there,
    nothing changes.
    """
    transport = getattr(conn, "_transport", None)
    if transport is not None and isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = READ_CHUNK


async def _open_retrying(open_channel: Callable[[], Awaitable[T]]) -> T:
    """Open a session channel, retrying briefly when sshd refuses it.

    sshd frees a session slot a moment after the client sees the channel
    close, so a burst kept under MaxSessions can still meet "no more
    sessions"; the slot is free again within milliseconds.
    """
    for attempt in range(CHANNEL_RETRIES):
        try:
            return await open_channel()
        except asyncssh.ChannelOpenError:
            if attempt == CHANNEL_RETRIES - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


class SshStream:
    """Output lines of a command running over SSH."""

    def __init__(self, process: Any | None, release: Callable[[], None], error: str = "") -> None:
        self._process = process
        self._release = release
        self.exit_status: int | None = None
        self.error = error
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[str]:
        if self._process is None:
            return
        try:
            async for line in self._process.stdout:
                yield line
            await self._process.wait()
            self.exit_status = self._process.exit_status
        except (asyncssh.Error, OSError) as exc:
            self.error = describe_error(exc)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._process is not None:
            self._process.close()
            with contextlib.suppress(Exception):
                await wait_for(self._process.wait_closed(), 2)
        self._release()


@dataclass
class _UnixForward:
    remote_path: str
    local_path: str
    listener: Any = None


@dataclass
class _TcpForward:
    remote_host: str
    remote_port: int
    local_port: int = 0
    listener: Any = None


class _Client(asyncssh.SSHClient):
    """Routes host keys missing from known_hosts to the policy; remembers why the link dropped."""

    def __init__(self, policy: HostKeyPolicy) -> None:
        self._policy = policy
        self.lost_reason = "connection closed"

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._policy.validate_unknown(host, addr, port, key)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.lost_reason = describe_error(exc)


class SshHost:
    """A host reached over SSH."""

    def __init__(
        self,
        config: HostConfig,
        *,
        jump: SshHost | None = None,
        backoff_first: float = BACKOFF_FIRST,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.name = config.name
        self.config = config
        self._jump = jump
        self._backoff = (backoff_first, backoff_cap)
        self._listeners = ListenerSet()
        self._state = LinkState.CLOSED
        self._reason = ""
        self._conn: asyncssh.SSHClientConnection | None = None
        self._up = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._sessions = asyncio.Semaphore(config.max_sessions)
        self._stream_slots = asyncio.Semaphore(max(1, config.max_sessions // 2))
        self._streams: set[SshStream] = set()
        self._sockdir: str | None = None
        self._unix_forwards: dict[str, _UnixForward] = {}
        self._tcp_forwards: dict[tuple[str, int], _TcpForward] = {}
        self._policy = HostKeyPolicy(config)

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    def subscribe(self, listener: LinkListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def _set_state(self, state: LinkState, reason: str = "") -> None:
        if state is self._state and reason == self._reason:
            return
        self._state, self._reason = state, reason
        if state is LinkState.UP:
            self._up.set()
        else:
            self._up.clear()
        self._listeners.emit(LinkEvent(self.name, state, reason, now()))

    # -- connection ------------------------------------------------------------

    async def start(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._set_state(LinkState.CONNECTING)
            self._supervisor = asyncio.create_task(self._supervise(), name=f"ssh:{self.name}")

    async def wait_up(self, timeout: float) -> bool:
        if self._state is LinkState.CLOSED:
            await self.start()
        try:
            await wait_for(self._up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _supervise(self) -> None:
        delays = backoff_delays(*self._backoff)
        while True:
            try:
                conn, client = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = self._policy.failure or describe_error(exc)
                self._set_state(LinkState.DOWN, reason)
                await asyncio.sleep(await anext(delays))
                self._set_state(LinkState.RECONNECTING, reason)
                continue
            self._conn = conn
            _bound_reads(conn)
            delays = backoff_delays(*self._backoff)
            await self._restore_forwards(conn)
            self._set_state(LinkState.UP)
            await conn.wait_closed()
            reason = client.lost_reason
            self._conn = None
            self._set_state(LinkState.DOWN, reason)
            await asyncio.sleep(await anext(delays))
            self._set_state(LinkState.RECONNECTING, reason)

    async def _connect(self) -> tuple[asyncssh.SSHClientConnection, _Client]:
        cfg = self.config
        self._policy.reset()
        client = _Client(self._policy)
        options: dict[str, Any] = {
            "known_hosts": self._policy.known_hosts(),
            "agent_forwarding": False,
            "keepalive_interval": cfg.keepalive_seconds,
            "keepalive_count_max": cfg.keepalive_count,
            "connect_timeout": cfg.connect_timeout,
            "login_timeout": cfg.connect_timeout,
            "client_factory": lambda: client,
            # AES-GCM runs in OpenSSL (AES-NI); asyncssh's chacha20-poly1305 falls
            # back to pure-Python poly1305 without libnacl, a bottleneck for logs.
            "encryption_algs": list(PREFERRED_CIPHERS),
            "compression_algs": None,
        }
        if cfg.port:
            options["port"] = cfg.port
        if cfg.user:
            options["username"] = cfg.user
        # loaded once for every host, not at each connect (a key file that hangs on
        # reading counts against this connect's time)
        try:
            keys = await wait_for(KEYS.client_keys(cfg.identity_file), cfg.connect_timeout)
        except (OSError, asyncssh.KeyImportError) as exc:
            which = f"identity_file {cfg.identity_file}" if cfg.identity_file else "~/.ssh/id_*"
            raise ConnectionError(f"cannot load {which}: {describe_error(exc)}") from None
        if keys is not None:  # (None: asyncssh finds the keys itself)
            options["client_keys"] = keys
        if cfg.identity_file:
            options["agent_path"] = None
        if self._jump is not None:
            if not await self._jump.wait_up(cfg.connect_timeout):
                raise ConnectionError(f"jump host {self._jump.name} is {self._jump.state.value}")
            options["tunnel"] = self._jump._conn
        conn = await wait_for(asyncssh.connect(cfg.ssh_target, **options), cfg.connect_timeout + 5)
        return conn, client

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        for stream in list(self._streams):
            await stream.close()
        for fwd in list(self._unix_forwards.values()) + list(self._tcp_forwards.values()):
            if fwd.listener is not None:
                fwd.listener.close()
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                await wait_for(self._conn.wait_closed(), 5)
            self._conn = None
        self._unix_forwards.clear()
        self._tcp_forwards.clear()
        if self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
        self._set_state(LinkState.CLOSED)

    # -- commands --------------------------------------------------------------

    def _unavailable(self) -> str:
        why = f": {self._reason}" if self._reason else ""
        return f"host {self.name} is {self._state.value}{why}"

    async def run(
        self, command: Command, *, timeout: float = 30.0, input: str | None = None
    ) -> CommandResult:
        text = render_command(command)
        started = time.monotonic()

        def failed(error: str) -> CommandResult:
            return CommandResult(text, None, "", "", time.monotonic() - started, error)

        if not await self.wait_up(min(timeout, self.config.connect_timeout)):
            return failed(self._unavailable())
        conn = self._conn
        assert conn is not None
        try:
            async with self._sessions:
                result = await wait_for(
                    _open_retrying(
                        lambda: conn.run(text, input=input, check=False, errors="replace")
                    ),
                    timeout,
                )
        except TimeoutError:
            return failed(f"timed out after {timeout:g} s")
        except (asyncssh.Error, OSError) as exc:
            return failed(describe_error(exc))
        exit_status = result.exit_status
        if exit_status is None and result.exit_signal:
            return failed(f"killed by signal {result.exit_signal[0]}")
        return CommandResult(
            text,
            exit_status,
            clip(str(result.stdout or "")),
            clip(str(result.stderr or "")),
            time.monotonic() - started,
        )

    async def stream(self, command: Command) -> SshStream:
        text = render_command(command)
        if not await self.wait_up(self.config.connect_timeout):
            return SshStream(None, lambda: None, self._unavailable())
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._sessions.release()
                self._stream_slots.release()
            self._streams.discard(stream)

        await self._stream_slots.acquire()
        try:
            await self._sessions.acquire()
        except BaseException:
            self._stream_slots.release()
            raise
        stream = SshStream(None, release)
        conn = self._conn
        try:
            if conn is None:
                raise ConnectionError(self._unavailable())
            process = await _open_retrying(
                lambda: conn.create_process(
                    text, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace"
                )
            )
        except (asyncssh.Error, OSError) as exc:
            stream.error = describe_error(exc)
            await stream.close()
            return stream
        except BaseException:  # cancelled while opening: give the channel slots back
            release()
            raise
        stream = SshStream(process, release)
        self._streams.add(stream)
        return stream

    # -- forwarding ------------------------------------------------------------

    def _socket_dir(self) -> str:
        if self._sockdir is None:
            self._sockdir = tempfile.mkdtemp(prefix=f"warroom-{self.name}-")
            os.chmod(self._sockdir, 0o700)
        return self._sockdir

    async def forward_unix_socket(self, remote_path: str) -> str:
        fwd = self._unix_forwards.get(remote_path)
        if fwd is None:
            local = os.path.join(self._socket_dir(), f"sock{len(self._unix_forwards)}")
            fwd = self._unix_forwards[remote_path] = _UnixForward(remote_path, local)
        if fwd.listener is None and await self.wait_up(self.config.connect_timeout):
            await self._open_unix(fwd)
        return fwd.local_path

    async def forward_tcp(self, remote_host: str, remote_port: int) -> TcpForward:
        key = (remote_host, remote_port)
        fwd = self._tcp_forwards.get(key)
        if fwd is None:
            fwd = self._tcp_forwards[key] = _TcpForward(remote_host, remote_port)
        if fwd.listener is None and await self.wait_up(self.config.connect_timeout):
            await self._open_tcp(fwd)
        return TcpForward("127.0.0.1", fwd.local_port)

    async def open_unix_stream(self, remote_path: str) -> tuple[ByteReader, ByteWriter]:
        if not await self.wait_up(self.config.connect_timeout):
            raise ConnectionError(self._unavailable())
        conn = self._conn
        if conn is None:
            raise ConnectionError(self._unavailable())
        try:
            reader, writer = await conn.open_unix_connection(remote_path)
        except asyncssh.Error as exc:
            raise ConnectionError(
                f"cannot open {remote_path} on {self.name}: {describe_error(exc)}"
            ) from None
        return reader, writer

    async def _open_unix(self, fwd: _UnixForward) -> None:
        assert self._conn is not None
        with contextlib.suppress(FileNotFoundError):
            Path(fwd.local_path).unlink()
        fwd.listener = await self._conn.forward_local_path(fwd.local_path, fwd.remote_path)

    async def _open_tcp(self, fwd: _TcpForward) -> None:
        assert self._conn is not None
        fwd.listener = await self._conn.forward_local_port(
            "127.0.0.1", fwd.local_port, fwd.remote_host, fwd.remote_port
        )
        fwd.local_port = fwd.listener.get_port()

    async def _restore_forwards(self, conn: asyncssh.SSHClientConnection) -> None:
        """Re-open every forward at its old local address after a reconnect."""
        for ufwd in self._unix_forwards.values():
            ufwd.listener = None
            with contextlib.suppress(OSError, asyncssh.Error):
                await self._open_unix(ufwd)
        for tfwd in self._tcp_forwards.values():
            tfwd.listener = None
            try:
                await self._open_tcp(tfwd)
            except (OSError, asyncssh.Error):
                tfwd.local_port = 0  # the old port is taken: the next use picks a new one
