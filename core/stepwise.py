"""Work done a step at a time: a generator that yields between steps and returns its result.

An event loop runs one step per turn, so the work never holds it for long
(a thread would instead hold up the loop at each of its system calls,
waiting for the interpreter lock): :func:`finish_between`.  Anything else
runs it at once with :func:`finish`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TypeVar, cast

T = TypeVar("T")

Steps = Generator[None, None, T]
"""Work that yields between steps and returns a ``T``."""


def finish(steps: Steps[T]) -> T:
    """Run ``steps`` to its end at once; what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(T, done.value)


async def finish_between(steps: Steps[T]) -> T:
    """Run ``steps`` one per turn of the running event loop; what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(T, done.value)
        await asyncio.sleep(0)
