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


def _block_journal(tmp_path: Path, incident_id: str) -> None:
    """Make an incident's journal unwritable, as a full disk or a wrong owner would."""
    journal = tmp_path / "incidents" / incident_id / "journal.jsonl"
    journal.rename(journal.with_name("moved.jsonl"))
    journal.mkdir()


async def test_a_merge_stopped_half_way_says_what_took(tmp_path: Path) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False)
    duplicate = _incident(app)
    app.desk.tracker.observe([Finding(
        "container.exited", "alpha", "shop-web-1", 1, "web container exited",
        "container shop-web-1 exited (1)", services=("web",),
        evidence={"container": "shop-web-1"})], now=time.time())
    [asked] = [i.id for i in app.desk.incidents() if i.id != duplicate]
    app.desk.tracker.observe([Finding(
        "disk.full", "alpha", "/", 1, "disk full on alpha", "/ 97 % used",
        evidence={"used_percent": 97.0})], now=time.time())
    [into] = [i.id for i in app.desk.incidents() if i.id not in (duplicate, asked)]
    app.desk.tracker.merge(asked, into=into)  # the id the operator types leads on to `into`
    app._open_checklist = duplicate
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        _block_journal(tmp_path, into)
        await pilot.press("m")
        await pilot.pause()
        await pilot.press(*asked, "enter")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"{duplicate} is merged into {into}, but {into}'s journal "
                                "could not record it") for m in messages), messages
        assert not any(m.startswith("cannot merge") for m in messages)
        assert not app.desk.incident(duplicate).is_open  # the first write took
        assert app.is_running


async def test_a_resolve_whose_report_cannot_be_written_says_it_is_resolved(
    tmp_path: Path,
) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False)
    incident_id = _incident(app)
    (tmp_path / "incidents" / incident_id / "report.md").mkdir()  # in the report's way
    app._open_checklist = incident_id
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")  # the condition still holds: resolve anyway
        await pilot.pause()
        await pilot.press("ctrl+s")  # the report form as it is
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("resolved, but cannot write the report") and
                   f"warroom report {incident_id}" in m for m in messages), messages
        assert not app.desk.incident(incident_id).is_open
        assert app.is_running
