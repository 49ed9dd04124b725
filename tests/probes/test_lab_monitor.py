"""The monitor's focus against the lab: hosts on screen are refreshed often and
get container CPU/memory; hosts off screen are still watched, less often."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import pytest

from core.config import Config
from core.hosts import Fleet
from core.monitor import Monitor
from core.state import HostState

pytestmark = pytest.mark.lab


def _config(lab_config: Config, refresh: float, background: float) -> Config:
    settings = dataclasses.replace(
        lab_config.settings, refresh_seconds=refresh, background_refresh_seconds=background
    )
    return dataclasses.replace(lab_config, settings=settings)


def _sampled(state: HostState) -> bool:
    """Whether every running container of the snapshot has memory numbers."""
    data = state.containers.data if state.containers is not None else None
    running = [c for c in data or () if c.state == "running"]
    return bool(running) and all(c.memory_bytes is not None for c in running)


async def _until(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_focus_decides_which_hosts_get_container_stats(lab_config: Config) -> None:
    config = _config(lab_config, refresh=2.0, background=30.0)
    states: dict[str, HostState] = {}
    monitor = Monitor(config, Fleet(config), lambda s: states.__setitem__(s.name, s))
    monitor.focus(["web1"])
    await monitor.start()
    try:
        await _until(lambda: "web1" in states and _sampled(states["web1"]), 20)
        await _until(lambda: "web2" in states and states["web2"].containers is not None, 20)
        await asyncio.sleep(3)  # web1 sampled twice meanwhile; web2 must not be sampled at all
        web2 = states["web2"].containers
        assert web2 is not None and web2.data
        assert all(c.memory_bytes is None for c in web2.data), "off-screen host was sampled"

        monitor.focus(["web2"])  # the operator switches to web2: its numbers come at once
        took = await _until(lambda: _sampled(states["web2"]), 10)
        assert took < 5, f"web2's stats took {took:.1f} s after it came on screen"
    finally:
        await monitor.close()


async def test_off_screen_hosts_refresh_at_the_background_rate(lab_config: Config) -> None:
    config = _config(lab_config, refresh=1.0, background=6.0)
    disk_runs: dict[str, set[float]] = {"web1": set(), "web2": set()}

    def seen(state: HostState) -> None:
        if state.disk is not None and state.name in disk_runs:
            disk_runs[state.name].add(state.disk.at)

    monitor = Monitor(config, Fleet(config), seen)
    monitor.focus(["web1"])
    await monitor.start()
    try:
        await _until(lambda: all(disk_runs.values()), 20)
        for runs in disk_runs.values():
            runs.clear()
        await asyncio.sleep(6.5)
        on_screen, off_screen = len(disk_runs["web1"]), len(disk_runs["web2"])
        assert on_screen >= 4, f"web1 (on screen, every 1 s) refreshed {on_screen}× in 6.5 s"
        assert 1 <= off_screen <= 2, f"web2 (off screen, every 6 s) refreshed {off_screen}×"

        disk_runs["web2"].clear()
        monitor.focus(["web2"])  # brought on screen: refreshed now, then every second
        took = await _until(lambda: bool(disk_runs["web2"]), 5)
        assert took < 2, f"web2 was refreshed {took:.1f} s after it came on screen"
    finally:
        await monitor.close()
