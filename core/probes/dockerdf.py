"""``docker system df`` through the Engine API (``GET /system/df``).

The engine computes container sizes for this call, which can take a while
on a busy host, so the probe answers from its last result while that is
younger than ``max_age`` seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

from core.hosts.base import Host
from core.probes.base import ProbeError, failed, host_down, host_is_up, ok
from core.probes.dockerapi import DockerClient, DockerError
from core.state import DockerDiskUsage, ProbeResult, ProbeStatus

ACTIVE_STATES = ("running", "paused", "restarting")


def _size(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return number if number > 0 else 0


def parse_system_df(body: Mapping[str, Any]) -> DockerDiskUsage:
    """Totals and reclaimable bytes, computed the way the ``docker`` CLI does."""
    images = body.get("Images") or []
    layers = _size(body.get("LayersSize")) or sum(
        _size(i.get("Size")) - _size(i.get("SharedSize")) for i in images
    )
    images_used = sum(
        _size(i.get("Size")) - _size(i.get("SharedSize"))
        for i in images
        if i.get("Containers") and _size(i.get("Size")) and i.get("SharedSize", 0) != -1
    )
    containers = body.get("Containers") or []
    containers_bytes = sum(_size(c.get("SizeRw")) for c in containers)
    containers_reclaimable = sum(
        _size(c.get("SizeRw"))
        for c in containers
        if str(c.get("State", "")).lower() not in ACTIVE_STATES
    )
    volumes = body.get("Volumes") or []
    volumes_bytes = sum(_size((v.get("UsageData") or {}).get("Size")) for v in volumes)
    volumes_reclaimable = sum(
        _size((v.get("UsageData") or {}).get("Size"))
        for v in volumes
        if (v.get("UsageData") or {}).get("RefCount", 1) == 0
    )
    cache = [b for b in body.get("BuildCache") or [] if not b.get("Shared")]
    cache_bytes = sum(_size(b.get("Size")) for b in cache)
    cache_reclaimable = sum(_size(b.get("Size")) for b in cache if not b.get("InUse"))
    return DockerDiskUsage(
        images_bytes=layers,
        images_reclaimable=max(0, layers - images_used),
        containers_bytes=containers_bytes,
        containers_reclaimable=containers_reclaimable,
        volumes_bytes=volumes_bytes,
        volumes_reclaimable=volumes_reclaimable,
        build_cache_bytes=cache_bytes,
        build_cache_reclaimable=cache_reclaimable,
    )


BUSY_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
"""Seconds to wait before each retry when the engine is busy with another df.

A df takes milliseconds on a quiet engine and seconds on a loaded one, so
the waits start short and double; each is jittered (half to all of it) so
consoles or host entries that collided do not collide again in step."""


class DockerDfProbe:
    """Disk used by images, containers, volumes and build cache on one engine."""

    name = "docker_df"

    def __init__(
        self, host: Host, docker: DockerClient, *, max_age: float = 30.0, timeout: float = 30.0
    ) -> None:
        self.host = host
        self.docker = docker
        self.max_age = max_age
        self.timeout = timeout
        self._last: ProbeResult[DockerDiskUsage] | None = None
        self._last_at = 0.0

    async def collect(self) -> ProbeResult[DockerDiskUsage]:
        """The engine's disk use (cached for ``max_age`` seconds); never raises."""
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        if self._last is not None and time.monotonic() - self._last_at < self.max_age:
            return self._last
        for attempt in range(len(BUSY_WAITS) + 1):
            try:
                body = await self.docker.get_json("/system/df", timeout=self.timeout)
                break
            except DockerError as exc:
                # the engine computes one df at a time and refuses a second meanwhile
                # (another console, another host entry on the same engine): wait for it
                if "already running" in exc.message and attempt < len(BUSY_WAITS):
                    await asyncio.sleep(BUSY_WAITS[attempt] * random.uniform(0.5, 1.0))
                    continue
                return failed(self.name, ProbeStatus.ERROR, str(exc))
            except ProbeError as exc:
                return failed(self.name, exc.status, exc.reason)
        result = ok(self.name, parse_system_df(body))
        self._last, self._last_at = result, time.monotonic()
        return result

    async def close(self) -> None:
        """Nothing of its own to close (the DockerClient is shared)."""
