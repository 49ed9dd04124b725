"""Container probes against the lab's real Docker engines, reached over SSH."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from core.config import Config, HostConfig
from core.hosts import Fleet
from core.hosts.ssh import SshHost
from core.probes.collect import HostProbes
from core.probes.logs import LogBuffer, follow_container, follow_file, pump
from core.state import PROBE_FIELDS, HostState, ProbeStatus
from tests.conftest import lab_sh
from tests.probes.conftest import (
    DOCKER_B,
    Watcher,
    adocker,
    container_state,
    containers,
    docker,
    find,
    restore_healthy,
)

pytestmark = pytest.mark.lab

FLAKY = "shop-flaky-1"


async def test_killed_container_shows_within_one_second(web1: HostProbes) -> None:
    assert container_state(FLAKY)["Status"] == "running"
    try:
        async with Watcher(web1) as watcher:
            _, first = await watcher.wait(lambda s: find(s, FLAKY) is not None, timeout=10)
            flaky = find(first, FLAKY)
            assert flaky is not None and flaky.state == "running" and flaky.exit_code is None
            started = time.monotonic()
            await adocker("kill", FLAKY)

            def died(state: HostState) -> bool:
                c = find(state, FLAKY)
                return c is not None and c.state == "exited" and c.exit_code == 137

            seen_at, state = await watcher.wait(died, timeout=5, after=started)
            elapsed = seen_at - started
            print(f"kill → exited 137 in the snapshot: {elapsed * 1000:.0f} ms")
            assert elapsed < 1.0, f"the kill showed after {elapsed:.2f} s"
            dead = find(state, FLAKY)
            assert dead is not None and dead.finished_at is not None
            assert dead.status_text.startswith("Exited (137)")
    finally:
        restore_healthy(FLAKY)


async def test_health_check_turning_unhealthy_shows(web1: HostProbes) -> None:
    try:
        async with Watcher(web1) as watcher:
            await watcher.wait(
                lambda s: getattr(find(s, FLAKY), "health", "") == "healthy", timeout=15
            )
            started = time.monotonic()
            await adocker("exec", FLAKY, "rm", "/www/health")
            _, state = await watcher.wait(
                lambda s: getattr(find(s, FLAKY), "health", "") == "unhealthy",
                timeout=15,
                after=started,
            )
            flaky = find(state, FLAKY)
            assert flaky is not None and flaky.state == "running"
            assert "unhealthy" in flaky.status_text
            # the console-side health endpoint sees it too (busybox httpd: 404)
            result = await web1.refresh(only=("endpoints",))
            assert result.endpoints is not None and result.endpoints.data is not None
            check = next(c for c in result.endpoints.data if c.name == "flaky")
            assert not check.up and check.status_code == 404
    finally:
        restore_healthy(FLAKY)


async def test_collect_lists_every_container_with_details(web1: HostProbes) -> None:
    state = await web1.refresh(only=("containers", "docker_df"))
    timings = []
    for _ in range(3):  # the engine answers one-shot stats at its next 1 s tick: not awaited
        started = time.monotonic()
        await web1.refresh(only=("containers",))
        timings.append(time.monotonic() - started)
    assert min(timings) < 0.8, f"listing took {timings} s (stats must not hold a refresh)"
    assert state.containers is not None and state.containers.ok, state.containers
    names = {c.name: c for c in state.containers.data or ()}
    for service in ("api", "worker", "proxy", "hostile", "flaky"):
        c = names[f"shop-{service}-1"]
        assert (c.project, c.service, c.state) == ("shop", service, "running")
        assert c.image == "warroom-lab/busybox:1"
        assert c.started_at is not None and c.started_at < time.time()
    api = names["shop-api-1"]
    assert api.health == "healthy"
    assert [(p.container_port, p.host_ip, p.host_port) for p in api.ports] == [
        (80, "127.0.0.1", 18081)
    ]
    assert names["shop-worker-1"].health == ""
    assert state.docker_df is not None and state.docker_df.ok
    assert state.docker_df.data is not None and state.docker_df.data.images_bytes > 0

    def measured(s: HostState) -> bool:
        shop = [c for c in containers(s) if c.project == "shop"]
        return bool(shop) and all(
            c.memory_bytes is not None and c.cpu_percent is not None for c in shop
        )

    # CPU and memory follow within a few seconds through the watcher
    async with Watcher(web1) as watcher:
        _, measured_state = await watcher.wait(measured, timeout=6)
    for c in containers(measured_state):
        if c.project == "shop":
            assert c.memory_bytes is not None and c.memory_bytes > 0
            assert c.cpu_percent is not None and 0 <= c.cpu_percent < 200
    # a one-shot user (warroom check) can wait for the numbers instead
    one_shot = HostProbes(web1.host, web1.config, wait_for_stats=True)
    try:
        waited = await one_shot.refresh(only=("containers",))
    finally:
        await one_shot.close()
    assert waited.containers is not None and waited.containers.data is not None
    assert all(c.memory_bytes for c in waited.containers.data if c.state == "running")


async def test_hosts_show_their_own_containers(web1: HostProbes, web2: HostProbes) -> None:
    one, two = await asyncio.gather(
        web1.refresh(only=("containers",)), web2.refresh(only=("containers",))
    )
    assert one.name == "web1" and two.name == "web2"
    names1 = {c.name for c in (one.containers.data if one.containers else None) or ()}
    names2 = {c.name for c in (two.containers.data if two.containers else None) or ()}
    assert {"shop-api-1", "shop-flaky-1"} <= names1
    assert {"blog-web-1", "blog-cron-1", "blog-db-backup-1"} <= names2
    assert not names1 & names2
    assert two.containers is not None and two.containers.data is not None
    backup = next(c for c in two.containers.data if c.name == "blog-db-backup-1")
    assert (backup.project, backup.state, backup.exit_code) == ("blog", "exited", 0)
    expected = docker("ps", "-a", "--format", "{{.Names}}", engine=DOCKER_B).split()
    assert names2 == set(expected)


async def test_container_actions_restart(web1: HostProbes) -> None:
    worker = "shop-worker-1"
    before = container_state(worker)
    try:
        assert await web1.container_action(worker, "restart") == 0
        after = container_state(worker)
        assert after["Status"] == "running" and after["StartedAt"] != before["StartedAt"]
        text = await web1.inspect_container(worker)
        assert '"Name": "/shop-worker-1"' in text
        with pytest.raises(ValueError):
            await web1.container_action(worker, "explode")
    finally:
        if container_state(worker)["Status"] != "running":
            docker("start", worker)


async def test_container_logs_are_demultiplexed(web1: HostProbes) -> None:
    assert web1.docker is not None
    buffer = LogBuffer(maxlen=500)
    source = follow_container(web1.docker, "shop-hostile-1", tail=40, follow=False)
    assert await pump(source, buffer) == ""
    lines = buffer.lines()
    streams = {line.stream for line in lines}
    assert streams == {"stdout", "stderr"}
    texts = [line.text for line in lines]
    # nothing is stripped or interpreted: escapes and the bare \r stay as sent
    assert any("\x1b]52;c;aGVsbG8=\x07" in t for t in texts)
    assert any("\rprogress 100% (bare CR)" in t for t in texts)
    stderr = [line.text for line in lines if line.stream == "stderr"]
    assert stderr and all(t.startswith("stderr: ") for t in stderr)


async def test_a_large_log_arrives_whole_and_in_order(web1: HostProbes) -> None:
    """100,000 stdout lines and 200 stderr lines read in bulk reads over SSH: none lost."""
    assert web1.docker is not None
    name = "wr-test-many-lines"
    docker("rm", "-f", name, check=False)
    docker("run", "-d", "--name", name, "warroom-lab/busybox:1", "sh", "-c",
           "seq 1 100000; seq 1 200 >&2")
    try:
        docker("wait", name)
        buffer = LogBuffer(maxlen=200_000)
        source = follow_container(web1.docker, name, tail="all", follow=False)
        assert await pump(source, buffer) == ""
        stdout = [line.text for line in buffer.lines() if line.stream == "stdout"]
        stderr = [line.text for line in buffer.lines() if line.stream == "stderr"]
        assert stdout == [str(i) for i in range(1, 100_001)]
        assert stderr == [str(i) for i in range(1, 201)]
    finally:
        docker("rm", "-f", name, check=False)


async def test_follow_container_logs_yields_new_lines(web1: HostProbes) -> None:
    seen: list[str] = []

    async def consume() -> None:
        async for stream, text in web1.follow_container_logs("shop-worker-1", tail=0):
            assert stream == "stdout"
            seen.append(text)
            if len(seen) >= 3:
                return

    await asyncio.wait_for(consume(), 10)  # the worker logs a line every 0.5 s
    assert all(" worker job=" in line for line in seen)
    failed = [line async for line in web1.follow_container_logs("no-such-container")]
    assert len(failed) == 1 and failed[0].stream == "warroom"
    assert "No such container" in failed[0].text


async def test_follow_host_log_file(web1: HostProbes, tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "access.log"
    path.write_text("GET / 200\nGET /x 404\n")
    got = []
    async for batch in follow_file(web1.host, str(path), tail=10, follow=False):
        got.extend(batch)
    assert [line.text for line in got] == ["GET / 200", "GET /x 404"]
    assert {line.stream for line in got} == {"file"}


async def test_unreachable_host_reports_host_down_quickly(lab_host: HostConfig) -> None:
    config = HostConfig(
        name="gone",
        address="127.0.0.9",
        port=1,
        user="root",
        identity_file=lab_host.identity_file,
        known_hosts=lab_host.known_hosts,
        connect_timeout=2,
        docker=lab_host.docker,
        postgres=lab_host.postgres,
        disks=lab_host.disks,
        certs=lab_host.certs,
    )
    host = SshHost(config)
    probes = HostProbes(host, config, connect_wait=2)
    try:
        started = time.monotonic()
        state = await probes.refresh()
        elapsed = time.monotonic() - started
        assert elapsed < 4, f"refresh took {elapsed:.1f} s"
        assert not state.reachable and state.reason
        for field in PROBE_FIELDS:
            result = getattr(state, field)
            if field in ("endpoints", "backups"):
                assert result.status is ProbeStatus.NOT_CONFIGURED
                continue
            assert result.status is ProbeStatus.HOST_DOWN, (field, result)
            assert "gone" in result.reason and "refused" in result.reason
        # the actions say so too, without raising anything but ProbeError-like failures
        text = await probes.inspect_container("x")
        assert "host gone is" in text
    finally:
        await probes.close()
        await host.close()


async def test_watcher_resyncs_after_the_host_comes_back(
    fleet: Fleet, lab_config: Config, restore_lab_host: list[str]
) -> None:
    probes = HostProbes(fleet["web2"], lab_config.host("web2"))
    try:
        async with Watcher(probes) as watcher:
            await watcher.wait(lambda s: s.containers is not None and s.containers.ok, 10)
            restore_lab_host.append("web2")
            lab_sh("host-kill", "web2")
            killed = time.monotonic()
            _, down = await watcher.wait(
                lambda s: s.containers is not None and not s.containers.ok, 15, after=killed
            )
            assert down.containers is not None
            assert down.containers.status in (ProbeStatus.HOST_DOWN, ProbeStatus.UNREACHABLE)
            assert down.containers.reason
            # a refresh meanwhile answers HOST_DOWN at once
            started = time.monotonic()
            state = await probes.refresh()
            assert time.monotonic() - started < 2
            assert state.system is not None and state.system.status is ProbeStatus.HOST_DOWN
            lab_sh("host-start", "web2")
            restore_lab_host.remove("web2")
            back = time.monotonic()
            _, again = await watcher.wait(
                lambda s: s.containers is not None and s.containers.ok, 40, after=back
            )
            assert find(again, "blog-web-1") is not None
    finally:
        await probes.close()


async def test_wrong_docker_socket_is_reported_not_raised(lab_host: HostConfig) -> None:
    assert lab_host.docker is not None
    config = dataclasses.replace(
        lab_host, docker=dataclasses.replace(lab_host.docker, socket="/run/no-docker.sock")
    )
    host = SshHost(config)
    probes = HostProbes(host, config)
    try:
        state = await probes.refresh(only=("containers",))
        assert state.reachable, state.reason
        assert state.containers is not None
        assert state.containers.status is ProbeStatus.UNREACHABLE
        assert "no Docker socket at /run/no-docker.sock on web1" in state.containers.reason
        lines = [line async for line in probes.follow_container_logs("shop-api-1")]
        assert len(lines) == 1 and "no Docker socket" in lines[0].text
    finally:
        await probes.close()
        await host.close()


async def test_docker_df_of_several_consoles_at_once_all_answer(
    fleet: Fleet, lab_config: Config
) -> None:
    """The engine computes one `system df` at a time and refuses the others; each waits."""
    consoles = [HostProbes(fleet["web1"], lab_config.host("web1")) for _ in range(4)]
    try:
        results = await asyncio.gather(*(c.refresh(only=("docker_df",)) for c in consoles))
        for state in results:
            assert state.docker_df is not None
            assert state.docker_df.ok, state.docker_df.reason
    finally:
        for c in consoles:
            await c.close()
