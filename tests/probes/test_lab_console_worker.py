"""The console-checks worker (core/probes/console_worker.py) against the lab.

The backups, endpoints and TLS checks made from the console's side, and the
PostgreSQL queries, run in this worker process; these tests kill it, feed
it a relative ``ca_file`` and a wrong secret, plant foreign code where it
must not look, move a probe's tunnel and ask it for a signal that is not
one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest

from core.config import Config, EndpointConfig, PostgresConfig, TlsEndpointConfig
from core.probes import workers
from core.probes.backups import BackupsProbe
from core.probes.base import ProbeError
from core.probes.certs import check_tls, tls_from_console
from core.probes.collect import HostProbes
from core.probes.helper_process import HelperProcess
from core.probes.postgres import PostgresProbe
from core.probes.workers import CONSOLE_WORKER
from core.state import ProbeStatus
from tests.conftest import LAB

pytestmark = pytest.mark.lab

TLS_DIR = LAB / ".state" / "tls"
OK_ENTRY = TlsEndpointConfig(name="ok", address="127.0.0.1", port=18441,
                             server_name="ok.lab.test")


def _gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


async def test_killing_the_worker_costs_no_check(web1: HostProbes) -> None:
    first = await web1.refresh(only=("backups", "endpoints", "certs"))
    assert first.backups is not None and first.backups.ok, first.backups
    pid = CONSOLE_WORKER.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    again = await web1.refresh(only=("backups", "endpoints", "certs"))
    for result in (again.backups, again.endpoints, again.certs):
        assert result is not None and result.ok, result
    assert again.backups is not None and again.backups.data is not None
    assert first.backups.data is not None
    assert again.backups.data.newest_key == first.backups.data.newest_key
    assert again.endpoints is not None and again.endpoints.data is not None
    console_checks = [c for c in again.endpoints.data if c.side == "console"]
    assert console_checks and all(c.up for c in console_checks), console_checks
    assert CONSOLE_WORKER.pid not in (None, pid)  # a new worker answered


async def test_a_relative_ca_file_is_the_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TLS_DIR)
    entry = dataclasses.replace(OK_ENTRY, ca_file="ca.pem")
    through_worker = await tls_from_console(entry)
    in_process = await check_tls(dataclasses.replace(entry, ca_file=str(TLS_DIR / "ca.pem")))
    assert through_worker.error == "" and through_worker == dataclasses.replace(
        in_process, days_left=through_worker.days_left)
    missing = await tls_from_console(dataclasses.replace(entry, ca_file="no-such-ca.pem"))
    assert missing.error.startswith("unreachable: cannot load ca_file")
    assert str(TLS_DIR / "no-such-ca.pem") in missing.error


async def test_a_wrong_secret_is_permission_denied(
    lab_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = lab_config.host("web1").backup
    assert backup is not None
    monkeypatch.setenv("WARROOM_TEST_WRONG_SECRET", "not-the-secret")
    probe = BackupsProbe(dataclasses.replace(backup, secret_key_env="WARROOM_TEST_WRONG_SECRET"))
    result = await probe.collect()
    assert result.status is ProbeStatus.PERMISSION_DENIED, result
    assert "not-the-secret" not in result.reason


async def test_foreign_code_in_the_working_directory_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    planted = tmp_path / "core" / "probes"
    planted.mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (planted / "__init__.py").write_text("")
    (planted / "console_worker.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", "")
    worker = HelperProcess("core.probes.console_worker", "a test worker")
    try:
        answer = await worker.call({"op": "tls", "entry": dataclasses.asdict(OK_ENTRY),
                                    "timeout": 5}, 30)
    finally:
        worker.close()
    assert answer["cert"]["subject"] == "ok.lab.test"
    assert not marker.exists()


async def test_the_worker_exits_at_once_when_the_console_goes(lab_config: Config) -> None:
    backup = lab_config.host("web1").backup
    assert backup is not None
    worker = HelperProcess("core.probes.console_worker", "a test worker")
    request = {"op": "s3", "endpoint_url": backup.endpoint_url, "region": backup.region,
               "bucket": backup.bucket, "prefix": backup.prefix, "timeout": 10,
               "credentials": {"aws_access_key_id": os.environ[backup.access_key_env],
                               "aws_secret_access_key": os.environ[backup.secret_key_env]}}
    assert "objects" in await worker.call(request, 30)
    listing = asyncio.ensure_future(worker.call(request, 30))
    await asyncio.sleep(0)
    pid = worker.pid
    assert pid is not None
    started = time.monotonic()
    await asyncio.to_thread(worker.close)  # closes its stdin
    assert _gone(pid, 2) and time.monotonic() - started < 0.9
    listing.cancel()


@pytest.mark.parametrize("lab_ca_trusted", [False, True])
async def test_https_health_checks_verify_against_the_system_trust_store(
    monkeypatch: pytest.MonkeyPatch, lab_ca_trusted: bool
) -> None:
    """The plain-http client makes no trust store, the https one loads the system's
    (``SSL_CERT_FILE`` is honoured): the lab's TLS server is refused as
    untrusted, or, once the lab CA is the system's, for its name."""
    if lab_ca_trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(TLS_DIR / "ca.pem"))
    worker = HelperProcess("core.probes.console_worker", "a test worker")
    secure = EndpointConfig(name="secure", url="https://127.0.0.1:18441/")
    plain = EndpointConfig(name="plain", url="http://127.0.0.1:18081/health")
    try:
        answers = await asyncio.gather(
            *(worker.call(workers.http_request(e), 30) for e in (secure, plain, secure)))
    finally:
        await asyncio.to_thread(worker.close)
    secure_check, plain_check, again = (answer["check"] for answer in answers)
    assert plain_check["up"] and plain_check["status_code"] == 200, plain_check
    for check in (secure_check, again):
        assert not check["up"] and check["status_code"] is None, check
        assert "certificate verify failed" in check["reason"], check
        if lab_ca_trusted:
            assert "not valid for '127.0.0.1'" in check["reason"], check
        else:
            assert "self-signed certificate in certificate chain" in check["reason"], check


