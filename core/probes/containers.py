"""The containers probe: every container of a host's Docker Engine, kept live.

:meth:`ContainersProbe.collect` lists all containers (``/containers/json?all=1``),
inspects the ones that are new or changed, and samples CPU and memory of
the running ones with one-shot stats, concurrently.

Stats are sampled in the background: the engine answers a one-shot request
at its next 1-second collection tick, so waiting for them would hold every
refresh for up to a second.  A collect returns at once with the latest
CPU and memory known, starts a new sample, and :meth:`watch` yields a
fresh snapshot when it lands.  CPU % needs two samples (a one-shot answer
has no ``precpu``): a container seen for the first time is sampled twice,
a tick apart; after that, each sample is compared with the previous one.

:meth:`ContainersProbe.watch` follows ``/events`` and yields a fresh snapshot
as soon as a container dies, starts, stops, restarts, turns (un)healthy, is
OOM-killed or is removed; when the stream breaks (engine restart, SSH
reconnect) it reconnects and resyncs in full.  Every container of the engine
is shown, whatever its compose project; ``project`` lets a pane group them.

The actions (:meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`inspect`)
are plain async methods; the UI routes the changing ones through
``core.audit.Actions.call`` for read-only refusal and auditing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from core.hosts.base import Host
from core.probes.base import (
    ProbeError,
    describe_exception,
    failed,
    host_down,
    host_is_up,
    ok,
)
from core.probes.dockerapi import DockerClient, DockerError, container_path, version_tuple
from core.probes.dockerparse import (
    CpuSample,
    apply_event,
    container_from_inspect,
    cpu_percent,
    cpu_sample,
    event_action,
    event_container_id,
    list_signature,
    memory_usage,
)
from core.probes.httpstream import json_lines
from core.state import Container, ProbeResult, ProbeStatus

STATE_EVENTS = frozenset(
    {
        "create", "start", "restart", "die", "stop", "oom", "pause", "unpause",
        "rename", "update", "health_status",
    }
)
"""Container event actions after which the container is inspected again."""

FULL_INSPECT_SECONDS = 300.0
"""Every container is re-inspected at least this often, events or not.

