"""The console-checks worker (core/probes/console_worker.py) against the lab.

The backups, endpoints and TLS checks made from the console's side run in
this worker process; these tests kill it, feed it a relative ``ca_file``
and a wrong secret, and plant foreign code where it must not look.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from pathlib import Path

import boto3
import pytest

from core.config import Config, TlsEndpointConfig
from core.probes import workers
from core.probes.backups import BackupsProbe
from core.probes.certs import check_tls, tls_from_console
from core.probes.collect import HostProbes
from core.probes.helper_process import HelperProcess
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
        state = await web1.refresh(only=("backups", "endpoints", "certs"))
    finally:
        broken.close()
    for result in (state.backups, state.endpoints, state.certs):
        assert result is not None and result.status is ProbeStatus.ERROR, result
        assert "the console-checks worker exited with status 1" in result.reason, result
    assert state.endpoints is not None and state.endpoints.data is not None
    assert all(check.side == "host" for check in state.endpoints.data)  # no "down" made up
    assert state.certs is not None and state.certs.data is not None
    assert all(cert.source.startswith("/") for cert in state.certs.data)  # files only
