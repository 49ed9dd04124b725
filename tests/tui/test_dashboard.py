"""Pilot tests of the dashboard with fixed snapshots: navigation, palette, themes, safety."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

import core.runbooks.library
from core.config import Config
from core.runbooks.library import RunbookLibrary
from core.stepwise import Steps
from tests.tui.fixtures import alpha_state, beta_state, local_config
from tests.tui.waiting import until
from tui.app import HostStateChanged, WarroomApp
from widgets.containers_table import ContainersTable
from widgets.hosts_table import HostsTable
from widgets.panes import DiskPane, PostgresPane


async def _app_with_states(tmp_path: Path, read_only: bool = False) -> WarroomApp:
    return WarroomApp(local_config(tmp_path, read_only=read_only), start_monitor=False,
                      read_only=read_only)


async def _feed(app: WarroomApp) -> None:
    await app.fleet.start()
    app.post_message(HostStateChanged(alpha_state()))
    app.post_message(HostStateChanged(beta_state()))


def _cell_texts(table: ContainersTable) -> list[str]:
    return [str(cell) for row in range(table.row_count) for cell in table.get_row_at(row)]


async def test_overview_and_host_switching(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _feed(app)
        await pilot.pause()
        hosts = app.screen.query_one(HostsTable)
        assert hosts.row_count == 2
        overview = [str(c) for r in range(2) for c in hosts.get_row_at(r)]
        assert "3/4 running" in overview and "up" in overview
        # The OOM-killed container and the expired certificate open incidents at once.
        assert overview[2] == "3" and overview[4].startswith("P1 "), overview
        containers = app.screen.query_one(ContainersTable)
        assert "shop-api-1" in _cell_texts(containers)
        assert "blog-web-1" not in _cell_texts(containers)

        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.screen.current_host == "beta"  # type: ignore[attr-defined]
        assert _cell_texts(containers).count("blog-web-1") == 1
        assert "shop-api-1" not in _cell_texts(containers)

        await pilot.press("a")  # merged containers of every host
        await pilot.pause()
        texts = _cell_texts(containers)
        assert "shop-api-1" in texts and "blog-web-1" in texts

        await pilot.press("2")
        assert app.screen.query_one(TabbedContent).active == "disk"
        disk = app.screen.query_one(DiskPane)
        status = str(disk.query_one(".pane-status").render())
        assert "permission denied" in status


async def test_a_burst_of_snapshots_shows_the_newest_of_each_host(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.fleet.start()
        first = alpha_state()
        assert first.containers is not None and first.containers.data is not None
        renamed = tuple(replace(c, name=f"{c.name}-v{n}") for n in (2, 3)
                        for c in first.containers.data[:1])
        for n, data in enumerate(((), renamed[:1], renamed[1:])):  # queued together
            containers = replace(first.containers, data=data)
            app.post_message(HostStateChanged(replace(first, containers=containers)))
            if n == 1:
                app.post_message(HostStateChanged(beta_state()))
        await pilot.pause()
        assert _cell_texts(app.screen.query_one(ContainersTable)).count("shop-api-1-v3") == 1
        assert "shop-api-1-v2" not in _cell_texts(app.screen.query_one(ContainersTable))
        hosts = app.screen.query_one(HostsTable)
        overview = [str(c) for r in range(hosts.row_count) for c in hosts.get_row_at(r)]
        assert overview[:4] == ["alpha", "up", "2", "1/1 running"], overview  # not 0/0 (the first)
        assert app.states["beta"] == beta_state() and app.states["alpha"].containers == replace(
            first.containers, data=renamed[1:])


async def test_hostile_container_name_is_plain_text(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _feed(app)
        await pilot.pause()
        texts = _cell_texts(app.screen.query_one(ContainersTable))
        assert "[bold]evil[/bold]␛[2J" in texts


async def test_read_only_refuses_container_actions(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await _feed(app)
        await pilot.pause()
        assert "READ-ONLY" in app.sub_title
        await pilot.press("r")
        await pilot.pause()
        assert len(app.screen_stack) == 2  # no confirmation dialog opened
        messages = [n.message for n in app._notifications]
        assert any("read-only mode: refused" in m for m in messages)
        assert not (tmp_path / "audit.log").exists()


async def _alpha_postgres_pane(app: WarroomApp, pilot: Pilot[int]) -> PostgresPane:
    """Both hosts fed, the Postgres tab open on alpha, its table focused."""
    await _feed(app)
    await pilot.press("4")
    await pilot.pause()
    pane = app.screen.query_one(PostgresPane)
    pane.table.focus()
    return pane


async def test_postgres_terminate_asks_first_and_can_be_cancelled(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await _alpha_postgres_pane(app, pilot)
        assert pane.selected_pid == 4343
        await pilot.press("K")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"
        assert not (tmp_path / "audit.log").exists()


async def test_backend_action_from_another_tab_uses_the_host_on_screen(tmp_path: Path) -> None:
    """A pane out of sight still answers for the host shown now, not the one left behind."""
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await _alpha_postgres_pane(app, pilot)
        assert pane.selected_pid == 4343  # on alpha
        await pilot.press("1", "right_square_bracket")  # containers tab, then host beta
        await pilot.pause()
        assert app.screen.current_host == "beta"  # type: ignore[attr-defined]
        await pilot.press("K")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen", "asked to terminate alpha's pid"
        messages = [n.message for n in app._notifications]
        assert "no PostgreSQL backend selected" in messages


async def test_palette_lists_hosts_containers_views_and_themes(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _feed(app)
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Host: alpha", "Host: beta", "Container: shop-api-1 (alpha)",
                         "View: postgres", "Theme: warroom-light"):
            assert expected in titles
        command = next(c for c in app.get_system_commands(app.screen)
                       if c.title == "Theme: warroom-high-contrast")
        command.callback()
        await pilot.pause()
        assert app.theme == "warroom-high-contrast"
        assert app.theme_variables["severity-0"].upper() == "#FF0000"
        host = next(c for c in app.get_system_commands(app.screen) if c.title == "Host: beta")
        host.callback()
        await pilot.pause()
        assert app.screen.current_host == "beta"  # type: ignore[attr-defined]


async def test_keymap_rebinds_by_id(tmp_path: Path) -> None:
    from core.config import parse_config

    config = parse_config(
        f'[settings]\ndata_dir = "{tmp_path}"\n[keymap]\n"host.next" = "n"\n'
        '[[hosts]]\nname = "alpha"\ntransport = "local"\n'
        '[[hosts]]\nname = "beta"\ntransport = "local"\n'
    )
    app = WarroomApp(config, start_monitor=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await _feed(app)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.current_host == "beta"  # type: ignore[attr-defined]


async def test_no_binding_uses_ctrl_b(tmp_path: Path) -> None:
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.logs import LogScreen

    for owner in (WarroomApp, DashboardScreen, LogScreen, ConfirmScreen):
        for binding in owner.BINDINGS:
            keys = binding.key if hasattr(binding, "key") else binding[0]  # type: ignore[index]
            assert "ctrl+b" not in keys.split(","), owner
            assert getattr(binding, "id", None), f"{owner.__name__} binding {keys} has no id"


async def test_notifications_never_parse_markup(tmp_path: Path) -> None:
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.notify("failed: [@click=app.quit]x[/] \x1b]52;c;aGk=\x07")
        await pilot.pause()
        [note] = list(app._notifications)
        assert note.message == "failed: [@click=app.quit]x[/] ␛]52;c;aGk=␇"
        assert note.markup is False
        assert app.is_running


async def test_hostile_text_in_every_pane_stays_plain(tmp_path: Path) -> None:
    import dataclasses

    from core.state import CertInfo, EndpointCheck, PgBackend, PgState, ProbeResult, ProbeStatus
    from widgets.panes import CertsPane, EndpointsPane

    evil = "[bold]x[/bold][@click=app.quit]y[/]\x1b]8;;http://x\x1b\\z\r"
    shown = "[bold]x[/bold][@click=app.quit]y[/]␛]8;;http://x␛\\z␍"
    base = alpha_state()
    state = dataclasses.replace(
        base,
        certs=ProbeResult("certs", ProbeStatus.OK, (
            CertInfo("src", evil, evil, 1.9e9, 10.0, (), evil),), "", 0.0),
        endpoints=ProbeResult("endpoints", ProbeStatus.OK, (
            EndpointCheck(evil, "http://h/", "console", False, 500, 1.0, evil),), "", 0.0),
        postgres=ProbeResult("postgres", ProbeStatus.OK, PgState(
            100, 1, longest=(PgBackend(7, evil, evil, evil, "c", "active", evil, 1.0),)), "", 0.0),
        disk=ProbeResult("disk", ProbeStatus.ERROR, None, evil, 0.0),
    )
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await app.fleet.start()
        app.post_message(HostStateChanged(state))
        await pilot.pause()
        for tab, pane_type in (("certs", CertsPane), ("endpoints", EndpointsPane),
                               ("postgres", PostgresPane)):
            app.screen.query_one(TabbedContent).active = tab  # panes draw when shown
            await pilot.pause()
            pane = app.screen.query_one(pane_type)
            cells = [str(c) for r in range(pane.table.row_count) for c in pane.table.get_row_at(r)]
            assert any(shown in c for c in cells), (pane_type.__name__, cells)
            assert not any("\x1b" in c for c in cells)
        app.screen.query_one(TabbedContent).active = "disk"
        await pilot.pause()
        status = str(app.screen.query_one(DiskPane).query_one(".pane-status").render())
        assert shown in status
        assert app.is_running


async def test_hosts_connect_first_and_the_probes_start_once_the_screen_is_up(
    tmp_path: Path,
) -> None:
    """The probes' stream of updates must not hold back the first paint (it did, by 1.5 s)."""
    app = WarroomApp(local_config(tmp_path))
    seen_at_start: dict[str, object] = {}

    async def start() -> None:
        seen_at_start["screen"] = type(app.screen).__name__
        seen_at_start["links"] = {h.name: h.state.value for h in app.fleet}

    app.monitor.start = start  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert seen_at_start["screen"] == "DashboardScreen"
        assert "closed" not in set(seen_at_start["links"].values())  # type: ignore[union-attr]
        assert app.monitor.probes.keys() == {"alpha", "beta"}


