"""Third-party libraries the console needs only now and then, imported off the event loop.

psycopg takes about 0.15 s to import (more on a slow machine).  The
PostgreSQL probe runs it in the console-checks worker
(:mod:`core.probes.pg_session`); in the console itself only a runbook's SQL
step needs it, so that code imports it inside the function that does, after
:func:`loaded` (which imports it in a worker thread the first time).  The
console-side checks' libraries (botocore, httpx) load in the worker too
(:mod:`core.probes.workers`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import sys
import threading
from typing import Any

LIBRARIES: dict[str, tuple[str, ...]] = {
    "psycopg": ("psycopg",),
}
"""What each library name stands for, in the order the worker imports them."""

_futures: dict[str, concurrent.futures.Future[None]] = {}
_lock = threading.Lock()


def _load(futures: dict[str, concurrent.futures.Future[None]]) -> None:
    for name, future in futures.items():
        try:
            for module in LIBRARIES[name]:
                importlib.import_module(module)
        except BaseException as exc:  # handed to whoever waits; a missing library is theirs
            future.set_exception(exc)
        else:
            future.set_result(None)


def start_loading() -> None:
    """Start importing every library in a worker thread (once per process)."""
    with _lock:
        todo = {name: concurrent.futures.Future[None]() for name in LIBRARIES
                if name not in _futures}
        if not todo:
            return
        for future in todo.values():  # running: a waiter that is cancelled cannot cancel it
            future.set_running_or_notify_cancel()
        _futures.update(todo)
    # not a daemon: an interpreter that exits mid-import waits for it instead of
    # tearing modules down under it (the whole import takes well under a second)
    worker = threading.Thread(target=_load, args=(todo,), name="warroom-libraries")
    try:
        worker.start()
    except RuntimeError as exc:  # no thread to be had: the waiters must not wait forever
        for future in todo.values():
            future.set_exception(exc)


def if_loaded(module: str) -> Any:
    """Module ``module`` if something imported it, else None.

    For code that classifies an error: an exception cannot be one of a
    library's own if the library never loaded, so there is nothing to import.
    """
    return sys.modules.get(module)


def _seen(waiting: asyncio.Future[None]) -> None:
    """Mark a failure as seen, so asyncio does not log it when no waiter is left."""
    if not waiting.cancelled():
        waiting.exception()


async def loaded(name: str) -> None:
    """Return once library ``name`` (a key of :data:`LIBRARIES`) is imported.

    Starts the worker if nobody has; raises ImportError naming what the
    import raised (a library that is not installed, say), a new one each
    time: probes ask again on every refresh.
    """
    future = _futures.get(name)
    if future is None:
        start_loading()
        future = _futures[name]
    if not future.done():  # wait without raising: the stored error would grow a traceback
        waiting = asyncio.wrap_future(future)
        waiting.add_done_callback(_seen)
        await asyncio.wait([waiting])
    failure = future.exception()
    if failure is not None:
        raise ImportError(f"cannot load {name}: {failure}") from None
