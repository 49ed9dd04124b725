"""A helper Python process that answers JSON requests, one line each way.

The console runs some checks in a process of its own (see
:mod:`core.probes.workers`): their libraries then load on the other core
while the console builds its screen, and a slow check cannot hold the
screen.  :class:`HelperProcess` is the console's side of that.

* A request is one JSON object with an ``id`` the helper copies into its
  answer; answers may come in any order and go to their own callers.
* The helper is started by :meth:`HelperProcess.start` (cheap: it does not
  wait for the helper's imports), or by the first call.  It runs
  ``python -P -m MODULE`` in the directory that holds this package (never
  the console's working directory: code found there would run in the
  process that receives the credentials), in a session of its own, and
  exits when its standard input closes, so it never outlives the console.
* A helper that dies fails the calls it had not answered with
  :class:`HelperError` (its exit status or signal, and its last line on
  stderr); the next call starts a new one.  A helper that stops reading is
  killed rather than block the caller: its stdin is non-blocking.
* Requests travel over the pipe only, never in a command line or the
  environment, which other users of the machine can read.
* :meth:`HelperProcess.on_start` names requests every helper gets first,
  the one running now and each that replaces it (work to do ahead, such
  as an import); their answers go to nobody.

Not bound to one event loop: a thread reads the answers and hands them
over as :class:`concurrent.futures.Future` results.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The directory that holds the ``core`` package the helper must run."""


_INSTANCES: weakref.WeakSet[HelperProcess] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """No helper outlives the console (they would also end at their stdin's EOF)."""
    for helper in list(_INSTANCES):
        helper.close()


class HelperError(Exception):
    """The helper could not start, died before answering, or stopped reading."""


def _helper_env() -> dict[str, str]:
    """The console's environment; run from a checkout, with its root first on ``PYTHONPATH``
    (an installed package is found where it was installed)."""
    env = dict(os.environ)
    if (PACKAGE_ROOT / "pyproject.toml").exists():
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), *paths])
    return env


def _settle(future: concurrent.futures.Future[Any], answer: Any = None,
            error: BaseException | None = None) -> None:
    """Hand ``answer`` (or ``error``) to a caller that may have given up meanwhile."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(answer)


class _Running:
    """One started helper: its process, the calls it owes, its last stderr lines."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pending: dict[int, concurrent.futures.Future[Any]] = {}
        self.stderr: deque[str] = deque(maxlen=5)
        self.dead: HelperError | None = None
        self.stderr_reader: threading.Thread | None = None


