"""The warroom App: themes, keymap, the monitor feeding the screens, and actions."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from core.audit import Actions, AuditLog
from core.config import Config
from core.hosts import Fleet, LinkEvent
from core.hosts.local import LocalHost
from core.incidents.desk import IncidentDesk
from core.monitor import Monitor
from core.runbooks.model import CONSOLE_HOST
from core.state import HostState
from core.stepwise import finish_between
from core.textsafe import visible
from themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes
from tui.screens.checklist import ChecklistScreen
from tui.screens.dashboard import DashboardScreen


@dataclass
class HostStateChanged(Message):
    """A new snapshot of one host."""

    state: HostState


@dataclass
class LinkChanged(Message):
    """A host's link went up, down, or is reconnecting."""

    event: LinkEvent


class IncidentsChanged(Message):
    """Incidents were opened, changed or recovered (here or by a pairing console)."""


FREEZE_AFTER_SECONDS = 10.0
"""When the console moves its start-up objects out of the garbage collector's walks."""


class WarroomApp(App[int]):
    """The console."""

    TITLE = "warroom"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("f5", "refresh", "Refresh", id="app.refresh"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, id="app.theme"),
    ]

    def __init__(
        self,
        config: Config,
        *,
        theme: str | None = None,
        read_only: bool = False,
        start_monitor: bool = True,
        checklist: str | None = None,
        freeze_start_up: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.read_only = read_only
        self.actions = Actions(AuditLog(config.audit_path), config.operator, read_only,
                               on_failure=self._audit_failed)
        self.fleet = Fleet(config)
        self.console_host = LocalHost(CONSOLE_HOST)
        """Runs runbook steps marked ``host = "console"`` on this machine."""
        self.monitor = Monitor(config, self.fleet, self._state_from_core, self._link_from_core)
        self.states: dict[str, HostState] = {}
        self._unshown: dict[str, HostState] = {}
        """Snapshots received and not yet drawn (see on_host_state_changed)."""
        self.desk = IncidentDesk(config)
        self._start_monitor = start_monitor
        self._open_checklist = checklist
        self._freeze_start_up = freeze_start_up
        self._journal_error = ""
        self._audit_retry: Timer | None = None
        self._exiting = False
        for registered in load_themes():
            self.register_theme(registered)
        wanted = theme or config.settings.theme or DEFAULT_THEME
        self._theme_warning = ""
        if wanted not in self.available_themes:
            self._theme_warning = f"unknown theme {wanted!r}; using {DEFAULT_THEME}"
            wanted = DEFAULT_THEME
        self.theme = wanted
        if config.keymap:
            self.set_keymap(dict(config.keymap))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications often quote untrusted text (errors, names): never markup or escapes."""
        super().notify(visible(message), title=visible(title), severity=severity,
                       timeout=timeout, markup=False)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    async def on_mount(self) -> None:
        if self._freeze_start_up:  # no full collections while start-up builds (see below)
            gc.disable()
            self.set_timer(FREEZE_AFTER_SECONDS, self._freeze_start_up_objects)
        self.sub_title = self.config.source + ("  [READ-ONLY]" if self.read_only else "")
        if self.config.hosts:  # the dashboard opens on the first host: only it samples stats
            self.monitor.focus([self.config.hosts[0].name])
        if self._start_monitor:  # the hosts connect while the screen is built; the probes
            # start once it is painted (their stream of updates would hold back the first paint)
            await self.monitor.connect()
        await self.push_screen(DashboardScreen())
        if self._start_monitor:
            self.call_after_refresh(self._start_probes)
        if self._theme_warning:
            self.notify(self._theme_warning, severity="warning")
        if self.desk.tracker.root_error:
            self.notify(f"cannot list {self.config.journal_dir}: {self.desk.tracker.root_error}",
                        title="incidents not shown", severity="error", timeout=30)
        unreadable = self.desk.tracker.unreadable
        if unreadable:
            first, why = next(iter(unreadable.items()))
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            self.notify(f"cannot read the journal of {first}: {why}{more}",
                        title="incidents not shown", severity="error", timeout=30)
        # after the first paint: parsing them would slow the building of the screen
        self.call_after_refresh(self._start_loading_runbooks)
        if self._open_checklist:
            if self.desk.tracker.knows(self._open_checklist):
                await self.push_screen(ChecklistScreen(self._open_checklist))
            else:
                self.notify(f"no incident {self._open_checklist!r} in {self.config.journal_dir}",
                            severity="error", timeout=10)
        self.run_worker(self._watch_journal(), name="journal", exclusive=True, group="journal")
        self.set_interval(1.0, self._evaluate)

    def _start_loading_runbooks(self) -> None:
        if not self._exiting:
            self.run_worker(self._load_runbooks(), name="runbooks", group="runbooks")

    def _start_probes(self) -> None:
        if not self._exiting:  # (Monitor.start also does nothing once it is closed)
            self.run_worker(self.monitor.start(), name="monitor", exclusive=True)

    def _freeze_start_up_objects(self) -> None:
        """Take what start-up built (styles, widgets, runbooks) out of the collector's walks.

        A full collection walks every tracked object: about 200,000 once the
        dashboard is up, 100-160 ms of the event loop each time on a slow
        machine, and start-up triggered two or three of them.  So the
        collector is off from mount (from before the imports when ``warroom``
        runs: :func:`tui.cli.prepare_console`) until now, then everything is frozen and
        the collector turned back on.  There is no collection first: on a busy
        console it stalled the loop for 0.43 s (a key press during a log
        firehose waited that long).  The price is that start-up's own
        reference cycles (about 32,000 objects with 10 hosts, a few MB) are
        never freed; everything else still is, by reference counting or by
        the collector's later walks.  Off in tests, where many apps share one
        process.
        """
        if self._exiting:
            return
        gc.freeze()
        gc.enable()

    async def _load_runbooks(self) -> None:
        """Parse the runbooks while the first probes run, one per turn of the event loop
        (in a thread, the parse held the loop up at each of its system calls: the
        launch filled 0.14 s later); report the bad ones."""
        library = await finish_between(self.desk.runbook_loading())
        for error in library.errors:
            self.notify(str(error), title="runbook not loaded", severity="warning", timeout=10)
        self._evaluate()  # (the snapshots that came meanwhile waited for the runbooks)

    async def action_quit(self) -> None:
        self._exiting = True
        await super().action_quit()

    async def on_unmount(self) -> None:
        self._exiting = True
        if self._freeze_start_up and not gc.isenabled():  # quit within start-up
            gc.enable()
        self.actions.flush()  # what is still pending is printed by the command line
        await self.monitor.close()
        await self.console_host.close()

    # -- core → UI -------------------------------------------------------------

    def _audit_failed(self, message: str) -> None:
        self.notify(message, title="audit log", severity="error", timeout=30)
        if self._audit_retry is None:  # every second until the entries are written
            self._audit_retry = self.set_interval(1.0, self._retry_audit)

    def _retry_audit(self) -> None:
        """Write the audit entries that could not be written (see Actions.record)."""
        count = len(self.actions.pending)
        if self.actions.flush():
            if count:
                self.notify(f"audit log written again ({count} entries that waited)",
                            title="audit log", timeout=10)
            if self._audit_retry is not None:
                self._audit_retry.stop()
                self._audit_retry = None

    def _state_from_core(self, state: HostState) -> None:
        self.post_message(HostStateChanged(state))

    def _link_from_core(self, event: LinkEvent) -> None:
        self.post_message(LinkChanged(event))

    def _dashboards(self) -> list[DashboardScreen]:
        """Dashboards that are composed and not being torn down."""
        if self._exiting:
            return []
        return [s for s in self.screen_stack if isinstance(s, DashboardScreen) and s.ready]

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        """Keep the snapshot; draw it, with every other one queued meanwhile, once.

        At launch every host's probes answer within a few hundred ms of each
        other: drawing the overview and running the rules once for the whole
        batch, not once per snapshot, leaves the CPU to the probes.
        """
        self.states[message.state.name] = message.state
        if not self._unshown:  # the first of a batch: drawn after the messages queued now
            self.call_later(self._show_states)
        self._unshown[message.state.name] = message.state

    def _show_states(self) -> None:
        states, self._unshown = list(self._unshown.values()), {}
        for screen in self._dashboards():
            with contextlib.suppress(NoMatches):  # torn down between check and call
                screen.show_states(states)
        self._evaluate()

    def _evaluate(self) -> None:
        """Run the detection rules over the latest snapshots (on each one, and every second,
        so a condition that must hold N seconds opens its incident on time)."""
        if not self.states:
            return
        if not self.desk.runbooks_loaded:
            return  # an incident opens with its runbook: parsing them here would stall the
            # screen, so the rules run once _load_runbooks has them
        try:
            changed = self.desk.process(self.states)
        except OSError as exc:
            problem = f"cannot write incident journals in {self.config.journal_dir}: {exc}"
            if problem != self._journal_error:
                self._journal_error = problem
                self.notify(problem, severity="error", timeout=30)
            return
        self._journal_error = ""
        if changed:
            self.post_message(IncidentsChanged())

    async def _watch_journal(self) -> None:
        """Follow what pairing consoles write to the shared journal directory."""
        if self.desk.watcher is None:  # (a desk made not to watch: nothing to follow)
            return
        async for batch in self.desk.watcher.watch():
            if self.desk.tracker.ingest(batch):
                self.post_message(IncidentsChanged())

    def on_incidents_changed(self, message: IncidentsChanged) -> None:
        for dashboard in self._dashboards():
            with contextlib.suppress(NoMatches):
                dashboard.show_incidents()
        for screen in self.screen_stack:
            if isinstance(screen, ChecklistScreen) and screen.is_mounted:
                screen.show()

    def on_link_changed(self, message: LinkChanged) -> None:
        for screen in self._dashboards():
            with contextlib.suppress(NoMatches):
                screen.show_link(message.event)

    # -- actions ---------------------------------------------------------------

    def action_refresh(self) -> None:
        self.monitor.refresh_now()
        self.notify("refreshing every host", timeout=2)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        dashboard = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        if dashboard is None:
            return
        yield from dashboard.palette_commands()
        for theme_name in sorted(self.available_themes):
            if theme_name.startswith("warroom"):
                yield SystemCommand(
                    f"Theme: {theme_name}",
                    "Switch the colour theme",
                    lambda name=theme_name: setattr(self, "theme", name),
                )