Changes arrive by ``/events`` and show in the list's state and status (its
signature), so this only guards against a missed event; each inspect is a
round trip through the SSH connection, so it is rare."""


# -- the probe ---------------------------------------------------------------------

_STATS_DONE = object()
_STREAM_END = object()


class ContainersProbe:
    """Containers of one Docker Engine, with live state, health and resource use."""

    name = "containers"

    def __init__(
        self,
        host: Host,
        docker: DockerClient,
        *,
        stats: bool = True,
        wait_for_stats: bool = False,
        stats_concurrency: int = 8,
        stats_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.docker = docker
        self.stats = stats
        self.wait_for_stats = wait_for_stats
        self._stats_slots = asyncio.Semaphore(stats_concurrency)
        self._stats_timeout = stats_timeout
        self._stats_task: asyncio.Task[None] | None = None
        self._inspected: dict[str, tuple[str, float]] = {}  # id -> (signature, when)
        self._containers: dict[str, Container] = {}
        self._cpu: dict[str, CpuSample] = {}
        self._listeners: set[asyncio.Queue[Any]] = set()
        self._syncing = asyncio.Lock()  # one list-and-inspect at a time (a watcher's resync
        # and a periodic collect may overlap)

    # -- snapshots -----------------------------------------------------------------

    def snapshot(self) -> tuple[Container, ...]:
        """The containers as last seen, grouped by project, then by name."""
        return tuple(sorted(self._containers.values(), key=lambda c: (c.project, c.name)))

    async def collect(self) -> ProbeResult[tuple[Container, ...]]:
        """List, inspect what changed, start a stats sample; never raises.

        With ``wait_for_stats`` (one-shot users such as ``warroom check``)
        the stats sample is awaited, so memory is filled in the answer.
        """
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        try:
            async with self._syncing:
                await self._sync()
        except asyncio.CancelledError:
            raise
        except DockerError as exc:
            return failed(self.name, ProbeStatus.ERROR, str(exc))
        except Exception as exc:
            status, reason = describe_exception(exc)
            return failed(self.name, status, reason)
        if self.stats:
            task = self._start_stats(twice=not self.wait_for_stats)
            if self.wait_for_stats:
                await asyncio.shield(task)
        return ok(self.name, self.snapshot())

    async def _sync(self) -> None:
        known_before = set(self._containers)
        listing = await self.docker.get_json("/containers/json", {"all": "1"})
        now = time.monotonic()
        seen: set[str] = set()
        stale: list[str] = []
        for item in listing:
            cid = str(item.get("Id", ""))
            seen.add(cid)
            signature = list_signature(item)
            known = self._inspected.get(cid)
            if (
                known is None
                or known[0] != signature
                or now - known[1] > FULL_INSPECT_SECONDS
                or cid not in self._containers
            ):
                stale.append(cid)
                self._inspected[cid] = (signature, now)
        for cid in known_before:
            if cid not in seen:
                self._forget(cid)
        await asyncio.gather(*(self._refresh_one(cid) for cid in stale))

    def _forget(self, cid: str) -> None:
        self._containers.pop(cid, None)
        self._inspected.pop(cid, None)
        self._cpu.pop(cid, None)

    async def _refresh_one(self, cid: str) -> Container | None:
        """Inspect one container and update the snapshot (None if it is gone)."""
        try:
            info = await self.docker.get_json(container_path(cid, "/json"))
        except DockerError as exc:
            if exc.status == 404:
                self._forget(cid)
                return None
            raise
        fresh = container_from_inspect(info)
        old = self._containers.get(cid)
        if old is not None and fresh.state == "running" == old.state:
            fresh = replace(
                fresh,
                cpu_percent=old.cpu_percent,
                memory_bytes=old.memory_bytes,
                memory_limit=old.memory_limit,
            )
        if fresh.state != "running":
            self._cpu.pop(cid, None)
        self._containers[cid] = fresh
        return fresh

    # -- stats -----------------------------------------------------------------------

    def set_stats(self, enabled: bool) -> None:
        """Sample CPU and memory (or stop sampling them) from now on.

        Stats cost the engine and the SSH link a request per running
        container, so a console samples only the hosts it shows.  Turning
        them on starts a sample at once (twice for containers without a
        previous one); turning them off keeps the last numbers.
        """
        if enabled == self.stats:
            return
        self.stats = enabled
        if enabled and self._containers and host_is_up(self.host):
            self._start_stats(twice=True)

    def _start_stats(self, twice: bool) -> asyncio.Task[None]:
        if self._stats_task is None or self._stats_task.done():
            self._stats_task = asyncio.create_task(
                self._sample_stats(twice), name=f"stats:{self.host.name}"
            )
        return self._stats_task

    async def _sample_stats(self, twice: bool) -> None:
        running = [c.id for c in self._containers.values() if c.state == "running"]
        first_time = [cid for cid in running if cid not in self._cpu]
        await asyncio.gather(*(self._stats_one(cid) for cid in running))
        self._notify()
        if twice and first_time:  # a second sample a tick later gives their CPU %
            await asyncio.gather(*(self._stats_one(cid) for cid in first_time))
            self._notify()

    def _notify(self) -> None:
        for queue in self._listeners:
            queue.put_nowait(_STATS_DONE)

    async def _stats_one(self, cid: str) -> None:
        try:
            async with self._stats_slots, asyncio.timeout(self._stats_timeout):
                stats = await self._fetch_stats(cid)
        except asyncio.CancelledError:
            raise
        except Exception:  # numbers are display only: this sample is skipped, the next may do
            return
        current = cpu_sample(stats)
        previous = cpu_sample(stats, "precpu_stats") or self._cpu.get(cid)
        cpu = cpu_percent(current, previous) if current is not None else None
        if current is not None:
            self._cpu[cid] = current
        used, limit = memory_usage(stats)
        container = self._containers.get(cid)
        if container is not None and container.state == "running":
            self._containers[cid] = replace(
                container,
                cpu_percent=cpu if cpu is not None else container.cpu_percent,
                memory_bytes=used,
                memory_limit=limit,
            )

    async def _fetch_stats(self, cid: str) -> Mapping[str, Any]:
        if version_tuple(self.docker.api_version or "0") >= (1, 41):
            params = {"stream": "false", "one-shot": "true"}
            return dict(await self.docker.get_json(container_path(cid, "/stats"), params))
        # before API 1.41 there is no one-shot: read the first sample of a stream
        async with self.docker.stream(container_path(cid, "/stats"), {"stream": "true"}) as resp:
            async for record in json_lines(resp.pieces):
                return dict(record)
        return {}

    # -- events ----------------------------------------------------------------------

    async def watch(self, retry_seconds: float = 1.0) -> AsyncIterator[ProbeResult[Any]]:
        """Follow ``/events``: yield a full snapshot after every container state change.

        The first item is a full resync; a snapshot also follows each stats
        sample.  After the stream breaks, one failed result says why, then
        the watcher reconnects (every ``retry_seconds`` while the host is
        down) and yields a full resync again.  Runs until the consumer stops.
        """
        # only the actions that matter: health checks alone fire exec_* events every interval
        events = sorted(STATE_EVENTS | {"destroy"})
        params = {"filters": json.dumps({"type": ["container"], "event": events})}
        last_failure = ""
        while True:
            if not host_is_up(self.host):
                result = host_down(self.name, self.host)
                if result.reason != last_failure:
                    last_failure = result.reason
                    yield result
                await self.host.wait_up(retry_seconds)
                continue
            queue: asyncio.Queue[Any] = asyncio.Queue()
            self._listeners.add(queue)
            try:
                async with self.docker.stream("/events", params) as response:
                    reader = asyncio.create_task(_read_events(response.pieces, queue))
                    try:
                        self._inspected.clear()  # the stream is open: resync everything
                        last_failure = ""
                        yield await self.collect()
                        while True:
                            item = await queue.get()
                            if item is _STATS_DONE:
                                yield ok(self.name, self.snapshot())
                            elif item is _STREAM_END:
                                raise ProbeError(ProbeStatus.UNREACHABLE, "event stream ended")
                            elif isinstance(item, BaseException):
                                raise item
                            else:
                                if self._apply_event_at_once(item):
                                    yield ok(self.name, self.snapshot())
                                if await self._apply_event(item):
                                    yield ok(self.name, self.snapshot())
                    finally:
                        reader.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await reader
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = await self.docker.stream_failed(exc)
                await self.docker.reset()
                if error.reason != last_failure:
                    last_failure = error.reason
                    yield failed(self.name, error.status, error.reason, self.snapshot())
                await asyncio.sleep(retry_seconds)
            finally:
                self._listeners.discard(queue)

    def _apply_event_at_once(self, event: Mapping[str, Any]) -> bool:
        """Apply what the event itself says (no round trip); True if that changed something."""
        cid = event_container_id(event)
        known = self._containers.get(cid)
        if known is None or str(event.get("Type", "container")) != "container":
            return False
        updated = apply_event(known, event)
        if updated == known:
            return False
        self._containers[cid] = updated
        return True

    async def _apply_event(self, event: Mapping[str, Any]) -> bool:
        """Update the snapshot for one event; True when something visible changed."""
        if str(event.get("Type", "container")) != "container":
            return False
        action = event_action(event)
        cid = event_container_id(event)
        if not cid:
            return False
        if action == "destroy":
            existed = cid in self._containers
            self._forget(cid)
            return existed
        if action not in STATE_EVENTS:
            return False
        before = self._containers.get(cid)
        was_running = before is not None and before.state == "running"
        try:
            after = await self._refresh_one(cid)
        except DockerError:
            return False
        self._inspected[cid] = ("", time.monotonic())  # re-inspect at the next collect
        if after is not None and after.state == "running" and not (
            was_running and action != "start"
        ):
            self._start_stats(twice=True)  # a started container gets its numbers soon
        return after != before

    # -- actions -----------------------------------------------------------------------

    async def start(self, container_id: str) -> int:
        """Start a container; returns 0 (raises :class:`DockerError` or ProbeError)."""
        await self.docker.post(container_path(container_id, "/start"), timeout=30)
        return 0

    async def stop(self, container_id: str, grace_seconds: int = 10) -> int:
        """Stop a container (SIGTERM, then SIGKILL after ``grace_seconds``); returns 0."""
        await self.docker.post(
            container_path(container_id, "/stop"),
            {"t": str(grace_seconds)},
            timeout=grace_seconds + 30,
        )
        return 0

    async def restart(self, container_id: str, grace_seconds: int = 10) -> int:
        """Restart a container; returns 0."""
        await self.docker.post(
            container_path(container_id, "/restart"),
            {"t": str(grace_seconds)},
            timeout=grace_seconds + 30,
        )
        return 0

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """The raw ``docker inspect`` JSON of a container."""
        return dict(await self.docker.get_json(container_path(container_id, "/json")))

    def find(self, name_or_id: str) -> Container | None:
        """A container of the last snapshot by name, full id or id prefix."""
        for container in self._containers.values():
            if container.name == name_or_id or container.id == name_or_id:
                return container
        matches = [c for c in self._containers.values() if c.id.startswith(name_or_id)]
        return matches[0] if len(matches) == 1 else None

    async def close(self) -> None:
        """Stop a running stats sample (the DockerClient is shared, not closed here)."""
        task, self._stats_task = self._stats_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _read_events(pieces: AsyncIterator[bytes], queue: asyncio.Queue[Any]) -> None:
    """Move ``/events`` records into ``queue``; then an end marker or the error."""
    try:
        async for record in json_lines(pieces):
            queue.put_nowait(record)
        queue.put_nowait(_STREAM_END)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        queue.put_nowait(exc)