@pytest.mark.parametrize("fresh", [True, False])
async def test_a_prefetched_check_stands_in_only_while_fresh(
    lab_config: Config, web1: HostProbes, monkeypatch: pytest.MonkeyPatch, fresh: bool
) -> None:
    backup = lab_config.host("web1").backup
    assert backup is not None
    workers.prefetch(lab_config)
    prefetched = workers._prefetched[workers._key(workers.s3_request(backup))][1]
    await asyncio.wrap_future(prefetched)  # the listing made before this upload
    key = f"{backup.prefix}zz-prefetch-{fresh}-{time.time_ns()}.sql.gz"
    s3 = boto3.client("s3", endpoint_url=backup.endpoint_url, region_name="us-east-1",
                      aws_access_key_id=os.environ[backup.access_key_env],
                      aws_secret_access_key=os.environ[backup.secret_key_env])
    await asyncio.to_thread(s3.put_object, Bucket=backup.bucket, Key=key, Body=b"x")
    try:
        if not fresh:
            monkeypatch.setattr(workers, "PREFETCH_FRESH_SECONDS", 0.0)
        state = await web1.refresh(only=("backups", "endpoints", "certs"))
        for result in (state.backups, state.endpoints, state.certs):
            assert result is not None and result.ok, result
        assert state.backups is not None and state.backups.data is not None
        assert (state.backups.data.newest_key == key) is not fresh
        assert workers._key(workers.s3_request(backup)) not in workers._prefetched  # taken
    finally:
        workers._prefetched.clear()
        await asyncio.to_thread(s3.delete_object, Bucket=backup.bucket, Key=key)


