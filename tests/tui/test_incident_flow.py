"""An outage end to end against the lab: detect, walk the runbook, resolve, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config, load_config
from core.incidents.checklist import StepStatus
from tests.conftest import LAB_CONFIG, ROOT
from tests.tui.waiting import until
from tui.app import WarroomApp
from tui.screens.checklist import ChecklistScreen
from widgets.log_view import LogView

pytestmark = pytest.mark.lab

FAST_RULES = """
[rules."container.exited"]
for_seconds = 0.5
clear_seconds = 1
[rules."endpoint.down"]
for_seconds = 0.5
clear_seconds = 1
"""


def fast_config(tmp_path: Path, operator: str = "alice", journal: Path | None = None) -> Path:
    """The lab config with its own data dir and short rule durations."""
    text = LAB_CONFIG.read_text()
    text = text.replace(str(ROOT / "lab" / ".state" / "data"), str(tmp_path / operator))
    text = text.replace('operator = "lab"', f'operator = "{operator}"')
    if journal is not None:
        text = text.replace("[settings]", f'[settings]\njournal_dir = "{journal}"', 1)
    path = tmp_path / f"{operator}.toml"
    path.write_text(text + FAST_RULES)
    return path


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.fixture
def api_restored() -> Iterator[None]:
    yield
    docker("start", "shop-api-1")


def api_running(app: WarroomApp) -> bool:
    """web1's containers are known, shop-api-1 among them and running."""
    state = app.states.get("web1")
    if state is None or state.containers is None or not state.containers.ok:
        return False
    return any(c.name == "shop-api-1" and c.state == "running"
               for c in state.containers.data or ())


def api_incident(app: WarroomApp) -> str | None:
    """The id of the open incident for shop-api-1 having exited, if there is one."""
    return next((i.id for i in app.desk.incidents()
                 if i.rule == "container.exited" and "shop-api-1" in i.key), None)


async def stop_api(app: WarroomApp, pilot: object, timeout: float) -> tuple[str, float]:
    """Once the console knows shop-api-1 running, stop it; its incident's id and how long
    the incident took to open."""
    await until(lambda: api_running(app), 20, pilot)
    docker("stop", "-t", "1", "shop-api-1")
    took = await until(lambda: api_incident(app), timeout, pilot)
    return api_incident(app) or "", took


async def test_api_down_walked_through_to_the_report(
    lab_config: Config, tmp_path: Path, api_restored: None
) -> None:
    config = load_config(fast_config(tmp_path))
    app = WarroomApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        incident_id, took = await stop_api(app, pilot, 2 + 0.5 + 3)  # 2 s + the hold
        incident = app.desk.incident(incident_id)
        assert (incident.severity, incident.runbook, incident.host) == (1, "service-down", "web1")
        assert took <= 2.5, took  # 2 s, plus the 0.5 s the rule must hold

        await app.push_screen(ChecklistScreen(incident.id))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChecklistScreen)
        assert "step 1 of" in str(screen.query_one("#progress").render())

        async def run_current(expected: StepStatus, timeout: float = 30) -> str:
            checklist = app.desk.checklist(incident.id)
            assert checklist is not None and checklist.current is not None
            step_id, kind = checklist.current.id, checklist.current.kind
            await pilot.press("x")
            if kind == "action":
                await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, pilot)
                await pilot.press("y")

            def settled() -> bool:
                fresh = app.desk.checklist(incident.id)
                return fresh is not None and fresh.record(step_id).status.settled

            await until(settled, timeout, pilot)
            fresh = app.desk.checklist(incident.id)
            assert fresh is not None
            record = fresh.record(step_id)
            assert record.status is expected, (step_id, record)
            assert record.host == "web1" and record.started_by == "alice"
            return record.output

        state = await run_current(StepStatus.PASSED)
        assert "status=exited" in state
        logs = await run_current(StepStatus.PASSED)
        assert "response:200" in logs  # the real output of docker logs on web1
        await run_current(StepStatus.PASSED)  # restart, after confirmation
        assert docker("inspect", "-f", "{{.State.Running}}", "shop-api-1").strip() == "true"
        verify = await run_current(StepStatus.PASSED, timeout=100)  # passes by itself
        assert "healthy" in verify
        await pilot.press("1")  # "Is the service back?" yes → end
        await pilot.pause()
        checklist = app.desk.checklist(incident.id)
        assert checklist is not None and checklist.finished

        await pilot.press("R")
        await until(lambda: type(app.screen).__name__ in ("ReportFormScreen", "ConfirmScreen"),
                    5, pilot)
        if type(app.screen).__name__ == "ConfirmScreen":
            await pilot.press("y")
            await until(lambda: type(app.screen).__name__ == "ReportFormScreen", 5, pilot)
        await pilot.press(*"api stopped", "ctrl+s")
        await until(lambda: not app.desk.incident(incident.id).is_open, 5, pilot)
        output = app.screen.query_one(LogView).shown_lines()
        assert any("docker restart shop-api-1" in line for line in output)

    report = (config.journal_dir / incident.id / "report.md").read_text()
    assert "docker restart shop-api-1" in report
    assert "exit 0" in report or "exit status 0" in report
    for secret in ("WARROOM_LAB_PG_PASSWORD", "WARROOM_LAB_S3_SECRET_KEY"):
        assert os.environ[secret] not in report
    assert "api stopped" in report
    audit = [json.loads(line) for line in config.audit_path.read_text().splitlines()]
    assert [(a["operator"], a["host"], a["command"], a["exit_status"]) for a in audit] == [
        ("alice", "web1", "docker restart shop-api-1", 0)
    ]


