"""core/stepwise.py: work done a step at a time, at once or one step per loop turn."""

from __future__ import annotations

import asyncio

from core.stepwise import Steps, finish, finish_between


def _count_to(n: int, seen: list[int]) -> Steps[int]:
    for i in range(n):
        seen.append(i)
        yield
    return n * 10


def test_finish_runs_every_step_and_returns_the_result() -> None:
    seen: list[int] = []
    assert finish(_count_to(3, seen)) == 30
    assert seen == [0, 1, 2]


async def test_finish_between_lets_the_loop_turn_between_steps() -> None:
    seen: list[int] = []
    ticks: list[int] = []

    async def ticker() -> None:
        for _ in range(5):
            ticks.append(len(seen))  # how far the steps were when the loop got here
            await asyncio.sleep(0)

    result, _ = await asyncio.gather(finish_between(_count_to(4, seen)), ticker())
    assert result == 40 and seen == [0, 1, 2, 3]
    assert ticks[:4] == [1, 2, 3, 4]  # one step per turn, the ticker between them
