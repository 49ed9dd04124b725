"""Run a host's probes together: :class:`HostProbes` and :func:`collect_host`.

:class:`HostProbes` builds the probes a host's config asks for and keeps
them between refreshes (so CPU % has a previous sample, the database
connection stays open, the Docker API version stays negotiated).  A refresh
runs every probe concurrently, each under a time limit, and never raises:
whatever fails is a :class:`~core.state.ProbeResult` with a status and a
reason.  A probe the config does not ask for is ``NOT_CONFIGURED``.

When the host's link is down, every probe that needs it answers HOST_DOWN
with the host's reason at once.  Probes that run from the console (TLS
handshakes, console-side HTTP checks, the backup bucket) still look: they
tell whether the site is down too, or only the SSH link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from core.config import HostConfig
from core.hosts.base import Host, LinkState, wait_settled
from core.probes.backups import BackupsProbe
from core.probes.base import Probe, ProbeError, guarded, host_is_up, not_configured
from core.probes.certs import CertsProbe
from core.probes.containers import ContainersProbe
from core.probes.disk import DirUsage, DiskProbe, largest_dirs
from core.probes.dockerapi import DockerClient, DockerError
from core.probes.dockerdf import DockerDfProbe
from core.probes.endpoints import EndpointsProbe
from core.probes.logs import LogLine, follow_container, follow_file
from core.probes.postgres import PostgresProbe
from core.probes.system import SystemProbe
from core.state import PROBE_FIELDS, HostState, ProbeResult, ProbeStatus
from core.timeouts import wait_for

WARROOM_STREAM = "warroom"
"""The stream name of lines warroom adds to a log (why a stream ended)."""


class HostProbes:
    """Every probe of one host, kept between refreshes."""

    def __init__(
        self,
        host: Host,
        config: HostConfig,
        *,
        timeout: float = 20.0,
        connect_wait: float = 3.0,
        container_stats: bool = True,
        wait_for_stats: bool = False,
    ) -> None:
        self.host = host
        self.config = config
        self.timeout = timeout
        self.connect_wait = connect_wait
        self._closed = False
        self.docker: DockerClient | None = None
        self.containers: ContainersProbe | None = None
        self.docker_df: DockerDfProbe | None = None
        if config.docker is not None:
            self.docker = DockerClient(host, config.docker.socket)
            self.containers = ContainersProbe(
                host, self.docker, stats=container_stats, wait_for_stats=wait_for_stats
            )
            self.docker_df = DockerDfProbe(host, self.docker)
        self.disk = DiskProbe(host, config.disks)
        self.system = SystemProbe(host)
        self.postgres = PostgresProbe(host, config.postgres) if config.postgres else None
        files = config.certs.files if config.certs is not None else ()
        self.certs = (
            CertsProbe(host, config.tls, files)
            if (config.tls or files) else None
        )
        self.endpoints = EndpointsProbe(host, config.endpoints) if config.endpoints else None
        self.backups = BackupsProbe(config.backup) if config.backup is not None else None
        self._state = HostState(config.name, reachable=False, reason="not refreshed yet")

    @property
    def name(self) -> str:
        """The host's name."""
        return self.config.name

    @property
    def state(self) -> HostState:
        """The latest HostState (every probe's latest result)."""
        return self._state

    def probes(self) -> dict[str, Probe | None]:
        """Every probe by HostState field (None where the config asks for none)."""
        return {
            "containers": self.containers,
            "docker_df": self.docker_df,
            "disk": self.disk,
            "system": self.system,
            "postgres": self.postgres,
            "certs": self.certs,
            "endpoints": self.endpoints,
            "backups": self.backups,
        }

    def set_container_stats(self, enabled: bool) -> None:
        """Sample container CPU and memory on this host, or stop (see ContainersProbe.set_stats)."""
        if self.containers is not None:
            self.containers.set_stats(enabled)

    def _probe(self, field: str) -> Probe | None:
        return self.probes()[field]

    async def _settle(self) -> None:
        """Start the host if nobody has, and give a first connection a moment to settle."""
        if self._closed:
            return
        if self.host.state in (LinkState.CLOSED, LinkState.CONNECTING):
            await wait_settled(self.host, self.connect_wait)

    def _needs_link(self, field: str) -> bool:
        """Whether a probe runs through the SSH link (console-side ones start at once)."""
        if field == "backups":
            return False
        if field == "endpoints":
            return any(e.side != "console" for e in self.config.endpoints)
        return True  # certs too: its files are read over the link

    async def _settled(self, probe: Probe) -> ProbeResult[Any]:
        await self._settle()
        return await probe.collect()

    def _link(self, state: HostState) -> HostState:
        up = host_is_up(self.host)
        reason = "" if up else (self.host.reason or f"link {self.host.state.value}")
        return replace(state, reachable=up, reason=reason)

    async def refresh_each(
        self, only: tuple[str, ...] | None = None
    ) -> AsyncIterator[HostState]:
        """Refresh every probe (or those named in ``only``) concurrently.

        Yields an updated HostState each time one probe finishes, so a pane
        fills as soon as its data is there; the last item is the complete state.
        """
        fields = [f for f in PROBE_FIELDS if only is None or f in only]
        jobs: dict[asyncio.Task[ProbeResult[Any]], str] = {}
        for field in fields:
            probe = self._probe(field)
            if probe is None:
                self._state = _with(self._state, field, not_configured(field))
                continue
            collect = self._settled(probe) if self._needs_link(field) else probe.collect()
            task = asyncio.create_task(guarded(field, collect, self.timeout))
            jobs[task] = field
        if not jobs:
            await self._settle()
            yield self._link(self._state)
            return
        try:
            pending = set(jobs)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    result = task.result()
                    if jobs[task] == "containers" and result.ok and self.containers is not None:
                        # events may have landed since the collect ended: show the newest
                        result = replace(result, data=self.containers.snapshot())
                    self._state = _with(self._state, jobs[task], result)
                yield self._link(self._state)
        finally:
            for task in jobs:
                task.cancel()
        self._state = self._link(self._state)

    async def refresh(self, only: tuple[str, ...] | None = None) -> HostState:
        """Refresh every probe (or those in ``only``) and return the complete HostState."""
        async for _ in self.refresh_each(only):
            pass
        return self._state

    async def watch_containers(self) -> AsyncIterator[HostState]:
        """HostStates pushed by Docker events: one after each container state change.

        Follows :meth:`ContainersProbe.watch` (a full resync first and after
        every reconnect) and merges each snapshot into :attr:`state`.  Ends
        at once when the host has no Docker configured.
        """
        if self.containers is None:
            return
        async for result in self.containers.watch():
            self._state = self._link(replace(self._state, containers=result))
            yield self._state

    # -- actions and on-demand views (the UI routes changes through Actions.call) --

    def _containers(self) -> ContainersProbe:
        if self.containers is None:
            raise ProbeError(ProbeStatus.NOT_CONFIGURED, f"no docker configured on {self.name}")
        return self.containers

    async def container_action(self, container_id: str, verb: str) -> int:
        """``start``, ``stop`` or ``restart`` a container; 0 on success, raises on failure."""
        probe = self._containers()
        if verb == "start":
            return await probe.start(container_id)
        if verb == "stop":
            return await probe.stop(container_id)
        if verb == "restart":
            return await probe.restart(container_id)
        raise ValueError(f"unknown container action {verb!r} (start, stop or restart)")

    async def inspect_container(self, container_id: str) -> str:
        """``docker inspect`` of a container as indented JSON text (or why it failed)."""
        try:
            info = await self._containers().inspect(container_id)
        except (ProbeError, DockerError) as exc:
            return f"cannot inspect {container_id}: {getattr(exc, 'reason', None) or exc}"
        return json.dumps(info, indent=2, sort_keys=True)

    async def backend_action(self, pid: int, verb: str) -> int:
        """``cancel`` or ``terminate`` a PostgreSQL backend; 0 if it was signalled, else 1."""
        if self.postgres is None:
            raise ProbeError(ProbeStatus.NOT_CONFIGURED, f"no postgres configured on {self.name}")
        if verb == "cancel":
            return await self.postgres.cancel_backend(pid)
        if verb == "terminate":
            return await self.postgres.terminate_backend(pid)
        raise ValueError(f"unknown backend action {verb!r} (cancel or terminate)")

    async def container_log_batches(
        self, container_id: str, tail: int = 200, since: float | None = None
    ) -> AsyncIterator[list[LogLine]]:
        """A container's log lines in batches (as read), then new ones as they come.

        Never raises: when the stream cannot start or breaks, a last batch of
        one line on the ``"warroom"`` stream says why, and the iteration ends.
        """
        try:
            if self.docker is None:
                raise ProbeError(
                    ProbeStatus.NOT_CONFIGURED, f"no docker configured on {self.name}"
                )
            async for batch in follow_container(
                self.docker, container_id, tail=tail, since=since
            ):
                yield batch
        except (ProbeError, DockerError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            yield [LogLine(WARROOM_STREAM, f"log stream failed: {reason}")]

    async def log_file_batches(self, path: str, tail: int = 200) -> AsyncIterator[list[LogLine]]:
        """A host log file's lines (``tail -F``) in batches; never raises (as above)."""
        try:
            async for batch in follow_file(self.host, path, tail=tail):
                yield batch
        except ProbeError as exc:
            yield [LogLine(WARROOM_STREAM, f"log stream failed: {exc.reason}")]

    async def follow_container_logs(
        self, container_id: str, tail: int = 200, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        """:meth:`container_log_batches` one line (``(stream, text)``) at a time."""
        async for batch in self.container_log_batches(container_id, tail, since):
            for line in batch:
                yield line

    async def largest_dirs(self, path: str, n: int = 10) -> ProbeResult[tuple[DirUsage, ...]]:
        """The ``n`` largest directories under ``path`` on this host (``du -x``)."""
        return await largest_dirs(self.host, path, n)

    async def close(self) -> None:
        """Close every probe's connections and clients (not the host itself)."""
        self._closed = True
        closers: list[Callable[[], Awaitable[None]]] = []
        for field in PROBE_FIELDS:
            probe = self._probe(field)
            if probe is not None:
                closers.append(probe.close)
        if self.docker is not None:
            closers.append(self.docker.close)
        for close in closers:
            with contextlib.suppress(Exception):
                await wait_for(close(), 5)


def _with(state: HostState, field: str, result: ProbeResult[Any]) -> HostState:
    changes: dict[str, Any] = {field: result}
    return replace(state, **changes)


async def collect_host(
    host: Host, config: HostConfig, *, timeout: float = 20.0, connect_wait: float = 3.0
) -> HostState:
    """Refresh one host once with fresh probes (for ``warroom check``); never raises."""
    probes = HostProbes(
        host, config, timeout=timeout, connect_wait=connect_wait, wait_for_stats=True
    )
    try:
        return await probes.refresh()
    finally:
        await probes.close()


def fleet_probes(fleet: Any) -> dict[str, HostProbes]:
    """A HostProbes per host of a :class:`~core.hosts.Fleet`, by host name."""
    return {host.name: HostProbes(host, fleet.config.host(host.name)) for host in fleet}
