"""Guided mode at 80x24 with a journaled incident (no lab: nothing is run)."""

from __future__ import annotations

import time
from pathlib import Path

from core.incidents.model import Finding
from tests.tui.fixtures import local_config
from tui.app import WarroomApp


def _incident(app: WarroomApp) -> str:
    finding = Finding("container.exited", "alpha", "shop-api-1", 1,
                      "api container exited", "container shop-api-1 exited (137)",
                      services=("api",), evidence={"container": "shop-api-1"})
    app.desk.tracker.observe([finding], now=time.time())
    [incident] = app.desk.incidents()
    return incident.id


async def test_guided_mode_fits_80x24_and_navigates(tmp_path: Path) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False)
    incident_id = _incident(app)
    app._open_checklist = incident_id
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ == "ChecklistScreen"
        progress = str(screen.query_one("#progress").render())
        assert "step 1 of 9" in progress
        step = str(screen.query_one("#step").render())
        assert "docker inspect" in step and "shop-api-1" in step and "on alpha" in step
        await pilot.press("s")  # skip asks why
        await pilot.pause()
        await pilot.press(*"not needed", "enter")
        await pilot.pause()
        assert "step 2 of 9" in str(screen.query_one("#progress").render())
        await pilot.press("p")  # back
        await pilot.pause()
        assert "step 1 of 9" in str(screen.query_one("#progress").render())
        await pilot.press("o")  # the whole checklist
        await pilot.pause()
        assert screen.has_class("overview")
        await pilot.press("a")  # acknowledge
        await pilot.pause()
        assert app.desk.incident(incident_id).status.value == "acknowledged"
    events = (tmp_path / "incidents" / incident_id / "journal.jsonl").read_text()
    assert '"step_skipped"' in events and "not needed" in events


async def test_checklist_for_unknown_incident_says_so(tmp_path: Path) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False, checklist="20990101-0000-x")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"
        assert any("no incident" in n.message for n in app._notifications)


async def test_a_journal_that_cannot_be_written_is_reported_not_fatal(tmp_path: Path) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False)
    incident_id = _incident(app)
    app._open_checklist = incident_id
    journal = tmp_path / "incidents" / incident_id / "journal.jsonl"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        journal.rename(journal.with_name("moved.jsonl"))
        journal.mkdir()  # in the way, as a full disk or a wrong owner would be
        await pilot.press("a")  # acknowledge
        await pilot.pause()
        await pilot.press("n", *"checked the api", "enter")  # a note
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("cannot acknowledge:") for m in messages)
        assert any(m.startswith("cannot write the journal:") for m in messages), messages
        assert app.is_running and type(app.screen).__name__ == "ChecklistScreen"
