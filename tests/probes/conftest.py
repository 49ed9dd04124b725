"""Fixtures for the probe tests: the lab fleet, per-host probes, and lab helpers.

Helpers that break something in the lab (kill a container, remove a health
file) have a matching restore helper; tests call it in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.config import Config
from core.hosts import Fleet
from core.probes.collect import HostProbes
from core.state import Container, HostState

DOCKER_A = "unix:///var/run/docker.sock"
DOCKER_B = "unix:///run/warroom-lab/docker-b.sock"


def docker(*args: str, engine: str = DOCKER_A, check: bool = True) -> str:
    """Run the docker CLI against a lab engine; returns stdout."""
    proc = subprocess.run(
        ["docker", "-H", engine, *args], capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout


async def adocker(*args: str, engine: str = DOCKER_A) -> str:
    """The docker CLI without blocking the event loop (probes keep running meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        "docker", "-H", engine, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"docker {' '.join(args)}: {err.decode()}"
    return out.decode()


def container_state(name: str, engine: str = DOCKER_A) -> dict[str, Any]:
    """``docker inspect``'s State of a container."""
    return dict(json.loads(docker("inspect", "-f", "{{json .State}}", name, engine=engine)))


def restore_healthy(name: str, engine: str = DOCKER_A, timeout: float = 60) -> None:
    """Put a lab container back as the lab made it: running, /www/health there, healthy."""
    end = time.monotonic() + timeout
    while True:
        state = container_state(name, engine)
        if state["Status"] in ("exited", "created", "dead"):
            docker("start", name, engine=engine, check=False)
        elif state["Status"] == "paused":
            docker("unpause", name, engine=engine, check=False)
        elif state["Status"] == "running":
            docker(
                "exec", name, "sh", "-c", "test -f /www/health || echo ok > /www/health",
                engine=engine, check=False,
            )
            if (state.get("Health") or {}).get("Status") == "healthy":
                return
        if time.monotonic() > end:
            raise AssertionError(f"{name} did not come back healthy: {state}")
        time.sleep(0.2)


def containers(state: HostState) -> tuple[Container, ...]:
    """The containers of a HostState (empty when the probe had none)."""
    if state.containers is None or state.containers.data is None:
        return ()
    return tuple(state.containers.data)


def find(state: HostState, name: str) -> Container | None:
    """A container of a HostState by name."""
    if state.containers is None or state.containers.data is None:
        return None
    return next((c for c in state.containers.data if c.name == name), None)


class Watcher:
    """Consumes :meth:`HostProbes.watch_containers` in a task and remembers every state."""

    def __init__(self, probes: HostProbes) -> None:
        self.probes = probes
        self.seen: list[tuple[float, HostState]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async for state in self.probes.watch_containers():
            self.seen.append((time.monotonic(), state))
            self._changed.set()

    async def wait(
        self, predicate: Callable[[HostState], bool], timeout: float, after: float = 0.0
    ) -> tuple[float, HostState]:
        """The first state received after ``after`` (monotonic) for which ``predicate`` holds."""
        end = time.monotonic() + timeout
        index = 0
        while True:
            while index < len(self.seen):
                at, state = self.seen[index]
                index += 1
                if at >= after and predicate(state):
                    return at, state
            remaining = end - time.monotonic()
            if remaining <= 0:
                last = self.seen[-1][1] if self.seen else None
                raise AssertionError(f"no matching state within {timeout} s; last: {last}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


@pytest.fixture
async def fleet(lab_config: Config) -> AsyncIterator[Fleet]:
    """The lab's hosts, connected."""
    hosts = Fleet(lab_config)
    await hosts.start()
    try:
        for host in hosts:
            assert await host.wait_up(20), f"{host.name}: {host.reason}"
        yield hosts
    finally:
        await hosts.close()


@pytest.fixture
async def web1(fleet: Fleet, lab_config: Config) -> AsyncIterator[HostProbes]:
    """Probes of lab host web1 (engine A, project shop, PostgreSQL, TLS, S3, disk)."""
    probes = HostProbes(fleet["web1"], lab_config.host("web1"))
    yield probes
    await probes.close()


@pytest.fixture
async def web2(fleet: Fleet, lab_config: Config) -> AsyncIterator[HostProbes]:
    """Probes of lab host web2 (engine B, project blog)."""
    probes = HostProbes(fleet["web2"], lab_config.host("web2"))
    yield probes
    await probes.close()
