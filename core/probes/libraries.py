"""Third-party libraries only some probes need, imported off the event loop.

psycopg, boto3 and httpx's transport take about 0.3 s of imports between
them (more on a slow machine), and the system trust store for the HTTP
checks another 50 ms.  Nothing before the first probe needs them, so the
probe modules import them inside the functions that use them, after
:func:`loaded`, and :func:`start_loading` imports them in one worker thread
while the console builds its screen and the SSH handshakes run (see
``Monitor.connect``).  A console thus shows its screen that much sooner,
and the imports fill the time the event loop spends waiting for the hosts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from core.probes.certs import default_tls_context

LIBRARIES: dict[str, tuple[str, ...]] = {
    "httpx": ("httpx", "httpcore"),  # httpx imports its transport only when a client is made
    "psycopg": ("psycopg",),
    "boto3": ("boto3", "botocore.config", "botocore.exceptions"),
}
"""What each library name stands for, in the order the worker imports them."""

_futures: dict[str, concurrent.futures.Future[None]] = {}
_lock = threading.Lock()


def _trust_store() -> None:
    default_tls_context()  # loads the system CAs once; the HTTP checks' client reuses it


AFTER: dict[str, Callable[[], None]] = {"httpx": _trust_store}
"""What to prepare once a library is imported."""


def _load(futures: dict[str, concurrent.futures.Future[None]]) -> None:
    for name, future in futures.items():
        try:
            for module in LIBRARIES[name]:
                importlib.import_module(module)
            if name in AFTER:
                AFTER[name]()
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