class HelperProcess:
    """A helper process running ``python -m module``, started on demand.

    At most :attr:`max_starts` starts in any :attr:`start_window` seconds:
    a helper that dies at once every time (a broken install, a request it
    cannot survive) is not restarted in a loop that would eat a core;
    calls fail with its last error until the window has room again.
    """

    max_starts = 4
    start_window = 60.0

    def __init__(self, module: str, name: str = "") -> None:
        self.module = module
        self.name = name or module
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._running: _Running | None = None
        self._starts: deque[float] = deque()
        self._last_error: HelperError | None = None
        self._on_start: list[dict[str, Any]] = []
        _INSTANCES.add(self)

    @property
    def pid(self) -> int | None:
        """The running helper's process id (None when none runs)."""
        running = self._running
        return running.process.pid if running is not None and running.dead is None else None

    def start(self) -> None:
        """Start the helper if none runs; HelperError if it cannot start."""
        with self._lock:
            self._ensure()

    def on_start(self, request: dict[str, Any]) -> None:
        """Send ``request`` first to every helper from now on, the running one included
        (once each, however often this is called); HelperError if none can be started."""
        with self._lock:
            new = request not in self._on_start
            if new:
                self._on_start.append(dict(request))
            started_before = self._running is not None and self._running.dead is None
            running = self._ensure()
            if new and started_before:  # (a helper started just now got it already)
                self._send_unanswered(running, request)

    def _send_unanswered(self, running: _Running, request: dict[str, Any]) -> None:
        """Write a request whose answer goes to nobody (the reader ignores unknown ids)."""
        line = json.dumps({**request, "id": next(self._ids)}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # one that does not take it shows at the next send
            self._write(running, line.encode() + b"\n")

    def _ensure(self) -> _Running:
        running = self._running
        if running is not None and running.dead is None:
            return running
        now = time.monotonic()
        while self._starts and now - self._starts[0] > self.start_window:
            self._starts.popleft()
        if len(self._starts) >= self.max_starts:
            wait = self.start_window - (now - self._starts[0])
            why = f" (last: {self._last_error})" if self._last_error else ""
            raise HelperError(f"{self.name} keeps ending{why}; not restarted for "
                              f"another {wait:.0f} s")
        self._starts.append(now)
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", self.module],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=PACKAGE_ROOT, env=_helper_env(), start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            self._last_error = HelperError(f"cannot start {self.name}: {exc.strerror or exc}")
            raise self._last_error from None
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)
        running = self._running = _Running(process)
        threading.Thread(target=self._read_answers, args=(running,), daemon=True,
                         name=f"{self.name}-answers").start()
        running.stderr_reader = threading.Thread(
            target=self._read_stderr, args=(running,), daemon=True, name=f"{self.name}-stderr")
        running.stderr_reader.start()
        for request in self._on_start:
            self._send_unanswered(running, request)
        return running

    def send(self, request: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """Send ``request`` (a JSON object); the future gets the helper's answer.

        Raises HelperError if no helper can be started or it does not take
        the request (one that stopped reading is killed).
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            running = self._ensure()
            ident = next(self._ids)
            line = json.dumps({**request, "id": ident}, separators=(",", ":")).encode() + b"\n"
            running.pending[ident] = future
            try:
                self._write(running, line)
            except OSError as exc:
                running.pending.pop(ident, None)
                # given up on now, not when its reader notices: the next call starts another
                self._running = None
                if isinstance(exc, BlockingIOError):  # alive but not reading: killed, and
                    running.dead = HelperError(f"{self.name} stopped reading its requests")
                    self._kill(running)  # its waiting callers are told why
                    raise running.dead from None
                # ending by itself (a broken pipe): its exit status says why, to its callers
                raise HelperError(f"{self.name} does not take requests: "
                                  f"{exc.strerror or type(exc).__name__}") from None
        future.add_done_callback(lambda _done: self._forget(running, ident))
        return future

    async def call(self, request: dict[str, Any], timeout: float) -> Any:
        """The helper's answer to ``request``; HelperError, or TimeoutError after ``timeout``."""
        return await self.wait(self.send(request), timeout)

    @staticmethod
    async def wait(future: concurrent.futures.Future[Any], timeout: float) -> Any:
        """The answer ``future`` (from :meth:`send`) gets; HelperError, or TimeoutError."""
        import asyncio  # here: the console imports this module before anything else

        from core.timeouts import wait_for

        try:
            return await wait_for(asyncio.wrap_future(future), timeout)
        finally:
            future.cancel()  # a late answer is dropped (and the pending entry with it)

    def close(self) -> None:
        """End the helper (it exits when its stdin closes; killed if it lingers)."""
        with self._lock:
            running, self._running = self._running, None
        if running is None:
            return
        with contextlib.suppress(OSError):
            if running.process.stdin is not None:
                running.process.stdin.close()
        try:
            running.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self._kill(running)

    # -- inside -------------------------------------------------------------------

    @staticmethod
    def _write(running: _Running, line: bytes) -> None:
        stdin = running.process.stdin
        if running.dead is not None or stdin is None:
            raise BrokenPipeError(32, "the helper has ended")
        view = memoryview(line)
        while view:
            written = os.write(stdin.fileno(), view)  # BlockingIOError: it stopped reading
            view = view[written:]

    @staticmethod
    def _kill(running: _Running) -> None:
        with contextlib.suppress(OSError):
            running.process.kill()

    def _forget(self, running: _Running, ident: int) -> None:
        with self._lock:
            running.pending.pop(ident, None)

    def _read_stderr(self, running: _Running) -> None:
        stream = running.process.stderr
        assert stream is not None
        with stream:
            for raw in stream:
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    running.stderr.append(text)

    def _read_answers(self, running: _Running) -> None:
        assert running.process.stdout is not None
        try:
            for raw in running.process.stdout:
                try:
                    answer = json.loads(raw)
                    ident = answer.pop("id")
                except (ValueError, AttributeError, KeyError, TypeError):
                    continue  # not an answer (a library printing): ignored
                with self._lock:
                    future = (running.pending.pop(ident, None)
                              if type(ident) is int else None)  # (not a bool)
                if future is not None:
                    _settle(future, answer)
        finally:
            self._retire(running)

    def _retire(self, running: _Running) -> None:
        """The helper's stdout ended: reap it, fail what it owed, close its pipes."""
        try:
            status = running.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill(running)
            status = running.process.wait()
        if status < 0:
            why = f"{self.name} was killed by signal {-status}"
        else:
            why = f"{self.name} exited with status {status}"
        if running.process.stdout is not None:
            with contextlib.suppress(OSError):
                running.process.stdout.close()
        if running.stderr_reader is not None:  # its last line says why, most often
            running.stderr_reader.join(timeout=1)
        last = running.stderr[-1] if running.stderr else ""
        error = HelperError(f"{why}: {last}" if last else why)
        with self._lock:
            error = running.dead = running.dead or error  # (why it was given up on, if it was)
            self._last_error = error
            owed = list(running.pending.values())
            running.pending.clear()
            if self._running is running:
                self._running = None
        with contextlib.suppress(OSError):
            if running.process.stdin is not None:
                running.process.stdin.close()
        for future in owed:
            _settle(future, error=error)
