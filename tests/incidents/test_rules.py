"""Each rule fires on the right data, with the right severity and evidence, and not below."""

from __future__ import annotations

import pytest

from core.config import BackupConfig, Config, HostConfig, ThresholdsConfig
from core.incidents.detector import Detector
from core.incidents.model import Finding
from core.runbooks import signals as sig
from core.state import DiskState, ProbeStatus

from .helpers import (
    backup,
    cert,
    container,
    endpoint,
    failed,
    host,
    mount,
    pg,
    system,
)


def findings(*states, config: Config | None = None, now: float = 1000.0) -> list[Finding]:
    detector = Detector(config or Config(), durations=False)
    return detector.evaluate({s.name: s for s in states}, now)


def only(rule: str, *states, **kw) -> list[Finding]:
    return [f for f in findings(*states, **kw) if f.rule == rule]


def test_healthy_host_has_no_findings():
    assert findings(host()) == []


def test_host_unreachable():
    [f] = only(sig.HOST_UNREACHABLE, host(reachable=False))
    assert f.severity == 0 and f.host == "web1" and f.subject == ""
    assert f.evidence["reason"] == "connection refused"
    assert f.signal == sig.HOST_UNREACHABLE and f.key == "host.unreachable|web1|"
    assert only(sig.HOST_UNREACHABLE, host()) == []


def test_unreachable_host_does_not_judge_ssh_probes():
    state = host(reachable=False, disk=DiskState(mounts=(mount("/", 99.0),)))
    assert [f.rule for f in findings(state)] == [sig.HOST_UNREACHABLE]


def test_all_endpoints_down_is_one_full_outage():
    state = host(endpoints=(endpoint("api", up=False, reason="connection refused"),
                            endpoint("web", up=False, code=503)))
    found = findings(state)
    [outage] = [f for f in found if f.rule == sig.ENDPOINTS_ALL_DOWN]
    assert outage.severity == 0
    assert outage.services == ("api", "web")
    assert outage.evidence["endpoints_down"] == 2
    assert "connection refused" in str(outage.evidence["api"])
    assert not [f for f in found if f.rule == sig.ENDPOINT_DOWN]


def test_one_endpoint_down():
    state = host(endpoints=(endpoint("api", up=False, code=502), endpoint("web")))
    [f] = only(sig.ENDPOINT_DOWN, state)
    assert f.subject == "api" and f.services == ("api",) and f.severity == 1
    assert f.evidence["status_code"] == 502
    assert only(sig.ENDPOINTS_ALL_DOWN, state) == []


def test_endpoint_down_from_one_side_only_counts():
    state = host(endpoints=(endpoint("api"), endpoint("api", up=False, side="host"),
                            endpoint("web")))
    [f] = only(sig.ENDPOINT_DOWN, state)
    assert "host:" in str(f.evidence["reason"])


def test_endpoint_slow_and_not_below_threshold():
    [f] = only(sig.ENDPOINT_SLOW, host(endpoints=(endpoint("api", latency=2500.0),
                                                  endpoint("web"))))
    assert f.subject == "api" and f.severity == 2
    assert f.evidence["latency_ms"] == 2500 and f.evidence["threshold_ms"] == 2000.0
    assert only(sig.ENDPOINT_SLOW, host(endpoints=(endpoint("api", latency=1999.0),))) == []


def test_container_exited_non_zero():
    state = host(containers=(container("shop-api-1", "exited", exit_code=1, project=""),))
    [f] = only(sig.CONTAINER_EXITED, state)
    assert f.subject == "shop-api-1" and f.services == ("api",) and f.severity == 1
    assert f.evidence["exit_code"] == 1 and f.evidence["state"] == "exited"
    assert f.slug == "api-exited"


def test_container_stopped_while_its_project_runs():
    state = host(containers=(container("shop-api-1", "exited", exit_code=0),
                             container("shop-web-1")))
    [f] = only(sig.CONTAINER_EXITED, state)
    assert f.evidence["project"] == "shop"


def test_container_exited_zero_alone_is_not_an_incident():
    state = host(containers=(container("shop-migrate-1", "exited", exit_code=0, project="x"),
                             container("shop-web-1")))
    assert only(sig.CONTAINER_EXITED, state) == []


