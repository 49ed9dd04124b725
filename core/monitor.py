"""Keep every host's state fresh and hand each new snapshot to a listener.

The monitor owns the fleet's probes: one refresh loop per host on the
configured interval, an immediate refresh when a host's link changes, and
a container-events watcher per host so a container that dies shows at once.
It is UI-free: the console turns its callbacks into Textual messages, and
tests or benchmarks can use it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from core.config import Config
from core.hosts import Fleet, Host, LinkEvent
from core.probes.collect import PROBE_FIELDS, HostProbes
from core.state import HostState

SLOW_PROBES: dict[str, float] = {
    "containers": 15.0,  # changes arrive by Docker events at once; this resyncs and samples CPU
    "docker_df": 60.0,
    "certs": 300.0,  # certificates change by the day
    "backups": 60.0,  # backups arrive by the hour
}
"""Seconds between refreshes of probes whose data changes slowly or is pushed."""

CLOSE_TIMEOUT = 3.0
"""Seconds :meth:`Monitor.close` waits for each part to stop."""

StateListener = Callable[[HostState], None]
LinkListener = Callable[[LinkEvent], None]


class Monitor:
    """Refreshes every host of a fleet and reports snapshots and link changes."""

    def __init__(
        self,
        config: Config,
        fleet: Fleet,
        on_state: StateListener,
        on_link: LinkListener | None = None,
    ) -> None:
        self.config = config
        self.fleet = fleet
        self._on_state = on_state
        self._on_link = on_link
        self.probes: dict[str, HostProbes] = {}
        self.states: dict[str, HostState] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Start connecting and refreshing every host."""
        for host in self.fleet:
            host_config = self.config.host(host.name)
            self.probes[host.name] = HostProbes(host, host_config)
            self._wake[host.name] = asyncio.Event()
            self._unsubscribe.append(host.subscribe(self._link_changed))
        await self.fleet.start()
        for host in self.fleet:
            self._tasks.append(asyncio.create_task(self._loop(host), name=f"refresh:{host.name}"))
            self._tasks.append(
                asyncio.create_task(self._watch_containers(host), name=f"events:{host.name}")
            )

    def _link_changed(self, event: LinkEvent) -> None:
        if self._on_link is not None:
            self._on_link(event)
        wake = self._wake.get(event.host)
        if wake is not None:
            wake.set()

    def refresh_now(self, host: str | None = None) -> None:
        """Ask for an immediate refresh of one host (or every host)."""
        for name, wake in self._wake.items():
            if host is None or name == host:
                wake.set()

    def _publish(self, state: HostState) -> None:
        self.states[state.name] = state
        self._on_state(state)

    async def _loop(self, host: Host) -> None:
        probes = self.probes[host.name]
        wake = self._wake[host.name]
        interval = self.config.settings.refresh_seconds
        last: dict[str, float] = {}
        woken = True
        while True:
            wake.clear()
            now = time.monotonic()
            due = tuple(
                field for field in PROBE_FIELDS
                if woken or now - last.get(field, -1e9) >= max(interval, SLOW_PROBES.get(field, 0))
            )
            for field in due:
                last[field] = now
            self._publish(await probes.refresh(only=due))
            woken = False
            try:
                await asyncio.wait_for(wake.wait(), interval)
                woken = True  # a link change or an explicit refresh: everything, now
            except TimeoutError:
                pass

    async def _watch_containers(self, host: Host) -> None:
        probes = self.probes[host.name]
        async for state in probes.watch_containers():
            self._publish(state)

    async def close(self) -> None:
        """Stop every loop, close probes and hosts; nothing is left running."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: quitting must never hang on a stuck reader
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT)
        self._tasks.clear()
        for probes in self.probes.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probes.close(), CLOSE_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.fleet.close(), CLOSE_TIMEOUT)
