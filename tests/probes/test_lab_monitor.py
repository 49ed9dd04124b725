"""The monitor's focus against the lab: hosts on screen are refreshed often and
get container CPU/memory; hosts off screen are still watched, less often."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from core.config import Config
from core.hosts import Fleet
from core.monitor import Monitor
from core.state import HostState
from tests.tui.waiting import until

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


async def test_focus_decides_which_hosts_get_container_stats(lab_config: Config) -> None:
    config = _config(lab_config, refresh=2.0, background=30.0)
    states: dict[str, HostState] = {}
    monitor = Monitor(config, Fleet(config), lambda s: states.__setitem__(s.name, s))
    monitor.focus(["web1"])
    await monitor.start()
    try:
        await until(lambda: "web1" in states and _sampled(states["web1"]), 20)
        await until(lambda: "web2" in states and states["web2"].containers is not None, 20)
        await asyncio.sleep(3)  # web1 sampled twice meanwhile; web2 must not be sampled at all
        web2 = states["web2"].containers
        assert web2 is not None and web2.data
        assert all(c.memory_bytes is None for c in web2.data), "off-screen host was sampled"

        monitor.focus(["web2"])  # the operator switches to web2: its numbers come at once
        took = await until(lambda: _sampled(states["web2"]), 10)
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
        await until(lambda: all(disk_runs.values()), 20)
        for runs in disk_runs.values():
            runs.clear()
        await asyncio.sleep(6.5)
        on_screen, off_screen = len(disk_runs["web1"]), len(disk_runs["web2"])
        assert on_screen >= 4, f"web1 (on screen, every 1 s) refreshed {on_screen}× in 6.5 s"
        assert 1 <= off_screen <= 2, f"web2 (off screen, every 6 s) refreshed {off_screen}×"

        disk_runs["web2"].clear()
        monitor.focus(["web2"])  # brought on screen: refreshed now, then every second
        took = await until(lambda: bool(disk_runs["web2"]), 5)
        assert took < 2, f"web2 was refreshed {took:.1f} s after it came on screen"
    finally:
        await monitor.close()


def _count_requests(monitor: Monitor, seen: dict[str, list[str]]) -> None:
    """Record every Docker API request of each host's probes in ``seen`` (host -> paths)."""
    for name, probes in monitor.probes.items():
        docker = probes.docker
        assert docker is not None
        original = docker.request

        async def request(method: str, path: str, *, _name: str = name,
                          _original: Callable[..., object] = original, **kwargs: object) -> object:
            seen.setdefault(_name, []).append(f"{method} {path}")
            return await _original(method, path, **kwargs)  # type: ignore[misc]

        docker.request = request  # type: ignore[method-assign]


async def test_start_up_does_its_work_once(lab_config: Config) -> None:
    """Probes wait for the link, and the link coming up must not refresh everything again;
    the containers are listed and inspected once, by the events watcher's first resync."""
    config = _config(lab_config, refresh=30.0, background=30.0)
    config = dataclasses.replace(config, hosts=[lab_config.host("web1")])
    states: dict[str, HostState] = {}
    monitor = Monitor(config, Fleet(config), lambda s: states.__setitem__(s.name, s))
    original_start = monitor.fleet.start
    requests: dict[str, list[str]] = {}

    async def start() -> None:  # the probes exist now; count before anything is sent
        _count_requests(monitor, requests)
        await original_start()

    monitor.fleet.start = start  # type: ignore[method-assign]
    await monitor.start()
    try:
        await until(lambda: "web1" in states and states["web1"].postgres is not None, 20)
        await asyncio.sleep(2)  # a second refresh, if any, would be under way by now
        paths = requests.get("web1", [])
        listed = [p for p in paths if p.endswith("/containers/json")]
        inspected = [p for p in paths if p.startswith("GET") and p.endswith("/json")
                     and "/containers/" in p and not p.endswith("/containers/json")]
        data = states["web1"].containers.data if states["web1"].containers else None
        assert data, "no containers"
        assert [p for p in paths if p.endswith("/system/df")] == ["GET /system/df"]
        assert len(listed) == 1, listed  # the watcher's resync, once its stream is open
        assert len(inspected) == len(data), (len(inspected), len(data))

        def listings() -> int:
            return len([p for p in requests["web1"] if p.endswith("/containers/json")])

        before = listings()
        monitor.refresh_now("web1")  # asked for: refreshed again, containers included
        await until(lambda: listings() > before, 10)
    finally:
        await monitor.close()