def test_finished_one_shot_job_is_not_an_incident():
    job = container("shop-backup-1", "exited", exit_code=0, restart_policy="no")
    service = container("shop-api-1", "exited", exit_code=0, restart_policy="unless-stopped")
    state = host(containers=(job, service, container("shop-web-1")))
    assert [f.subject for f in only(sig.CONTAINER_EXITED, state)] == ["shop-api-1"]


def test_container_restarting_state():
    state = host(containers=(container("shop-api-1", "restarting", restart_count=4),))
    [f] = only(sig.CONTAINER_RESTARTING, state)
    assert f.severity == 1 and f.evidence["restart_count"] == 4
    assert only(sig.CONTAINER_EXITED, state) == []


def test_container_restart_count_rising_within_window():
    detector = Detector(Config(), durations=False)

    def at(now: float, count: int) -> list[Finding]:
        state = host(containers=(container("shop-api-1", restart_count=count),))
        return [f for f in detector.evaluate({"web1": state}, now)
                if f.rule == sig.CONTAINER_RESTARTING]

    assert at(0.0, 7) == []  # an old count is history, not a loop
    assert at(60.0, 8) == []
    assert at(120.0, 9) == []
    [f] = at(180.0, 10)  # three restarts within ten minutes
    assert f.evidence["restarts_in_window"] == 3
    assert at(2000.0, 10) == []  # quiet for longer than the window


def test_container_unhealthy_and_healthy():
    state = host(containers=(container("shop-api-1", health="unhealthy"),
                             container("shop-web-1", health="healthy")))
    [f] = only(sig.CONTAINER_UNHEALTHY, state)
    assert f.subject == "shop-api-1" and f.evidence["health"] == "unhealthy"


def test_container_oom_killed_is_not_also_exited():
    state = host(containers=(container("shop-api-1", "exited", exit_code=137, oom_killed=True),
                             container("shop-web-1")))
    rules = [f.rule for f in findings(state)]
    assert rules == [sig.CONTAINER_OOM]
    [f] = only(sig.CONTAINER_OOM, state)
    assert f.evidence["exit_code"] == 137 and f.slug == "api-oom"


@pytest.mark.parametrize("status", [ProbeStatus.UNREACHABLE, ProbeStatus.TIMEOUT,
                                    ProbeStatus.ERROR])
def test_postgres_unreachable(status):
    state = host(postgres=failed("postgres", status, "connection refused"))
    [f] = only(sig.POSTGRES_UNREACHABLE, state)
    assert f.severity == 0 and f.services == ("postgresql",)
    assert f.evidence["status"] == status.value


def test_postgres_not_configured_is_not_unreachable():
    state = host(postgres=failed("postgres", ProbeStatus.NOT_CONFIGURED))
    assert findings(state) == []


def test_postgres_connections_high_two_severities():
    [f] = only(sig.POSTGRES_CONNECTIONS_HIGH, host(postgres=pg(total=85)))
    assert f.severity == 2 and f.evidence["used_percent"] == 85.0
    assert f.evidence["connections"] == 85 and f.evidence["max_connections"] == 100
    [f] = only(sig.POSTGRES_CONNECTIONS_HIGH, host(postgres=pg(total=97)))
    assert f.severity == 1
    assert only(sig.POSTGRES_CONNECTIONS_HIGH, host(postgres=pg(total=79))) == []


def test_postgres_idle_in_transaction():
    [f] = only(sig.POSTGRES_IDLE_IN_TRANSACTION,
               host(postgres=pg(total=20, idle_in_tx=6, oldest_idle=312.0)))
    assert f.evidence["idle_in_transaction"] == 6 and f.evidence["oldest_seconds"] == 312
    assert "312 s" in f.summary
    assert only(sig.POSTGRES_IDLE_IN_TRANSACTION, host(postgres=pg(total=20, idle_in_tx=4))) == []


def test_disk_full_two_severities_and_below():
    [f] = only(sig.DISK_FULL, host(disk=DiskState(mounts=(mount("/", 40.0), mount("/data", 92.0)))))
    assert f.subject == "/data" and f.severity == 1
    assert f.evidence["used_percent"] == 92.0 and f.evidence["threshold_percent"] == 90.0
    assert f.key == "disk.full|web1|/data"
    [f] = only(sig.DISK_FULL, host(disk=DiskState(mounts=(mount("/data", 99.0),))))
    assert f.severity == 0
    assert only(sig.DISK_FULL, host(disk=DiskState(mounts=(mount("/data", 89.9),)))) == []