async def test_read_only_refuses_runbook_actions(
    lab_config: Config, tmp_path: Path, api_restored: None
) -> None:
    config = load_config(fast_config(tmp_path))
    app = WarroomApp(config, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        incident_id, _ = await stop_api(app, pilot, 6)
        await app.push_screen(ChecklistScreen(incident_id))
        for _ in range(2):  # two read-only checks run fine
            running = app.desk.checklist(incident_id)
            assert running is not None and running.current is not None
            step_id = running.current.id
            await pilot.press("x")

            def settled(step_id: str = step_id) -> bool:
                fresh = app.desk.checklist(incident_id)
                return fresh is not None and fresh.record(step_id).status.settled

            await until(settled, 30, pilot)
        checklist = app.desk.checklist(incident_id)
        assert checklist is not None and checklist.current is not None
        assert checklist.current.kind == "action"
        await pilot.press("x")
        await pilot.pause(0.5)
        assert type(app.screen).__name__ == "ChecklistScreen"  # no confirmation offered
        assert any("read-only" in n.message for n in app._notifications)
    assert not config.audit_path.exists()
    assert docker("inspect", "-f", "{{.State.Running}}", "shop-api-1").strip() == "false"


async def test_imported_markdown_runbook_is_walked_in_guided_mode(
    lab_config: Config, tmp_path: Path, api_restored: None
) -> None:
    """Issue 5: a Markdown runbook imported with `warroom runbook import` runs for real."""
    runbooks = tmp_path / "runbooks"
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "runbook", "import",
         str(ROOT / "tests" / "fixtures" / "lab_runbooks" / "shop-ops.md"), "--out",
         str(runbooks)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = fast_config(tmp_path)
    path.write_text(path.read_text().replace(
        "[settings]", f'[settings]\nrunbook_dirs = ["{runbooks}"]', 1))
    config = load_config(path)
    app = WarroomApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        incident_id, _ = await stop_api(app, pilot, 6)
        runbook = app.desk.runbook(incident_id)
        assert runbook is not None and runbook.id == "shop-api-down", runbook
        await app.push_screen(ChecklistScreen(incident_id))
        kinds = [s.kind for s in runbook.steps]
        assert kinds[:3] == ["check", "action", "check"]
        for kind in kinds[:3]:
            checklist = app.desk.checklist(incident_id)
            assert checklist is not None and checklist.current is not None
            step_id = checklist.current.id
            await pilot.press("x")
            if kind == "action":
                await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, pilot)
                if app.screen.type_to_confirm:  # type: ignore[attr-defined]
                    await pilot.press(*app.screen.type_to_confirm, "enter")  # type: ignore[attr-defined]
                else:
                    await pilot.press("y")

            def settled(step: str = step_id) -> bool:
                fresh = app.desk.checklist(incident_id)
                return fresh is not None and fresh.record(step).status.settled

            await until(settled, 40, pilot)
            fresh = app.desk.checklist(incident_id)
            assert fresh is not None
            assert fresh.record(step_id).status is StepStatus.PASSED, fresh.record(step_id)
        fresh = app.desk.checklist(incident_id)
        assert fresh is not None
        assert "ok" in fresh.record(runbook.steps[2].id).output
    assert docker("inspect", "-f", "{{.State.Running}}", "shop-api-1").strip() == "true"