async def test_monitor_starts_with_only_the_first_host_in_focus(tmp_path: Path) -> None:
    """Container stats (a request per container) are sampled for the shown host from the start."""
    app = WarroomApp(local_config(tmp_path))
    seen_at_start: dict[str, bool] = {}

    async def start() -> None:  # stands in for connecting: what matters is the focus by then
        seen_at_start.update({h.name: app.monitor.in_focus(h.name) for h in app.config.hosts})

    app.monitor.start = start  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert seen_at_start == {"alpha": True, "beta": False}


async def test_a_journal_that_cannot_be_read_is_named_at_start(tmp_path: Path) -> None:
    import os

    journal = tmp_path / "incidents" / "inc-1" / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    os.mkfifo(journal)  # opening a pipe for reading would hang the start for ever
    app = await _app_with_states(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert "cannot read the journal of inc-1: not a regular file" in messages
        assert app.is_running


def _config_with_a_broken_runbook(tmp_path: Path) -> Config:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "broken.toml").write_text("id = [unclosed\n")
    config = local_config(tmp_path)
    return replace(config, settings=replace(config.settings, runbook_dirs=(str(runbooks),)))


def _runbook_warnings(app: WarroomApp) -> list[str]:
    return [n.message for n in app._notifications if n.title == "runbook not loaded"]