def test_disk_inodes():
    [f] = only(sig.DISK_INODES, host(disk=DiskState(mounts=(mount("/var", 10.0, 95.0),))))
    assert f.subject == "/var" and f.evidence["inodes_used"] == 950_000
    assert only(sig.DISK_INODES, host(disk=DiskState(mounts=(mount("/var", 10.0, 80.0),)))) == []


def test_cert_expired():
    expired = cert(days_left=-2.0, error="certificate has expired")
    [f] = only(sig.CERT_EXPIRED, host(certs=(expired,)))
    assert f.severity == 1 and f.evidence["days_left"] == -2.0
    assert only(sig.CERT_INVALID, host(certs=(cert(days_left=-2.0, error="expired"),))) == []


def test_cert_expiring_within_30_and_7_days():
    [f30] = only(sig.CERT_EXPIRING, host(certs=(cert(days_left=20.0),)))
    [f7] = only(sig.CERT_EXPIRING, host(certs=(cert(days_left=5.0),)))
    assert (f30.severity, f7.severity) == (3, 2)
    assert f7.evidence["days_left"] == 5.0
    assert only(sig.CERT_EXPIRING, host(certs=(cert(days_left=45.0),))) == []


def test_cert_invalid_chain_or_hostname():
    state = host(certs=(cert(days_left=60.0, error="hostname mismatch: shop.lab"),))
    [f] = only(sig.CERT_INVALID, state)
    assert f.severity == 1 and "hostname mismatch" in str(f.evidence["error"])


def test_backup_stale_uses_host_max_age():
    config = Config(hosts=(HostConfig(name="web1", backup=BackupConfig(
        endpoint_url="http://s3", bucket="backups", max_age_hours=12.0)),))
    [f] = only(sig.BACKUP_STALE, host(backups=backup(age_hours=13.0)), config=config)
    assert f.evidence["age_hours"] == 13.0 and f.evidence["max_age_hours"] == 12.0
    assert only(sig.BACKUP_STALE, host(backups=backup(age_hours=11.0)), config=config) == []
    assert only(sig.BACKUP_STALE, host(backups=backup(age_hours=25.0))) == []  # default 26 h


def test_backup_missing_is_stale():
    [f] = only(sig.BACKUP_STALE, host(backups=backup(key="", previous=None)))
    assert "no backup found" in f.summary


def test_backup_shrunk():
    [f] = only(sig.BACKUP_SHRUNK, host(backups=backup(size=300, previous=1000)))
    assert f.evidence["shrunk_percent"] == 70.0 and f.severity == 2
    assert only(sig.BACKUP_SHRUNK, host(backups=backup(size=600, previous=1000))) == []
    assert only(sig.BACKUP_SHRUNK, host(backups=backup(size=3000, previous=1000))) == []


def test_cpu_and_memory_high():
    [cpu] = only(sig.SYSTEM_CPU_HIGH, host(system=system(cpu=95.0)))
    assert cpu.evidence["cpu_percent"] == 95.0 and cpu.severity == 2
    [mem] = only(sig.SYSTEM_MEMORY_HIGH, host(system=system(mem_pct=99.0)))
    assert mem.severity == 1  # past the critical line
    assert only(sig.SYSTEM_CPU_HIGH, host(system=system(cpu=None))) == []
    assert only(sig.SYSTEM_MEMORY_HIGH, host(system=system(mem_pct=85.0))) == []


def test_thresholds_table_still_applies():
    config = Config(thresholds=ThresholdsConfig(disk_percent=50.0))
    [f] = only(sig.DISK_FULL, host(disk=DiskState(mounts=(mount("/", 60.0),))), config=config)
    assert f.evidence["threshold_percent"] == 50.0


def test_findings_sorted_worst_first():
    state = host(reachable=True, system=system(cpu=99.0),
                 endpoints=(endpoint("api", up=False), endpoint("web", up=False)))
    severities = [f.severity for f in findings(state)]
    assert severities == sorted(severities)
