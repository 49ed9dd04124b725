"""Identical console-side checks, run once for every host asking at the same time.

Several hosts often name the same thing seen from the console: the public
health URL behind a load balancer, the site's TLS endpoint, the one backup
bucket.  The answer does not depend on which host asked, so while one such
check runs, :class:`Coalescer` has every other caller with the same key wait
for it instead of starting another (at launch every host asks at once).  A
result is never reused after its check ended: the next ask runs it again.
A caller that is cancelled (its probe timed out) does not cancel the check
the others await.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Coalescer:
    """At most one running check per key; concurrent callers share its result."""

    def __init__(self) -> None:
        self._running: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, check: Callable[[], Awaitable[T]]) -> T:
        """The result of the running check for ``key``, or of a new ``check()``.

        An exception ``check`` raises reaches every caller waiting for it.
        """
        slot = (id(asyncio.get_running_loop()), key)  # futures belong to one event loop
        running = self._running.get(slot)
        if running is None:
            running = asyncio.ensure_future(check())
            self._running[slot] = running
            running.add_done_callback(lambda done: self._finished(slot, done))
        result: T = await asyncio.shield(running)
        return result

    def _finished(self, slot: tuple[int, Hashable], done: asyncio.Future[Any]) -> None:
        if self._running.get(slot) is done:
            del self._running[slot]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning when all callers left


CONSOLE_CHECKS = Coalescer()
"""The process's coalescer for console-side TLS, HTTP and bucket checks."""
