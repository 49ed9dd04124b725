"""Incidents against the lab: real connections, a real filesystem, real runbook steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.audit import Actions, AuditLog
from core.config import Config, load_config
from core.hosts import Fleet
from core.incidents.desk import IncidentDesk
from core.incidents.model import IncidentStatus
from core.incidents.runner import run_step
from core.probes.collect import HostProbes
from tests.conftest import LAB_CONFIG, ROOT

pytestmark = pytest.mark.lab

MOUNT = Path("/mnt/warroom-lab-disk")


def _config(tmp_path: Path, rules: str) -> Path:
    text = LAB_CONFIG.read_text().replace(
        str(ROOT / "lab" / ".state" / "data"), str(tmp_path / "data"))
    path = tmp_path / "incidents.toml"
    path.write_text(text + rules)
    return path


@pytest.fixture
def idle_connections(lab_config: Config) -> Iterator[list[psycopg.Connection]]:
    pg = lab_config.host("web1").postgres
    assert pg is not None
    conns = [
        psycopg.connect(host="127.0.0.1", port=pg.port, dbname=pg.database, user=pg.user,
                        password=os.environ[pg.password_env], application_name="leaky-app",
                        connect_timeout=5)
        for _ in range(25)
    ]
    yield conns
    for conn in conns:
        conn.close()


async def test_idle_connections_fire_and_the_runbook_drops_them(
    lab_config: Config, tmp_path: Path, idle_connections: list[psycopg.Connection]
) -> None:
    rules = '\n[rules."postgres.connections_high"]\nthreshold = 20\nfor_seconds = 0\n' \
            'clear_seconds = 0\n'
    config = load_config(_config(tmp_path, rules))
    fleet = Fleet(config)
    probes = HostProbes(fleet["web1"], config.host("web1"))
    desk = IncidentDesk(config)
    try:
        await fleet["web1"].start()
        state = await probes.refresh()
        assert state.postgres is not None and state.postgres.ok
        assert state.postgres.data is not None and state.postgres.data.total >= 25
        desk.process({"web1": state})
        [incident] = [i for i in desk.incidents() if i.rule == "postgres.connections_high"]
        assert incident.runbook == "postgres-connections-high"
        assert incident.severity == 2  # the rule default below its critical line

        runbook = desk.runbook(incident.id)
        assert runbook is not None
        desk.answer(incident.id, "idle_minutes", "0")
        variables = desk.variables(incident.id)
        actions = Actions(AuditLog(config.audit_path), "alice")
        step = runbook.step("terminate-idle")
        outcome = await run_step(step, step.render(variables), fleet["web1"], actions,
                                 postgres=config.host("web1").postgres)
        assert outcome.passed, outcome
        terminated = int(outcome.output.splitlines()[-1].strip())
        assert terminated >= 25
        with pytest.raises(psycopg.OperationalError):
            idle_connections[0].execute("SELECT 1")

        verify = runbook.step("verify")
        check = await run_step(verify, verify.render(variables), fleet["web1"], actions,
                               postgres=config.host("web1").postgres)
        assert check.passed, check

        state = await probes.refresh()
        desk.process({"web1": state})
        assert desk.incident(incident.id).status is IncidentStatus.RECOVERED
        assert "pg_terminate_backend" in config.audit_path.read_text()
    finally:
        await probes.close()
        await fleet.close()


@pytest.fixture
def filled_disk() -> Iterator[Path]:
    filler = MOUNT / "warroom-test-filler"
    yield filler
    filler.unlink(missing_ok=True)


def _check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--config", str(config), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=dict(os.environ),
    )


async def test_full_disk_opens_an_incident_and_freeing_it_recovers(
    lab_config: Config, tmp_path: Path, filled_disk: Path
) -> None:
    rules = '\n[rules."disk.full"]\nthreshold = 80\nfor_seconds = 0\nclear_seconds = 0\n'
    path = _config(tmp_path, rules)
    config = load_config(path)
    fleet = Fleet(config)
    probes = HostProbes(fleet["web1"], config.host("web1"))
    desk = IncidentDesk(config)
    try:
        await fleet["web1"].start()
        desk.process({"web1": await probes.refresh()})
        assert not [i for i in desk.incidents() if i.rule == "disk.full"]

        free = os.statvfs(MOUNT)
        size = free.f_blocks * free.f_frsize
        with filled_disk.open("wb") as f:
            f.write(b"\0" * int(size * 0.9))
        desk.process({"web1": await probes.refresh()})
        [incident] = [i for i in desk.incidents() if i.rule == "disk.full"]
        assert str(MOUNT) in incident.key
        assert desk.context(incident.id)["mount"] == str(MOUNT)
        assert incident.runbook == "disk-full"
        report = json.loads(_check(path).stdout)
        assert any(i["rule"] == "disk.full" for i in report["incidents"])

        filled_disk.unlink()
        desk.process({"web1": await probes.refresh()})
        assert desk.incident(incident.id).status is IncidentStatus.RECOVERED
    finally:
        await probes.close()
        await fleet.close()