async def test_the_runbooks_load_a_step_at_a_time_and_the_rules_wait_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incident opens with its runbook. The runbooks are parsed one per turn of the
    event loop (never all at once on it, nor in a thread); snapshots that come
    before they are in wait for them."""
    monkeypatch.setattr(core.runbooks.library, "_builtin", None)  # (read by another test)
    app = WarroomApp(_config_with_a_broken_runbook(tmp_path), start_monitor=False)
    release = asyncio.Event()
    steps_taken = []
    loading = app.desk.runbook_loading

    def held_back() -> Steps[RunbookLibrary]:
        while not release.is_set():
            yield
        library = yield from loading()
        return library

    load = app.desk.load_runbooks

    def all_at_once() -> RunbookLibrary:  # (once loaded, every use of the library asks)
        assert app.desk.runbooks_loaded, "the runbooks were parsed all at once"
        return load()

    def step_counted() -> Steps[RunbookLibrary]:
        steps = held_back()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            steps_taken.append(threading.current_thread() is threading.main_thread())
            yield

    app.desk.runbook_loading = step_counted  # type: ignore[method-assign]
    app.desk.load_runbooks = all_at_once  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await app.fleet.start()
        app.post_message(HostStateChanged(alpha_state()))  # an OOM-killed container, say
        await pilot.pause(0.3)
        assert app.desk.incidents() == [] and not app.desk.runbooks_loaded
        held = len(steps_taken)
        assert held > 1  # the loop went on turning meanwhile
        release.set()
        await until(lambda: app.desk.incidents(), 10, pilot)
        assert all(i.runbook for i in app.desk.incidents() if i.host == "alpha")
        assert "broken.toml" in _runbook_warnings(app)[0]
        assert len(steps_taken) > held + 20 and all(steps_taken)  # a step per runbook