async def test_a_worker_that_cannot_run_fails_the_probes_not_the_sites(
    web1: HostProbes, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = HelperProcess("wr_no_such_worker_module", "the console-checks worker")
    monkeypatch.setattr(workers, "CONSOLE_WORKER", broken)
    monkeypatch.setattr(workers, "_prefetched", {})
    try:
        state = await web1.refresh(only=("backups", "endpoints", "certs", "postgres"))
    finally:
        broken.close()
    for result in (state.backups, state.endpoints, state.certs, state.postgres):
        assert result is not None and result.status is ProbeStatus.ERROR, result
        assert "the console-checks worker exited with status 1" in result.reason, result
    assert state.endpoints is not None and state.endpoints.data is not None
    assert all(check.side == "host" for check in state.endpoints.data)  # no "down" made up
    assert state.certs is not None and state.certs.data is not None
    assert all(cert.source.startswith("/") for cert in state.certs.data)  # files only


# -- PostgreSQL, queried in the worker ----------------------------------------------------


def test_postgres_is_queried_in_the_worker_not_the_console(lab_config: Config) -> None:
    script = (
        "import asyncio, sys\n"
        "from core.config import load_config\n"
        "from core.hosts import Fleet\n"
        "from core.probes.collect import HostProbes\n"
        "async def main():\n"
        f"    config = load_config({str(LAB / 'warroom.toml')!r})\n"
        "    fleet = Fleet(config)\n"
        "    await fleet.start()\n"
        "    assert await fleet['web1'].wait_up(20)\n"
        "    probes = HostProbes(fleet['web1'], config.host('web1'))\n"
        "    state = await probes.refresh(only=('postgres',))\n"
        "    print(state.postgres.status.value, state.postgres.data.max_connections,\n"
        "          'psycopg' in sys.modules)\n"
        "    await probes.close()\n"
        "    await fleet.close()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=LAB.parent)
    assert done.returncode == 0, done.stderr
    status, max_connections, psycopg_loaded = done.stdout.split()
    assert status == "ok" and int(max_connections) > 0
    assert psycopg_loaded == "False"  # the console never imported it


@pytest.fixture
def pg(lab_config: Config) -> PostgresConfig:
    """web1's PostgreSQL (the lab's server), with its password in the environment."""
    config = lab_config.host("web1").postgres
    assert config is not None and config.password_env
    return config


def _direct(pg: PostgresConfig) -> dict[str, object]:
    """psycopg's arguments for a connection of the test's own, straight to the server."""
    return {"host": "127.0.0.1", "port": pg.port, "dbname": pg.database, "user": pg.user,
            "password": os.environ[pg.password_env], "autocommit": True}


@pytest.fixture
def session() -> Iterator[str]:
    """A worker session name of the test's own, forgotten at the end."""
    name = f"test-{time.time_ns()}"
    yield name
    workers.forget_pg_session(name)


def _pg_request(lab_config: Config, session: str, port: int, **extra: object) -> dict[str, object]:
    pg = lab_config.host("web1").postgres
    assert pg is not None and pg.password_env
    return workers.pg_request(session, "127.0.0.1", port, pg,
                              password=os.environ[pg.password_env], statement_timeout=5,
                              where="the test's server", **extra)  # type: ignore[arg-type]


async def _backends(lab_config: Config, session: str, port: int) -> tuple[int, set[int]]:
    """The session's own backend pid and every client backend's pid, seen through it."""
    answer = await workers.ask(_pg_request(lab_config, session, port), lambda a: a["pg"])
    return answer["own_pid"], {row[0] for row in answer["activity"]}


async def _until_gone(lab_config: Config, pid: int, port: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if pid not in (await _backends(lab_config, "test-observer", port))[1]:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_worker_keeps_a_connection_per_probe_and_follows_its_tunnel(
    lab_config: Config, pg: PostgresConfig, web1: HostProbes
) -> None:
    session = f"test-{time.time_ns()}"
    try:
        first, _ = await _backends(lab_config, session, pg.port)
        again, seen = await _backends(lab_config, session, pg.port)
        assert again == first and first in seen  # kept between collects
        tunnel = await web1.host.forward_tcp(pg.host, pg.port)  # a new local port: a new link
        through_tunnel, _ = await _backends(lab_config, session, tunnel.port)
        assert through_tunnel != first
        assert await _until_gone(lab_config, first, pg.port)  # the old one was closed
        workers.forget_pg_session(session)  # as PostgresProbe.close does
        assert await _until_gone(lab_config, through_tunnel, pg.port)
    finally:
        workers.forget_pg_session("test-observer")


FLUSH = b"H\x00\x00\x00\x04"
"""The protocol's Flush message: psycopg may send one after a pipeline's Sync."""


class TurnCounter:
    """A TCP relay to the lab's PostgreSQL that counts the client's turns: each time a
    client speaks again after the server has answered it is one round trip (a chunk of
    Flush messages alone asks for nothing new)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.turns = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _relay(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.port)
        server_spoke = [True]  # (this connection's: the startup packet is a turn)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       from_client: bool) -> None:
            try:
                while data := await src.read(65536):
                    if from_client and server_spoke[0] and data.replace(FLUSH, b""):
                        self.turns += 1
                        server_spoke[0] = False
                    elif not from_client:
                        server_spoke[0] = True
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        with contextlib.suppress(asyncio.CancelledError):  # (the loop closing under it)
            await asyncio.gather(pump(client_r, server_w, True),
                                 pump(server_r, client_w, False))


async def test_a_collect_on_a_kept_connection_is_one_round_trip(
    lab_config: Config, pg: PostgresConfig, session: str
) -> None:
    """The settings, activity and sizes queries go as one pipeline: over a tunnel,
    every round trip passes through the console's event loop and the SSH link."""
    counter = TurnCounter(pg.port)
    async with counter as port:
        request = _pg_request(lab_config, session, port, sizes=True)
        first = await workers.ask(request, lambda a: a["pg"])
        connecting = counter.turns
        again = await workers.ask(request, lambda a: a["pg"])
        assert counter.turns - connecting == 1
        assert again["own_pid"] == first["own_pid"] and again["sizes"]
        assert again["max_connections"] > 0 and again["activity"]


async def test_a_kept_connection_that_was_killed_is_replaced_within_the_collect(
    lab_config: Config, pg: PostgresConfig, session: str
) -> None:
    first, _ = await _backends(lab_config, session, pg.port)
    killer = await psycopg.AsyncConnection.connect(**_direct(pg))
    try:
        await killer.execute("SELECT pg_terminate_backend(%s)", (first,))
    finally:
        await killer.close()
    assert await _until_gone(lab_config, first, pg.port)
    again, seen = await _backends(lab_config, session, pg.port)  # no error: reopened
    assert again != first and again in seen


async def test_the_worker_sends_only_backend_signals(
    lab_config: Config, pg: PostgresConfig, session: str
) -> None:
    request = _pg_request(lab_config, session, pg.port,
                          signal={"function": "pg_reload_conf", "pid": 1})
    with pytest.raises(ProbeError) as refused:
        await workers.ask(request, lambda a: a)
    assert refused.value.status is ProbeStatus.ERROR
    assert "not a backend signal" in refused.value.reason


async def test_a_sql_ascii_database_is_shown_not_timed_out(
    lab_config: Config, pg: PostgresConfig, web1: HostProbes
) -> None:
    probe = PostgresProbe(web1.host, dataclasses.replace(pg, database=f"{pg.database}_ascii"))
    try:
        result = await probe.collect()  # psycopg gives this server's text columns as bytes
    finally:
        await probe.close()
    assert result.ok and result.data is not None, result
    assert isinstance(result.data.version, str) and result.data.version[:1].isdigit()
    assert all(isinstance(name, str) for name in result.data.database_sizes)
    assert f"{pg.database}_ascii" in result.data.database_sizes


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)


async def test_a_stuck_server_times_out_and_a_late_signal_never_runs(
    lab_config: Config, pg: PostgresConfig, web1: HostProbes
) -> None:
    quick = dataclasses.replace(pg, connect_timeout=1.0)
    probe = PostgresProbe(web1.host, quick, statement_timeout=0.5)
    bystander = await asyncio.to_thread(lambda: psycopg.connect(**_direct(pg)))
    backend = None
    try:
        first = await probe.collect()
        assert first.ok and first.data is not None, first
        backend = await workers.ask(await probe._request(), lambda a: int(a["pg"]["own_pid"]))
        _stop(backend)  # the server stops answering this session mid-conversation
        started = time.monotonic()
        stuck = asyncio.ensure_future(probe.collect())
        await asyncio.sleep(0.3)
        late = await probe._request(signal={"function": "pg_terminate_backend",
                                            "pid": bystander.info.backend_pid})
        late["seconds"] = 1.0  # runs out while the stuck collect holds the session
        with pytest.raises(ProbeError) as refused:
            await workers.ask(late, lambda a: a)
        assert refused.value.status is ProbeStatus.TIMEOUT
        assert "not known" not in refused.value.reason  # it never got the session: not sent
        assert time.monotonic() - started < 3
        result = await stuck  # the worker's own limit (5.5 s) and the cancel's grace (0.5 s)
        assert result.status is ProbeStatus.TIMEOUT, result
        # not 5 s later, waiting for the stopped server to cancel the query (psycopg's wait)
        assert time.monotonic() - started < 5.5 + 0.5 + 2
        assert result.reason.startswith("no answer from PostgreSQL at"), result  # the worker's
        os.kill(backend, signal.SIGCONT)
        backend = None
        await asyncio.sleep(0.5)
        rows = await asyncio.to_thread(lambda: bystander.execute("SELECT 1").fetchall())
        assert rows == [(1,)]  # the signal that waited past its time never ran
        again = await probe.collect()  # a new connection serves the session
        assert again.ok, again
    finally:
        if backend is not None:
            os.kill(backend, signal.SIGCONT)
        await probe.close()
        await asyncio.to_thread(bystander.close)
