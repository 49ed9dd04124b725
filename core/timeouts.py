"""``wait_for`` without Python 3.11's inner task.

``asyncio.wait_for`` on 3.11 runs what it waits for in a task of its own;
when a cancellation arrives as the time runs out, that inner task can be
left pending and the waiting task stuck "cancelling" for ever (seen here as
a monitor loop that kept ``asyncio.run`` from returning at shutdown).  3.12
rewrote ``wait_for`` on :func:`asyncio.timeout`; this is that, for 3.11.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:
    """Await ``awaitable`` in this task; TimeoutError after ``timeout`` seconds (None: never)."""
    async with asyncio.timeout(timeout):
        return await awaitable
