"""The dashboard: the host overview on top, the selected host's panes below."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from core.audit import ReadOnlyRefusal
from core.hosts import LinkEvent, LinkState
from core.overview import host_line
from core.runbooks.model import Runbook
from core.state import HostState
from core.textsafe import visible
from core.units import human_bytes
from tui.screens.checklist import ChecklistScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.logs import LogScreen
from tui.screens.text_view import TextViewScreen
from widgets.containers_table import ContainerRef, ContainersTable
from widgets.hosts_table import HostsTable
from widgets.incidents_table import IncidentsTable
from widgets.panes import (
    BackupsPane,
    CertsPane,
    DiskPane,
    EndpointsPane,
    PostgresPane,
    SystemPane,
)
from widgets.safe import safe_text
from widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from tui.app import WarroomApp

TABS = ("containers", "disk", "system", "postgres", "certs", "endpoints", "backups",
        "incidents")


class DashboardScreen(Screen[None]):
    """Everything about every host, one key away."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "next_host", "Next host", id="host.next"),
        Binding("left_square_bracket", "prev_host", "Prev host", id="host.prev"),
        Binding("a", "toggle_all", "All hosts", id="containers.all-hosts"),
        Binding("l", "logs", "Logs", id="container.logs"),
        Binding("r", "container('restart')", "Restart", id="container.restart"),
        Binding("s", "container('stop')", "Stop", id="container.stop"),
        Binding("S", "container('start')", "Start", id="container.start"),
        Binding("i", "inspect", "Inspect", id="container.inspect"),
        Binding("I", "tab('incidents')", "Incidents", id="view.incidents-panel"),
        Binding("c", "backend('cancel')", "Cancel query", show=False, id="postgres.cancel"),
        Binding("K", "backend('terminate')", "Terminate", show=False, id="postgres.terminate"),
        Binding("u", "largest_dirs", "Largest dirs", show=False, id="disk.largest"),
        *(
            Binding(str(n), f"tab('{tab}')", tab.title(), show=False, id=f"view.{tab}")
            for n, tab in enumerate(TABS, start=1)
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_host: str | None = None
        self._title = Text()
        self.all_hosts = False
        self.ready = False
        """True once composed and mounted (and until unmounted)."""
        self._incidents_signature: tuple[object, ...] | None = None

    @property
    def warroom(self) -> WarroomApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield HostsTable(id="hosts")
        yield Static(id="host-title")
        with TabbedContent(id="tabs", initial="containers"):
            with TabPane("Containers", id="containers"):
                yield Static(id="containers-status")
                yield ContainersTable(id="containers-table")
            with TabPane("Disk", id="disk"):
                yield DiskPane(id="disk-pane")
            with TabPane("System", id="system"):
                yield SystemPane(id="system-pane")
            with TabPane("Postgres", id="postgres"):
                yield PostgresPane(id="postgres-pane")
            with TabPane("Certs", id="certs"):
                yield CertsPane(id="certs-pane")
            with TabPane("Endpoints", id="endpoints"):
                yield EndpointsPane(id="endpoints-pane")
            with TabPane("Backups", id="backups"):
                yield BackupsPane(id="backups-pane")
            with TabPane("Incidents", id="incidents"):
                yield IncidentsTable(id="incidents-table")
        yield SteadyFooter()

    def on_mount(self) -> None:
        names = [h.name for h in self.warroom.config.hosts]
        self.current_host = names[0] if names else None
        self._sample_shown_hosts()
        self._render_overview()
        self._render_host()
        self.show_incidents()
        self.set_interval(1.0, self.show_incidents)
        self.query_one("#containers-table").focus()
        self.ready = True

    def on_unmount(self) -> None:
        self.ready = False

    # -- state -----------------------------------------------------------------

    def show_states(self, states: list[HostState]) -> None:
        """Hosts have new snapshots: update the overview and, if shown, their panes."""
        self._render_overview()
        for state in states:
            if self.all_hosts and state.containers is not None:
                self._containers_for(state)
        if any(state.name == self.current_host for state in states):
            self._render_host()

    def show_link(self, event: LinkEvent) -> None:
        """A host's link changed."""
        self._render_overview()
        if event.host == self.current_host:
            self._render_title()

    def show_incidents(self) -> None:
        """Redraw the incident panel, its tab label and the overview's incident counts.

        Runs every second for the response timers: the panel is redrawn only
        while it is shown, the rest only when the incidents changed.
        """
        desk = self.warroom.desk
        incidents = desk.incidents()
        tabs = self.query_one(TabbedContent)
        signature = tuple((i.id, i.severity, i.status) for i in incidents)
        changed = signature != self._incidents_signature
        if tabs.active == "incidents" or changed:
            self.query_one(IncidentsTable).show_incidents(incidents, desk.scheme)
        if not changed:
            return
        self._incidents_signature = signature
        tabs.get_tab("incidents").label = (
            f"Incidents ({len(incidents)})" if incidents else "Incidents"
        )
        self._render_overview()

    def _render_overview(self) -> None:
        lines = []
        incidents = self.warroom.desk.incidents()
        scheme = self.warroom.desk.scheme
        for host_config in self.warroom.config.hosts:
            host = self.warroom.fleet[host_config.name]
            state = self.warroom.states.get(host_config.name)
            mine = [i for i in incidents if i.host == host_config.name]
            worst = None
            if mine:
                top = mine[0]  # worst first
                worst = (scheme.clamp(top.severity),
                         f"{scheme.label(top.severity)} {top.title}")
            lines.append(host_line(host_config, host.state, host.reason, state, worst, len(mine)))
        self.query_one(HostsTable).show_lines(lines)

    def _render_title(self) -> None:
        title = self.query_one("#host-title", Static)
        if self.current_host is None:
            self._title = Text("no hosts configured")
            title.update(self._title)
            return
        host = self.warroom.fleet[self.current_host]
        names = [h.name for h in self.warroom.config.hosts]
        position = f"{names.index(self.current_host) + 1}/{len(names)}"
        text = safe_text(f" {self.current_host} ({position}) — {host.state.value}")
        if host.state is not LinkState.UP and host.reason:
            text.append_text(safe_text(f": {host.reason}"))
        if self.all_hosts:
            text.append("  · containers of all hosts")
        if text != self._title:  # unchanged: no repaint
            self._title = text
            title.update(text)

    def _containers_for(self, state: HostState) -> None:
        table = self.query_one(ContainersTable)
        result = state.containers
        if result is not None and result.ok and result.data is not None:
            table.update_host(state.name, result.data, result.at)
        else:
            table.drop_host(state.name)

    def _render_host(self) -> None:
        self._render_title()
        state = self.warroom.states.get(self.current_host or "")
        table = self.query_one(ContainersTable)
        for name in self.warroom.states:
            if name != self.current_host and not self.all_hosts:
                table.drop_host(name)
        if state is None:
            return
        if self.all_hosts:
            for other in self.warroom.states.values():
                self._containers_for(other)
        else:
            self._containers_for(state)
        status = self.query_one("#containers-status", Static)
        result = state.containers
        if result is not None and not result.ok:
            status.update(safe_text(f"{result.status.value}: {result.reason}"))
            status.display = True
        else:
            status.display = False
        disk = self.query_one(DiskPane)
        disk.docker_df = state.docker_df
        disk.show(state.disk)
        self.query_one(SystemPane).show(state.system)
        self.query_one(PostgresPane).show(state.postgres)
        self.query_one(CertsPane).show(state.certs)
        self.query_one(EndpointsPane).show(state.endpoints)
        self.query_one(BackupsPane).show(state.backups)

    # -- navigation ------------------------------------------------------------

    def _sample_shown_hosts(self) -> None:
        """Container CPU and memory are sampled for the hosts this screen shows only."""
        shown = None if self.all_hosts else [self.current_host] if self.current_host else []
        self.warroom.monitor.focus(shown)

    def select_host(self, name: str) -> None:
        """Show host ``name``'s panes."""
        if name == self.current_host:
            return
        self.current_host = name
        self._sample_shown_hosts()
        self._render_host()

    def _step_host(self, step: int) -> None:
        names = [h.name for h in self.warroom.config.hosts]
        if not names:
            return
        index = names.index(self.current_host) if self.current_host in names else 0
        self.select_host(names[(index + step) % len(names)])
        table = self.query_one(HostsTable)
        table.move_cursor(row=names.index(self.current_host or names[0]))

    def action_next_host(self) -> None:
        self._step_host(1)

    def action_prev_host(self) -> None:
        self._step_host(-1)

    @on(DataTable.RowHighlighted, "#hosts")
    def _host_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.select_host(event.row_key.value)

    @on(DataTable.RowSelected, "#incidents-table")
    def _incident_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(ChecklistScreen(event.row_key.value))

    def action_toggle_all(self) -> None:
        self.all_hosts = not self.all_hosts
        self._sample_shown_hosts()
        self._render_host()
        self.query_one(TabbedContent).active = "containers"

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    # -- container actions -----------------------------------------------------

    def _selected_container(self) -> ContainerRef | None:
        ref = self.query_one(ContainersTable).selected
        if ref is None:
            self.notify("no container selected", severity="warning")
        return ref

    def action_logs(self) -> None:
        ref = self._selected_container()
        if ref is not None:
            self.app.push_screen(LogScreen(ref.host, ref.id, ref.name))

    @work(exclusive=False)
    async def action_inspect(self) -> None:
        ref = self._selected_container()
        if ref is None:
            return
        probes = self.warroom.monitor.probes.get(ref.host)
        if probes is None:
            return
        text = await probes.inspect_container(ref.id)
        await self.app.push_screen(TextViewScreen(f"inspect {ref.name} on {ref.host}", text))

    @work(exclusive=True, group="du")
    async def action_largest_dirs(self) -> None:
        """The largest directories under the mount selected in the Disk pane."""
        host = self.current_host
        mount = self.query_one(DiskPane).selected_key
        probes = self.warroom.monitor.probes.get(host or "")
        if host is None or mount is None or probes is None:
            self.notify("select a mount in the Disk pane first", severity="warning")
            return
        self.notify(f"measuring directories under {mount} on {host}…")
        result = await probes.largest_dirs(mount, 15)
        if not result.ok or result.data is None:
            self.notify(f"du failed: {result.reason}", severity="error")
            return
        lines = [f"{human_bytes(d.bytes):>8}  {d.path}" for d in result.data]
        await self.app.push_screen(TextViewScreen(f"largest under {mount} on {host}",
                                                  "\n".join(lines)))

    @work(exclusive=False)
    async def action_container(self, verb: str) -> None:
        ref = self._selected_container()
        if ref is None:
            return
        actions = self.warroom.actions
        what = f"docker {verb} {ref.name}"
        try:
            actions.check_allowed(f"{what} on {ref.host}")
        except ReadOnlyRefusal as refusal:
            self.notify(str(refusal), severity="error")
            return
        confirmed = await self.app.push_screen_wait(
            ConfirmScreen(f"{verb.title()} container {ref.name} on {ref.host}?", what)
        )
        if not confirmed:
            self.notify(f"{verb} cancelled")
            return
        probes = self.warroom.monitor.probes[ref.host]
        try:
            await actions.call(ref.host, what, lambda: probes.container_action(ref.id, verb))
        except ReadOnlyRefusal as refusal:
            self.notify(str(refusal), severity="error")
            return
        except Exception as exc:
            self.notify(f"{what} failed: {exc}", severity="error")
            return
        self.notify(f"{what}: done")
        self.warroom.monitor.refresh_now(ref.host)

    @work(exclusive=False)
    async def action_backend(self, verb: str) -> None:
        pane = self.query_one(PostgresPane)
        pid = pane.selected_pid
        host = self.current_host
        if pid is None or host is None:
            self.notify("no PostgreSQL backend selected", severity="warning")
            return
        what = f"pg_{verb}_backend({pid})"
        try:
            self.warroom.actions.check_allowed(f"{what} on {host}")
        except ReadOnlyRefusal as refusal:
            self.notify(str(refusal), severity="error")
            return
        if not await self.app.push_screen_wait(
            ConfirmScreen(f"{verb.title()} PostgreSQL backend {pid} on {host}?", what)
        ):
            return
        probes = self.warroom.monitor.probes[host]
        try:
            await self.warroom.actions.call(host, what, lambda: probes.backend_action(pid, verb))
        except Exception as exc:
            self.notify(f"{what} failed: {exc}", severity="error")
            return
        self.notify(f"{what}: done")
        self.warroom.monitor.refresh_now(host)

    # -- palette ---------------------------------------------------------------

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Hosts, containers, views and actions for the command palette."""
        for host in self.warroom.config.hosts:
            yield _command(
                f"Host: {host.name}", "Show this host's panes",
                partial(self._palette_host, host.name),
            )
        for ref in self.query_one(ContainersTable).refs():
            yield _command(
                f"Container: {ref.name} ({ref.host})", "Show this container's logs",
                partial(self._open_logs, ref.host, ref.id, ref.name, ""),
            )
        for host in self.warroom.config.hosts:
            for log in host.logs:
                yield _command(
                    f"Log file: {log.name} ({host.name})", f"Follow {log.path}",
                    partial(self._open_logs, host.name, "", log.name, log.path),
                )
        for tab in TABS:
            yield _command(
                f"View: {tab}", f"Show the {tab} pane",
                partial(self.action_tab, tab),
            )
        yield _command("View: containers of all hosts", "Merged containers view",
                       self.action_toggle_all)
        for incident in self.warroom.desk.incidents():
            yield _command(
                f"Incident: {incident.title} ({incident.host})", f"Open {incident.id}",
                partial(self._open_incident, incident.id),
            )
        runbooks = self.warroom.desk.library if self.warroom.desk.runbooks_loaded else ()
        for runbook in runbooks:  # (not parsed here: still loading, they come a moment later)
            yield _command(
                f"Runbook: {runbook.title}", f"Read runbook {runbook.id}",
                partial(self._show_runbook, runbook),
            )
        yield _command("Action: refresh every host", "Refresh now",
                       self.warroom.action_refresh)

    def _open_logs(self, host: str, container_id: str, name: str, path: str) -> None:
        self.app.push_screen(LogScreen(host, container_id, name, file_path=path))

    def _open_incident(self, incident_id: str) -> None:
        self.app.push_screen(ChecklistScreen(incident_id))

    def _show_runbook(self, runbook: Runbook) -> None:
        self.app.push_screen(TextViewScreen(f"runbook {runbook.id}", runbook_text(runbook)))

    def _palette_host(self, name: str) -> None:
        self.select_host(name)
        names = [h.name for h in self.warroom.config.hosts]
        self.query_one(HostsTable).move_cursor(row=names.index(name))


def runbook_text(runbook: Runbook) -> str:
    """A runbook as plain text for reading (steps with their commands)."""
    lines = [runbook.title, "", runbook.description.strip(), ""]
    for n, step in enumerate(runbook.steps, start=1):
        lines.append(f"{n}. [{step.kind}] {step.display_title}")
        for text in (step.why, step.instructions, step.question):
            if text:
                lines.extend(f"   {line}" for line in text.strip().splitlines())
        if step.command:
            lines.append(f"   $ {step.command}")
        lines.append("")
    return "\n".join(lines)


def _command(title: str, help: str, callback: Callable[[], object]) -> SystemCommand:
    """A palette entry; titles quote names and titles, which the palette would parse as markup."""
    return SystemCommand(escape(visible(title)), escape(visible(help)), callback)
