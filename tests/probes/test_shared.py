"""Coalescing identical console-side checks (pure logic: the check is a counter)."""

from __future__ import annotations

import asyncio

import pytest

from core.probes.shared import Coalescer


class Check:
    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.runs += 1
        await self.release.wait()
        return self.runs


async def test_callers_asking_at_once_share_one_run_and_later_ones_run_again() -> None:
    coalescer, check = Coalescer(), Check()
    waiting = [asyncio.create_task(coalescer.run("tls:ok", check)) for _ in range(10)]
    other = asyncio.create_task(coalescer.run("tls:expired", check))
    await asyncio.sleep(0.01)
    assert check.runs == 2  # one per key
    check.release.set()
    results = await asyncio.gather(*waiting)
    assert len(set(results)) == 1 and results[0] in (1, 2)
    await other
    assert await coalescer.run("tls:ok", check) == 3  # ended checks are not reused


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    coalescer, check = Coalescer(), Check()
    first = asyncio.create_task(coalescer.run("k", check))
    second = asyncio.create_task(coalescer.run("k", check))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    check.release.set()
    assert await second == 1
    assert first.cancelled()


async def test_an_exception_reaches_every_waiter_and_is_not_kept() -> None:
    coalescer = Coalescer()
    calls = 0

    async def broken() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise OSError("boom")

    results = await asyncio.gather(
        *(coalescer.run("k", broken) for _ in range(3)), return_exceptions=True
    )
    assert calls == 1 and all(isinstance(r, OSError) for r in results)
    with pytest.raises(OSError):
        await coalescer.run("k", broken)
    assert calls == 2
