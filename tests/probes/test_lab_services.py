"""Disk, system, PostgreSQL, certificate, endpoint and backup probes against the lab."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from cryptography import x509

from core.config import BackupConfig, Config, EndpointConfig, TlsEndpointConfig
from core.probes.backups import BackupsProbe
from core.probes.certs import check_tls
from core.probes.collect import HostProbes
from core.probes.endpoints import EndpointsProbe
from core.state import HostState, PgState, ProbeStatus
from tests.conftest import LAB
from tests.probes.conftest import docker

pytestmark = pytest.mark.lab

LAB_DISK = "/mnt/warroom-lab-disk"
TLS_DIR = LAB / ".state" / "tls"


# -- disk and system -----------------------------------------------------------------


def df_row(*args: str) -> list[str]:
    out = subprocess.run(["df", *args, LAB_DISK], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[1].split()


async def test_disk_numbers_match_df(web1: HostProbes) -> None:
    state = await web1.refresh(only=("disk",))
    assert state.disk is not None and state.disk.ok, state.disk
    assert state.disk.data is not None
    mount = next(m for m in state.disk.data.mounts if m.mountpoint == LAB_DISK)
    sizes = df_row("-PT", "-B1")
    inodes = df_row("-Pi")
    assert mount.device == sizes[0] and mount.fstype == sizes[1]
    assert (mount.size_bytes, mount.used_bytes, mount.free_bytes) == (
        int(sizes[2]), int(sizes[3]), int(sizes[4]),
    )
    if inodes[1].isdigit():
        assert (mount.inodes_total, mount.inodes_used) == (int(inodes[1]), int(inodes[2]))
    assert round(mount.used_percent) == pytest.approx(int(sizes[5].rstrip("%")), abs=1)
    points = {m.mountpoint for m in state.disk.data.mounts}
    assert "/" in points and "/proc" not in points and "/sys/fs/cgroup" not in points


async def test_largest_dirs_on_demand(web1: HostProbes) -> None:
    target = Path(LAB_DISK) / "warroom-probe-test"
    try:
        (target / "big").mkdir(parents=True, exist_ok=True)
        (target / "small dir").mkdir(exist_ok=True)
        (target / "big" / "blob").write_bytes(b"x" * 2 * 1024 * 1024)
        (target / "small dir" / "blob").write_bytes(b"x" * 4096)
        result = await web1.largest_dirs(str(target), 5)
        assert result.ok, result
        assert result.data is not None
        assert [Path(d.path).name for d in result.data] == ["big", "small dir"]
        assert result.data[0].bytes >= 2 * 1024 * 1024
        missing = await web1.largest_dirs(str(target / "nope"))
        assert missing.status is ProbeStatus.ERROR and "no such directory" in missing.reason
    finally:
        subprocess.run(["rm", "-rf", str(target)], check=True)


async def test_system_in_one_command(web1: HostProbes) -> None:
    first = await web1.refresh(only=("system",))
    await asyncio.sleep(0.3)
    second = await web1.refresh(only=("system",))
    assert first.system is not None and second.system is not None
    assert second.system.ok and second.system.data is not None
    data = second.system.data
    assert data.cpus == os.cpu_count()
    assert data.memory_total > data.memory_available > 0
    assert data.uptime_seconds > 0
    assert data.cpu_percent is not None and 0 <= data.cpu_percent <= 100
    assert first.system.data is not None and first.system.data.cpu_percent is None


# -- postgres ------------------------------------------------------------------------


def pg_state(state: HostState) -> PgState:
    result = state.postgres
    assert result is not None and result.ok, result
    assert result.data is not None
    return result.data


async def test_postgres_counts_move_with_15_idle_connections(
    web1: HostProbes, lab_config: Config
) -> None:
    pg = lab_config.host("web1").postgres
    assert pg is not None
    conninfo: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": pg.port,
        "dbname": pg.database,
        "user": pg.user,
        "password": os.environ[pg.password_env],
        "connect_timeout": 5,
        "application_name": "probe-test",
    }
    # other consoles and tests may use the shared lab server at the same time: a round
    # whose numbers moved by someone else's connections is tried again
    problems: list[str] = []
    for _attempt in range(4):
        before = pg_state(await web1.refresh(only=("postgres",)))
        assert before.max_connections > 0 and before.version.startswith("15")
        assert sum(before.by_state.values()) == before.total
        conns = [await psycopg.AsyncConnection.connect(**conninfo) for _ in range(15)]
        try:
            during = pg_state(await web1.refresh(only=("postgres",)))
            victim = conns[0].info.backend_pid
            assert await web1.backend_action(victim, "terminate") == 0
            await asyncio.sleep(0.2)
            after_kill = pg_state(await web1.refresh(only=("postgres",)))
        finally:
            for conn in conns:
                await conn.close()
        await asyncio.sleep(0.2)
        after = pg_state(await web1.refresh(only=("postgres",)))
        moved = {
            "total": during.total - before.total,
            "idle": during.by_state.get("idle", 0) - before.by_state.get("idle", 0),
            "database": during.by_database.get(pg.database, 0)
            - before.by_database.get(pg.database, 0),
            "user": during.by_user.get(pg.user, 0) - before.by_user.get(pg.user, 0),
            "terminated": during.total - after_kill.total,
            "closed": after.total - before.total,
        }
        if moved == {
            "total": 15, "idle": 15, "database": 15, "user": 15, "terminated": 1, "closed": 0,
        }:
            assert during.used_percent > before.used_percent
            assert during.database_sizes.get(pg.database, 0) > 0
            return
        problems.append(str(moved))
    raise AssertionError("counts did not follow the 15 connections: " + "; ".join(problems))


async def test_postgres_blocked_query_and_cancel(web1: HostProbes, lab_config: Config) -> None:
    pg = lab_config.host("web1").postgres
    assert pg is not None
    conninfo: dict[str, Any] = {
        "host": "127.0.0.1", "port": pg.port, "dbname": pg.database, "user": pg.user,
        "password": os.environ[pg.password_env], "connect_timeout": 5,
    }
    holder = await psycopg.AsyncConnection.connect(**conninfo)
    waiter = await psycopg.AsyncConnection.connect(**conninfo)
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT id FROM orders WHERE id = 1 FOR UPDATE")
        blocked = asyncio.create_task(
            waiter.execute("SELECT id FROM orders WHERE id = 1 FOR UPDATE")
        )
        await asyncio.sleep(1.2)
        state = pg_state(await web1.refresh(only=("postgres",)))
        waiting = next(b for b in state.blocked if b.pid == waiter.info.backend_pid)
        assert waiting.blocked_by == (holder.info.backend_pid,)
        assert "FOR UPDATE" in waiting.query and waiting.wait_event.startswith("Lock")
        assert any(b.pid == waiter.info.backend_pid for b in state.longest)
        assert waiting.query_seconds is not None and waiting.query_seconds >= 1.0
        assert state.by_state.get("idle in transaction", 0) >= 1
        assert await web1.backend_action(waiter.info.backend_pid, "cancel") == 0
        with pytest.raises(psycopg.errors.QueryCanceled):
            await asyncio.wait_for(blocked, 5)
        assert await web1.backend_action(999_999, "cancel") == 1
    finally:
        await holder.execute("ROLLBACK")
        await holder.close()
        await waiter.close()


async def test_postgres_bad_password_is_permission_denied(
    web1: HostProbes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert web1.postgres is not None
    monkeypatch.setenv(web1.postgres.config.password_env, "wrong-password")
    state = await web1.refresh(only=("postgres",))
    assert state.postgres is not None
    assert state.postgres.status is ProbeStatus.PERMISSION_DENIED, state.postgres
    monkeypatch.delenv(web1.postgres.config.password_env)
    state = await web1.refresh(only=("postgres",))
    assert state.postgres is not None and state.postgres.status is ProbeStatus.NOT_CONFIGURED


# -- certificates ----------------------------------------------------------------------


def generated(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((TLS_DIR / name / "cert.pem").read_bytes())


async def test_cert_days_left_match_the_generated_certificates(web1: HostProbes) -> None:
    state = await web1.refresh(only=("certs",))
    assert state.certs is not None and state.certs.ok, state.certs
    certs = {c.source: c for c in state.certs.data or ()}
    now = time.time()
    expected_days = {"ok": 60, "soon": 5, "expired": -2, "wrong": 60}
    expected_error = {"ok": "", "soon": "", "expired": "expired", "wrong": "hostname mismatch"}
    ports = {"ok": 18441, "soon": 18442, "expired": 18443, "wrong": 18444}
    for name, port in ports.items():
        seen = certs[f"127.0.0.1:{port} ({name}.lab.test)"]
        real = generated(name)
        assert seen.not_after == real.not_valid_after_utc.timestamp()
        assert seen.days_left == pytest.approx(expected_days[name], abs=1)
        assert seen.days_left == pytest.approx((seen.not_after - now) / 86400, abs=0.01)
        assert seen.error == expected_error[name], (name, seen)
        assert seen.issuer == "warroom lab CA"
    assert certs["127.0.0.1:18444 (wrong.lab.test)"].names == ("other.lab.test",)
    # the same certificates read as files over SSH
    files = {Path(c.source).parent.name: c for c in certs.values() if c.source.startswith("/")}
    assert set(files) == {"ok.lab.test", "soon.lab.test", "expired.lab.test", "wrong.lab.test"}
    for name in ports:
        on_disk = files[f"{name}.lab.test"]
        assert on_disk.not_after == generated(name).not_valid_after_utc.timestamp()
        assert on_disk.error == ("expired" if name == "expired" else "")


async def test_untrusted_chain_and_unreachable_are_data() -> None:
    untrusted = await check_tls(
        TlsEndpointConfig(name="ok", address="127.0.0.1", port=18441, server_name="ok.lab.test")
    )
    assert untrusted.error == "self-signed / untrusted chain"
    assert untrusted.subject == "ok.lab.test" and untrusted.days_left > 50
    closed = await check_tls(TlsEndpointConfig(name="none", address="127.0.0.1", port=1))
    assert closed.error.startswith("unreachable: ") and closed.subject == ""


# -- endpoints -------------------------------------------------------------------------

CGI_503 = (
    "#!/bin/sh\n"
    "printf 'HTTP/1.1 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\n"
    "echo maintenance\n"
)


async def test_endpoint_returning_503_shows_down(web1: HostProbes) -> None:
    name = "shop-flaky-1"
    script = CGI_503.replace("'", "'\"'\"'")
    docker(
        "exec", name, "sh", "-c",
        f"mkdir -p /www/cgi-bin && printf '%s' '{script}' > /www/cgi-bin/status503"
        " && chmod 755 /www/cgi-bin/status503",
    )
    try:
        endpoint = EndpointConfig(
            name="maintenance", url="http://127.0.0.1:18083/cgi-bin/status503", side="both",
            timeout=5,
        )
        probe = EndpointsProbe(web1.host, (endpoint,))
        try:
            result = await probe.collect()
        finally:
            await probe.close()
        assert result.ok and result.data is not None
        assert {c.side for c in result.data} == {"console", "host"}
        for check in result.data:
            assert not check.up and check.status_code == 503, check
            assert check.reason == "HTTP 503 (expected 200)"
            assert check.latency_ms is not None and check.latency_ms < 5000
    finally:
        docker("exec", name, "rm", "-rf", "/www/cgi-bin")


async def test_configured_endpoints_up_and_body_checks(web1: HostProbes) -> None:
    state = await web1.refresh(only=("endpoints",))
    assert state.endpoints is not None and state.endpoints.ok
    checks = {c.name: c for c in state.endpoints.data or ()}
    assert checks["api"].up and checks["api"].status_code == 200
    endpoints = (
        EndpointConfig(name="body", url="http://127.0.0.1:18081/health", expect_body="ok",
                       side="both"),
        EndpointConfig(name="wrong-body", url="http://127.0.0.1:18081/health",
                       expect_body="healthy", side="host"),
        EndpointConfig(name="json", url="http://127.0.0.1:18081/health", expect_json="status=ok"),
        EndpointConfig(name="closed", url="http://127.0.0.1:1/", side="both", timeout=2),
    )
    probe = EndpointsProbe(web1.host, endpoints)
    try:
        result = await probe.collect()
    finally:
        await probe.close()
    assert result.data is not None
    got = {(c.name, c.side): c for c in result.data}
    assert got["body", "console"].up and got["body", "host"].up
    wrong = got["wrong-body", "host"]
    assert not wrong.up and "does not contain" in wrong.reason
    assert got["json", "console"].reason == "body is not JSON"
    assert not got["closed", "console"].up and "refused" in got["closed", "console"].reason
    assert not got["closed", "host"].up and got["closed", "host"].reason


# -- backups ---------------------------------------------------------------------------


async def test_backup_uploaded_now_is_fresh(web1: HostProbes, lab_config: Config) -> None:
    backup = lab_config.host("web1").backup
    assert backup is not None
    before = await web1.refresh(only=("backups",))
    assert before.backups is not None and before.backups.ok, before.backups
    assert before.backups.data is not None
    previous_newest = before.backups.data.newest_size
    s3 = boto3.client(
        "s3",
        endpoint_url=backup.endpoint_url,
        aws_access_key_id=os.environ[backup.access_key_env],
        aws_secret_access_key=os.environ[backup.secret_key_env],
        region_name="us-east-1",
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    key = f"{backup.prefix}zz-probe-test-{stamp}.sql.gz"
    body = b"-- warroom probe test backup\n" * 100
    await asyncio.to_thread(s3.put_object, Bucket=backup.bucket, Key=key, Body=body)
    try:
        state = await web1.refresh(only=("backups",))
        assert state.backups is not None and state.backups.ok, state.backups
        data = state.backups.data
        assert data is not None
        assert data.newest_key == key
        assert data.newest_size == len(body)
        assert data.newest_age_seconds < 60
        assert data.previous_size == previous_newest
        assert data.object_count == before.backups.data.object_count + 1
    finally:
        await asyncio.to_thread(s3.delete_object, Bucket=backup.bucket, Key=key)


async def test_backup_errors_are_states(lab_config: Config) -> None:
    backup = lab_config.host("web1").backup
    assert backup is not None
    missing = BackupsProbe(BackupConfig(
        endpoint_url=backup.endpoint_url, bucket="no-such-bucket-warroom", prefix="db/",
        access_key_env=backup.access_key_env, secret_key_env=backup.secret_key_env,
    ))
    unset = BackupsProbe(BackupConfig(
        endpoint_url=backup.endpoint_url, bucket=backup.bucket,
        access_key_env="WARROOM_TEST_UNSET_KEY", secret_key_env=backup.secret_key_env,
    ))
    closed = BackupsProbe(BackupConfig(
        endpoint_url="http://127.0.0.1:1", bucket=backup.bucket,
        access_key_env=backup.access_key_env, secret_key_env=backup.secret_key_env,
    ), timeout=2)
    try:
        results = await asyncio.gather(missing.collect(), unset.collect(), closed.collect())
    finally:
        for probe in (missing, unset, closed):
            await probe.close()
    assert results[0].status is ProbeStatus.ERROR and "no such bucket" in results[0].reason
    assert results[1].status is ProbeStatus.NOT_CONFIGURED
    assert results[2].status is ProbeStatus.UNREACHABLE


# -- the host as a whole -------------------------------------------------------------


async def test_refresh_fills_every_pane_progressively(web1: HostProbes, web2: HostProbes) -> None:
    fields = ("containers", "docker_df", "disk", "system", "postgres", "certs", "endpoints",
              "backups")
    filled = []
    async for state in web1.refresh_each():
        filled.append(sum(getattr(state, f) is not None for f in fields))
    assert len(filled) >= 3 and filled == sorted(filled)
    final = web1.state
    assert final.reachable and final.name == "web1"
    for field in fields:
        result = getattr(final, field)
        assert result is not None and result.ok, (field, result)
        assert result.at > 0
    other = await web2.refresh()
    assert other.postgres is not None and other.postgres.status is ProbeStatus.NOT_CONFIGURED
    assert other.backups is not None and other.backups.status is ProbeStatus.NOT_CONFIGURED
    assert other.containers is not None and other.containers.ok
