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
from collections.abc import Callable, Iterable

from core.config import Config
from core.hosts import Fleet, Host, LinkEvent, LinkState
from core.probes import workers
from core.probes.collect import HostProbes
from core.state import PROBE_FIELDS, HostState, ProbeStatus
from core.timeouts import wait_for

SLOW_PROBES: dict[str, float] = {
    "containers": 15.0,  # changes arrive by Docker events at once; this resyncs and samples CPU
    "docker_df": 60.0,
    "certs": 300.0,  # certificates change by the day
    "backups": 60.0,  # backups arrive by the hour
}
"""Seconds between refreshes of probes whose data changes slowly or is pushed."""

BACKGROUND_SLOW_PROBES: dict[str, float] = {
    **SLOW_PROBES,
    "containers": 60.0,  # off screen: no stats to sample, events keep the list current
}
"""The same, for hosts not in focus (see :meth:`Monitor.focus`)."""

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
        self._focus: frozenset[str] | None = None
        self._refocused: set[str] = set()
        self._redo: set[str] = set()  # hosts whose refresh under way must not count as current
        # (a refresh_now was asked for, or the link was lost, since it began)
        self._closed = False

    async def connect(self) -> None:
        """Start connecting every host (link changes are reported from now on).

        A console calls this first and :meth:`start` once its screen is up:
        the SSH handshakes run while the screen is built, and the probes'
        work does not hold back the first paint.  Meanwhile the
        console-checks worker process starts (and imports psycopg if some
        host has PostgreSQL).
        """
        if self.probes or self._closed:
            return
        workers.start_for(self.config)
        for host in self.fleet:
            host_config = self.config.host(host.name)
            self.probes[host.name] = probes = HostProbes(host, host_config)
            probes.set_container_stats(self.in_focus(host.name))
            self._wake[host.name] = asyncio.Event()
            self._unsubscribe.append(host.subscribe(self._link_changed))
        await self.fleet.start()

    async def start(self) -> None:
        """Start connecting (if :meth:`connect` has not) and refreshing every host.

        Does nothing once :meth:`close` ran (a console that quit before its
        first paint must not start loops nobody stops).
        """
        if self._closed or self._tasks:
            return
        await self.connect()
        if self._closed:
            return
        for host in self.fleet:
            self._tasks.append(asyncio.create_task(self._loop(host), name=f"refresh:{host.name}"))
            self._tasks.append(
                asyncio.create_task(self._watch_containers(host), name=f"events:{host.name}")
            )

    def _link_changed(self, event: LinkEvent) -> None:
        if self._on_link is not None:
            self._on_link(event)
        if event.state not in (LinkState.UP, LinkState.CONNECTING):
            self._redo.add(event.host)
        wake = self._wake.get(event.host)
        if wake is not None:
            wake.set()

    def focus(self, hosts: Iterable[str] | None) -> None:
        """The hosts on screen (None: every host); they get the full refresh rate.

        Hosts in focus are refreshed every ``refresh_seconds`` and their
        containers' CPU and memory are sampled.  The others are still watched
        for incidents: container changes arrive by events at once, polled
        probes run every ``background_refresh_seconds``, and container stats
        (a request per container, display only) are not sampled.  A host
        that comes into focus is refreshed at once.
        """
        before = self._focus
        self._focus = None if hosts is None else frozenset(hosts)
        for name, probes in self.probes.items():
            shown = self.in_focus(name)
            probes.set_container_stats(shown)
            if shown and before is not None and name not in before:
                self._refocused.add(name)  # refresh what is due at the faster rate, now
                self._wake[name].set()

    def in_focus(self, host: str) -> bool:
        """Whether ``host`` is one the console shows (see :meth:`focus`)."""
        return self._focus is None or host in self._focus

    def interval(self, host: str) -> float:
        """Seconds between refreshes of ``host``'s polled probes."""
        settings = self.config.settings
        if self.in_focus(host):
            return settings.refresh_seconds
        return max(settings.refresh_seconds, settings.background_refresh_seconds)

    def refresh_now(self, host: str | None = None) -> None:
        """Ask for an immediate refresh of one host (or every host)."""
        for name, wake in self._wake.items():
            if host is None or name == host:
                self._redo.add(name)
                wake.set()

    def _publish(self, state: HostState) -> None:
        self.states[state.name] = state
        self._on_state(state)

    async def _loop(self, host: Host) -> None:
        probes = self.probes[host.name]
        wake = self._wake[host.name]
        last: dict[str, float] = {}
        # the events watcher lists and inspects the containers as soon as its stream is
        # open (no event can slip in between); the first refresh leaves that to it
        left_to_watcher = {"containers"} if probes.containers is not None else set()
        woken = True
        while True:
            wake.clear()
            interval = self.interval(host.name)
            slow = SLOW_PROBES if self.in_focus(host.name) else BACKGROUND_SLOW_PROBES
            now = time.monotonic()
            for field in left_to_watcher:
                last[field] = now
            due = tuple(
                field for field in PROBE_FIELDS
                if field not in left_to_watcher
                and (woken or now - last.get(field, -1e9) >= max(interval, slow.get(field, 0)))
            )
            left_to_watcher = set()
            for field in due:
                last[field] = now
            self._redo.discard(host.name)
            state = await probes.refresh(only=due)
            self._publish(state)
            if wake.is_set() and self._current(host, state, due):
                wake.clear()  # the link came up while these probes waited for it: nothing to redo
            woken = False
            try:
                await wait_for(wake.wait(), interval)
                # a link change or an explicit refresh: everything, now; a host
                # just brought on screen: what is due at its new rate
                woken = host.name not in self._refocused
            except TimeoutError:
                pass
            self._refocused.discard(host.name)

    def _current(self, host: Host, state: HostState, due: tuple[str, ...]) -> bool:
        """Whether a refresh's results still hold after the link events that woke the loop.

        At start-up every probe waits for the link to come up, and the link
        coming up wakes the loop; refreshing again at once would do the
        whole start-up's work twice.  Not when a refresh was asked for, the
        link was lost meanwhile, or a probe saw the host down.
        """
        if host.name in self._redo or host.name in self._refocused:
            return False  # asked for, or the link was lost meanwhile: not (only) the link up
        if not (state.reachable and host.state is LinkState.UP):
            return False
        results = (getattr(state, field) for field in due)
        return all(r is None or r.status is not ProbeStatus.HOST_DOWN for r in results)

    async def _watch_containers(self, host: Host) -> None:
        probes = self.probes[host.name]
        async for state in probes.watch_containers():
            self._publish(state)

    async def close(self) -> None:
        """Stop every loop, close probes and hosts; nothing is left running."""
        self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: quitting must never hang on a stuck reader
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT)
        self._tasks.clear()
        for probes in self.probes.values():
            with contextlib.suppress(Exception):
                await wait_for(probes.close(), CLOSE_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await wait_for(self.fleet.close(), CLOSE_TIMEOUT)
