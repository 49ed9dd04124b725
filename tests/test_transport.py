"""The SSH and local transports against the lab's real sshd instances."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from core.audit import Actions, AuditLog, ReadOnlyRefusal
from core.config import Config, HostConfig
from core.hosts import Fleet, LinkEvent, LinkState
from core.hosts.hostkeys import HostKeyPolicy
from core.hosts.local import LocalHost
from core.hosts.ssh import READ_CHUNK, SshHost
from tests.conftest import LAB, host_variant, lab_sh

pytestmark = pytest.mark.lab


async def _up(host: SshHost, timeout: float = 15) -> SshHost:
    await host.start()
    assert await host.wait_up(timeout), f"{host.name} not up: {host.reason}"
    return host


async def test_two_hosts_run_commands_with_status_and_stderr(lab_config: Config) -> None:
    fleet = Fleet(lab_config)
    try:
        await fleet.start()
        web1, web2 = fleet["web1"], fleet["web2"]
        ok = await web1.run("echo out; echo err >&2; exit 7")
        assert (ok.exit_status, ok.stdout, ok.stderr) == (7, "out\n", "err\n")
        assert ok.duration > 0 and not ok.error
        # Each host is really its own sshd: the server sees a different local address.
        a1 = await web1.run(["sh", "-c", "echo $SSH_CONNECTION"])
        a2 = await web2.run(["sh", "-c", "echo $SSH_CONNECTION"])
        assert a1.stdout.split()[2] == "127.0.0.2"
        assert a2.stdout.split()[2] == "127.0.0.3"
        missing = await web2.run(["ls", "/definitely/not/here"])
        assert missing.exit_status == 2 and "No such file" in missing.stderr
    finally:
        await fleet.close()


async def test_timeout_is_reported_not_raised(lab_host: HostConfig) -> None:
    host = await _up(SshHost(lab_host))
    try:
        result = await host.run("sleep 5", timeout=0.5)
        assert result.exit_status is None and "timed out" in result.error
        assert (await host.run("true")).ok  # the connection is still usable
    finally:
        await host.close()


async def test_unknown_host_key_is_refused_with_fingerprint(lab_host: HostConfig) -> None:
    empty = str(LAB / ".state" / "known_hosts.empty")
    host = SshHost(host_variant(lab_host, known_hosts=empty), backoff_first=5)
    try:
        await host.start()
        assert not await host.wait_up(3)
        assert host.state in (LinkState.DOWN, LinkState.RECONNECTING)
        assert "unknown host key" in host.reason
        assert "SHA256:" in host.reason
        result = await host.run("true", timeout=1)
        assert not result.ok and "SHA256:" in result.error
    finally:
        await host.close()
    assert Path(empty).read_text() == ""  # nothing was learned


async def test_changed_host_key_is_refused(lab_host: HostConfig) -> None:
    wrong = str(LAB / ".state" / "known_hosts.wrong")
    host = SshHost(host_variant(lab_host, known_hosts=wrong), backoff_first=5)
    try:
        await host.start()
        assert not await host.wait_up(3)
        assert "HOST KEY CHANGED" in host.reason and "SHA256:" in host.reason
    finally:
        await host.close()


async def test_an_edited_known_hosts_takes_effect_at_the_next_connect(
    lab_host: HostConfig, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_bytes((LAB / ".state" / "known_hosts.wrong").read_bytes())
    config = host_variant(lab_host, known_hosts=str(known))
    policy, other = HostKeyPolicy(config), HostKeyPolicy(host_variant(config, name="web9"))
    assert policy.known_hosts() is other.known_hosts()  # one file, parsed once
    host = SshHost(config, backoff_first=0.3, backoff_cap=0.3)
    try:
        await host.start()
        assert not await host.wait_up(2)
        assert "HOST KEY CHANGED" in host.reason
        known.write_bytes((LAB / ".state" / "known_hosts").read_bytes())  # the fix
        assert await host.wait_up(10), host.reason
    finally:
        await host.close()
    assert policy.known_hosts() is HostKeyPolicy(config).known_hosts()  # the edit, parsed once


async def test_trust_on_first_use_only_when_configured(
    lab_host: HostConfig, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    host = SshHost(host_variant(lab_host, known_hosts=str(known), trust_on_first_use=True))
    try:
        await _up(host)
        assert (await host.run("true")).ok
    finally:
        await host.close()
    assert known.read_text().startswith("127.0.0.2 ssh-ed25519 ")
    # The learned key is now pinned: the next connection works without TOFU.
    again = SshHost(host_variant(lab_host, known_hosts=str(known)))
    try:
        await _up(again)
    finally:
        await again.close()


async def test_dead_host_reported_within_15s_and_reconnects(
    lab_config: Config, restore_lab_host: list[str]
) -> None:
    host = await _up(SshHost(lab_config.host("web2"), backoff_cap=2))
    events: list[LinkEvent] = []
    host.subscribe(events.append)
    try:
        stream = await host.stream(["sh", "-c", "while :; do echo tick; sleep 0.2; done"])
        lines: list[str] = []

        async def consume() -> None:
            async for line in stream:
                lines.append(line)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(1)
        assert lines, "the stream produced nothing"
        restore_lab_host.append("web2")
        lab_sh("host-freeze", "web2")  # a hung host: no FIN, only keepalives can tell
        frozen_at = time.monotonic()
        while host.state is LinkState.UP and time.monotonic() - frozen_at < 20:
            await asyncio.sleep(0.2)
        noticed = time.monotonic() - frozen_at
        assert host.state is not LinkState.UP
        assert noticed <= 15, f"took {noticed:.1f} s to notice"
        await asyncio.wait_for(consumer, 5)  # the stream ended without raising
        assert stream.exit_status is None

        lab_sh("host-kill", "web2")
        lab_sh("host-start", "web2")
        assert await host.wait_up(20), f"did not reconnect: {host.reason}"
        assert (await host.run("echo back")).stdout == "back\n"
        states = [e.state for e in events]
        assert LinkState.DOWN in states and LinkState.RECONNECTING in states
        assert states[-1] is LinkState.UP
    finally:
        await host.close()


async def test_killed_sshd_is_noticed_and_reconnected(
    lab_config: Config, restore_lab_host: list[str]
) -> None:
    host = await _up(SshHost(lab_config.host("web2"), backoff_cap=1))
    try:
        restore_lab_host.append("web2")
        lab_sh("host-kill", "web2")
        result = await host.run("true", timeout=3)
        assert not result.ok
        deadline = time.monotonic() + 15
        while host.state is LinkState.UP and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert host.state is not LinkState.UP
        assert host.reason
        lab_sh("host-start", "web2")
        assert await host.wait_up(20)
    finally:
        await host.close()


async def test_twenty_concurrent_commands_share_one_connection(lab_host: HostConfig) -> None:
    host = await _up(SshHost(lab_host))
    try:
        results = await asyncio.gather(
            *(host.run(["sh", "-c", f"sleep 0.3; echo {i}"]) for i in range(20))
        )
        assert [r.exit_status for r in results] == [0] * 20
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(20)]
    finally:
        await host.close()


async def test_a_large_output_arrives_whole_in_bounded_socket_reads(lab_host: HostConfig) -> None:
    """Reads from the SSH socket are small (keys stay answered during a flood), and
    nothing is lost to it: 200,000 short lines arrive complete and in order."""
    host = await _up(SshHost(lab_host))
    try:
        conn = host._conn
        assert conn is not None
        transport = getattr(conn, "_transport", None)
        assert getattr(transport, "max_size", None) == READ_CHUNK, (
            "asyncssh's transport changed: the read bound no longer applies"
        )
        result = await host.run(["seq", "1", "200000"], timeout=60)
        lines = result.stdout.splitlines()
        assert result.exit_status == 0
        assert lines[0] == "1" and lines[-1] == "200000" and len(lines) == 200_000
    finally:
        await host.close()


HOSTILE = ["a; touch /tmp/pwned", "$(id)", "`id`", "it's \"quoted\"", "two\nlines", "*", "-n"]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_value_is_one_literal_argument(lab_host: HostConfig, value: str) -> None:
    marker = Path("/tmp/pwned")
    marker.unlink(missing_ok=True)
    host = await _up(SshHost(lab_host))
    try:
        result = await host.run(["printf", "%s", value])
        assert result.ok and result.stdout == value
        count = await host.run(["sh", "-c", 'echo "$#"', "sh", value])
        assert count.stdout == "1\n"
    finally:
        await host.close()
    assert not marker.exists()


async def test_a_unix_socket_on_the_host_is_one_stream_of_the_connection(
    lab_config: Config,
) -> None:
    host = await _up(SshHost(lab_config.host("web1")))
    try:
        docker = lab_config.host("web1").docker
        assert docker is not None
        reader, writer = await host.open_unix_stream(docker.socket)
        writer.write(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        await writer.drain()
        answer = b""
        while not reader.at_eof():
            answer += await reader.read(65536)
        writer.close()
        assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"OK")

        with pytest.raises(OSError, match=r"/no/such\.sock"):
            await host.open_unix_stream("/no/such.sock")
        assert host.state is LinkState.UP  # a refused channel does not hurt the link
    finally:
        await host.close()


async def test_docker_socket_and_postgres_port_are_forwarded(lab_config: Config) -> None:
    host = await _up(SshHost(lab_config.host("web1")))
    try:
        docker = lab_config.host("web1").docker
        assert docker is not None
        path = await host.forward_unix_socket(docker.socket)
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=path)) as client:
            response = await client.get("http://docker/containers/json")
        names = {n.lstrip("/") for c in response.json() for n in c["Names"]}
        assert "shop-api-1" in names

        pg = lab_config.host("web1").postgres
        assert pg is not None
        fwd = await host.forward_tcp(pg.host, pg.port)
        async with await psycopg.AsyncConnection.connect(
            host=fwd.host, port=fwd.port, dbname=pg.database, user=pg.user,
            password=os.environ[pg.password_env], connect_timeout=5,
        ) as conn:
            cur = await conn.execute("SELECT current_database(), inet_server_addr()::text")
            assert await cur.fetchone() == ("shop", "127.0.0.1/32")
    finally:
        await host.close()
    assert not Path(path).exists(), "the forwarded socket was left behind"


async def test_close_leaves_no_tasks(lab_config: Config) -> None:
    before = {t for t in asyncio.all_tasks() if not t.done()}
    fleet = Fleet(lab_config)
    await fleet.start()
    for host in fleet:
        assert await host.wait_up(15)
    stream = await fleet["web1"].stream("sleep 30")
    await fleet.close()
    await asyncio.sleep(0.1)
    leftover = {t for t in asyncio.all_tasks() if not t.done()} - before
    leftover.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert not leftover, leftover
    assert stream.exit_status is None
    assert all(h.state is LinkState.CLOSED for h in fleet)


async def test_actions_are_audited_and_refused_read_only(
    lab_host: HostConfig, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    host = await _up(SshHost(lab_host))
    try:
        tag = uuid.uuid4().hex
        actions = Actions(audit, operator="alice")
        result = await actions.run(host, ["sh", "-c", f"echo {tag}; exit 3"])
        assert result.exit_status == 3
        read_only = Actions(audit, operator="bob", read_only=True)
        with pytest.raises(ReadOnlyRefusal):
            await read_only.run(host, ["touch", "/tmp/should-not-exist"])
    finally:
        await host.close()
    entries = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["operator"] == "alice" and entries[0]["host"] == "web1"
    assert tag in entries[0]["command"] and entries[0]["exit_status"] == 3


async def test_an_audit_log_that_cannot_be_written_loses_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.mkdir()  # in the way, as a full disk or a wrong owner would be
    told: list[str] = []
    actions = Actions(AuditLog(path), operator="alice", on_failure=told.append)
    host = LocalHost("console")
    try:
        first = await actions.run(host, ["true"])  # it ran; that it ran must not be lost
        assert first.exit_status == 0
        assert len(told) == 1 and "cannot write the audit log" in told[0]
        assert "1 entries kept" in told[0] and len(actions.pending) == 1
        assert not actions.flush()  # the console retries every second, quietly
        path.rmdir()
        assert actions.flush() and actions.pending == []
        await actions.run(host, ["sh", "-c", "exit 4"])
    finally:
        await host.close()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["command"], e["exit_status"]) for e in entries] == [
        ("true", 0), ("sh -c 'exit 4'", 4)]  # in order, the first written late
    assert actions.pending == [] and len(told) == 1


async def test_local_transport_runs_and_streams() -> None:
    host = LocalHost()
    await host.start()
    try:
        result = await host.run(["sh", "-c", "echo hi; exit 4"])
        assert (result.exit_status, result.stdout) == (4, "hi\n")
        stream = await host.stream(["printf", "a\\nb\\n"])
        assert [line async for line in stream] == ["a\n", "b\n"]
        assert stream.exit_status == 0
        slow = await host.run("sleep 5", timeout=0.3)
        assert "timed out" in slow.error
    finally:
        await host.close()


async def test_ssh_config_alias_is_honoured(
    lab_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = LAB / ".state"
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text(
        "Host shop-prod\n  HostName 127.0.0.3\n  User wrlab\n"
        f"  IdentityFile {state / 'id_lab'}\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    alias = HostConfig(name="shop-prod", known_hosts=str(state / "known_hosts"))
    host = await _up(SshHost(alias))
    try:
        result = await host.run(["sh", "-c", "echo $SSH_CONNECTION"])
        assert result.stdout.split()[2] == "127.0.0.3"
    finally:
        await host.close()


async def test_jump_host_tunnels_through_another_host(lab_config: Config) -> None:
    import dataclasses

    web2 = dataclasses.replace(lab_config.host("web2"), jump_host="web1")
    config = dataclasses.replace(lab_config, hosts=(lab_config.host("web1"), web2))
    fleet = Fleet(config)
    try:
        await fleet.start()
        assert await fleet["web2"].wait_up(20), fleet["web2"].reason
        result = await fleet["web2"].run(["sh", "-c", "echo $SSH_CONNECTION"])
        assert result.stdout.split()[2] == "127.0.0.3"
    finally:
        await fleet.close()
