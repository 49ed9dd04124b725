"""Guided checklist mode: one runbook step at a time, on the right host.

Shows what the step does and why, the exact command and the host it runs
on; runs it with the output streaming below; records everything in the
incident's journal (so a pairing partner sees it, and a restarted console
resumes here).  Progress and elapsed time are always on screen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from core.audit import ReadOnlyRefusal
from core.config import PostgresConfig
from core.hosts import Host
from core.incidents.checklist import Checklist, StepRecord, StepStatus
from core.incidents.journal import Event
from core.incidents.runner import run_step
from core.incidents.severity import format_duration
from core.redact import MASK
from core.runbooks.model import CONSOLE_HOST, Runbook, Step
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from widgets.colors import theme_color
from widgets.log_view import LogView
from widgets.probe_pane import KeyedTable
from widgets.safe import safe_text
from widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from tui.app import WarroomApp

SCREEN_MASK = "********"
"""What a secret variable shows as in a command on screen."""

STATUS_VARIABLE = {
    StepStatus.PASSED: "state-up",
    StepStatus.DONE: "state-up",
    StepStatus.ANSWERED: "state-up",
    StepStatus.FAILED: "state-down",
    StepStatus.RUNNING: "state-warn",
    StepStatus.SKIPPED: "state-muted",
    StepStatus.PENDING: "state-muted",
}


class ChecklistScreen(Screen[None]):
    """Walk one incident's runbook."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="checklist.back"),
        Binding("x", "run", "Run step", id="checklist.run"),
        Binding("d", "done", "Done", id="checklist.done"),
        Binding("s", "skip", "Skip", id="checklist.skip"),
        Binding("p", "previous", "Prev step", id="checklist.previous"),
        Binding("n", "note", "Note", id="checklist.note"),
        Binding("o", "overview", "Overview", id="checklist.overview"),
        Binding("a", "acknowledge", "Ack", id="incident.acknowledge"),
        Binding("v", "reclassify", "Severity", show=False, id="incident.reclassify"),
        Binding("m", "merge", "Merge", show=False, id="incident.merge"),
        Binding("R", "resolve", "Resolve", id="incident.resolve"),
        Binding("F", "report_fields", "Report", show=False, id="incident.report"),
        *(Binding(str(n), f"choose({n})", f"Choice {n}", show=False, id=f"checklist.choice{n}")
          for n in range(1, 10)),
    ]

    DEFAULT_CSS = """
    ChecklistScreen #incident-head { height: auto; padding: 0 1; background: $panel; }
    ChecklistScreen #progress { height: 1; padding: 0 1; }
    ChecklistScreen #step { height: auto; max-height: 12; padding: 0 1;
                             border-top: solid $primary; }
    ChecklistScreen #result { height: auto; padding: 0 1; }
    ChecklistScreen #overview { display: none; height: 1fr; }
    ChecklistScreen.overview #overview { display: block; }
    ChecklistScreen.overview #output { display: none; }
    ChecklistScreen #output { height: 1fr; }
    """

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.running = False

    @property
    def warroom(self) -> WarroomApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="incident-head")
        yield Static(id="progress")
        with Vertical(id="step-area"):
            yield Static(id="step")
            yield Static(id="result")
        yield LogView(max_lines=5000, id="output")
        yield KeyedTable(("#", "step", "kind", "status", "by", "result"), id="overview")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"incident {self.incident_id}"
        self.show()
        self.set_interval(1.0, self._tick)
        self.query_one(LogView).focus()

    # -- model -----------------------------------------------------------------

    def _runbook(self) -> Runbook | None:
        return self.warroom.desk.runbook(self.incident_id)

    def _checklist(self) -> Checklist | None:
        return self.warroom.desk.checklist(self.incident_id)

    def _current(self) -> tuple[Checklist, Step] | None:
        checklist = self._checklist()
        if checklist is None or checklist.current is None:
            return None
        return checklist, checklist.current  # type: ignore[return-value]

    # -- rendering -------------------------------------------------------------

    def _tick(self) -> None:
        self._render_head()

    def show(self) -> None:
        """Redraw everything from the journal's view of the incident."""
        self._render_head()
        self._render_step()
        self._render_overview()

    def _render_head(self) -> None:
        desk = self.warroom.desk
        try:
            incident = desk.incident(self.incident_id)
        except KeyError:
            self.query_one("#incident-head", Static).update(
                safe_text(f"unknown incident {self.incident_id}"))
            return
        scheme = desk.scheme
        timer = scheme.timer(incident.severity, incident.detected_at, time.time(),
                             incident.acknowledged_at)
        head = Text()
        head.append(f" {scheme.label(incident.severity)} ",
                    style=f"bold reverse {theme_color(self, f'severity-{incident.severity}')}")
        head.append(" ")
        head.append_text(safe_text(incident.title))
        head.append(f"  on {incident.host}  ·  {incident.status.value}")
        target = scheme.describe_target(incident.severity)
        clock = f"  ·  {format_duration(timer.elapsed)} since detection (target {target}"
        head.append(clock)
        if timer.overdue:
            head.append(", OVERDUE", style=theme_color(self, "state-down"))
        head.append(")")
        if incident.summary:
            head.append("\n ")
            head.append_text(safe_text(incident.summary))
        self.query_one("#incident-head", Static).update(head)
        checklist = self._checklist()
        runbook = self._runbook()
        progress = Text()
        if runbook is None or checklist is None:
            progress.append(f" no runbook matches {incident.rule}: work from the evidence above")
        elif checklist.finished:
            progress.append(f" checklist complete ({checklist.total} steps) · {runbook.title}")
        else:
            progress.append(f" step {checklist.index + 1} of {checklist.total}", style="bold")
            progress.append(f"  ·  elapsed {format_duration(time.time() - incident.detected_at)}")
            progress.append("  ·  ")
            progress.append_text(safe_text(runbook.title))
        self.query_one("#progress", Static).update(progress)

    def _render_step(self) -> None:
        step_box = self.query_one("#step", Static)
        result_box = self.query_one("#result", Static)
        current = self._current()
        if current is None:
            checklist = self._checklist()
            step_box.update(Text("All steps are settled. Press R to resolve (the report form "
                                 "opens first), or p to go back a step."
                                 if checklist else "No runbook for this incident."))
            result_box.update("")
            return
        checklist, step = current
        text = Text()
        text.append(f"[{step.kind}] ", style="bold")
        text.append_text(safe_text(step.display_title))
        if step.destructive:
            text.append("  DESTRUCTIVE", style=f"bold {theme_color(self, 'state-down')}")
        for paragraph in (step.why, step.instructions, step.question):
            if paragraph:
                text.append("\n")
                text.append_text(safe_text(paragraph.strip()))
        if step.runs_command:
            command, missing = self._command(step)
            host, _, _ = self._target(step)
            text.append("\n$ ", style="bold")
            text.append_text(safe_text(command.strip()))
            where = f"SQL on {host}'s database" if step.runner == "sql" else f"on {host}"
            text.append("\n")
            text.append_text(safe_text(f"  {where}", style=theme_color(self, "state-muted")))
            if missing:
                text.append(f"  (will ask for: {', '.join(missing)})",
                            style=theme_color(self, "state-warn"))
            keys = "x run · s skip · d accept and move on · n note · p back"
        elif step.kind == "decision":
            for n, (label, _next) in enumerate(checklist.choices(step), start=1):
                text.append(f"\n  {n}) ", style="bold")
                text.append_text(safe_text(label, style="bold"))
            keys = "1-9 answer · s skip · n note · p back"
        else:
            keys = "d done · s skip · n note · p back"
        text.append(f"\n{keys}", style=theme_color(self, "state-muted"))
        for note in checklist.record(step.id).notes[-3:]:
            text.append("\nnote ", style="bold")
            text.append_text(safe_text(f"by {note.operator}: {note.text}"))
        step_box.update(text)
        result_box.update(self._result_text(checklist.record(step.id)))

    def _result_text(self, record: StepRecord) -> Text:
        if record.status is StepStatus.PENDING:
            return Text("")
        colour = theme_color(self, STATUS_VARIABLE.get(record.status, "state-muted"))
        text = Text(record.status.value.upper(), style=f"bold {colour}")
        who = record.finished_by or record.started_by
        if record.status is StepStatus.RUNNING:
            text.append_text(safe_text(f" by {record.started_by} on {record.host}"))
        else:
            if record.exit_status is not None:
                text.append(f"  exit {record.exit_status}")
            if record.duration is not None:
                text.append(f" in {record.duration:.1f} s")
            if who:
                text.append_text(safe_text(f"  by {who}"))
            if record.reason:
                text.append("  ")
                text.append_text(safe_text(record.reason))
        return text

    def _render_overview(self) -> None:
        checklist = self._checklist()
        table = self.query_one("#overview", KeyedTable)
        if checklist is None:
            table.sync([])
            return
        rows = []
        for i, (step, record) in enumerate(checklist.overview()):
            colour = theme_color(self, STATUS_VARIABLE.get(record.status, "state-muted"))
            marker = "▶" if i == checklist.index else str(i + 1)
            result = "" if record.exit_status is None else f"exit {record.exit_status}"
            if record.reason:
                result = f"{result} {record.reason}".strip()
            if record.choice:
                result = f"answer: {record.choice}"
            rows.append((step.id, (
                Text(marker), safe_text(getattr(step, "display_title", step.id)),
                Text(step.kind), Text(record.status.value, style=colour),
                safe_text(record.finished_by or record.started_by), safe_text(result),
            )))
        table.sync(rows)

    # -- variables -------------------------------------------------------------

    def _masked(self, variables: dict[str, str]) -> dict[str, str]:
        """``variables`` with every secret's value hidden, for the screen."""
        return {**variables, **{name: SCREEN_MASK for name in self._secrets(variables)}}

    def _command(self, step: Step) -> tuple[str, list[str]]:
        variables = self.warroom.desk.variables(self.incident_id)
        missing = [name for name in step.variables_used() if not variables.get(name)]
        shown = {**self._masked(variables), **{name: f"<{name}>" for name in missing}}
        try:
            return step.render(shown), missing
        except (KeyError, ValueError) as exc:
            return f"(cannot fill the command: {exc})", missing

    async def _ask_missing(self, step: Step) -> bool:
        runbook = self._runbook()
        for name in self._command(step)[1]:
            declared = runbook.variables.get(name) if runbook else None
            question = f"Value for {{{name}}}"
            if declared is not None and declared.description:
                question += f": {declared.description}"
            answer = await self.app.push_screen_wait(PromptScreen(
                question, declared.default or "" if declared else "",
                password=bool(declared and declared.secret),
                hint=declared.example if declared else "",
            ))
            if not answer:
                self.notify(f"{{{name}}} is needed to run this step", severity="warning")
                return False
            self.warroom.desk.answer(self.incident_id, name, answer)
        return True

    # -- actions ---------------------------------------------------------------

    def _record(self, event: Event) -> bool:
        """Journal ``event``; False (and a notification) if the journal cannot be written."""
        try:
            return self._written("write the journal",
                                 lambda: self.warroom.desk.tracker.record(self.incident_id, event))
        finally:
            self.show()

    def _written(self, what: str, write: Callable[[], object]) -> bool:
        """Run ``write`` (a journal or report write); False and a notification if the
        disk refuses it (full, permissions), instead of ending the console."""
        try:
            write()
        except OSError as exc:
            self.notify(f"cannot {what}: {exc}", severity="error", timeout=15)
            return False
        return True

    @work(exclusive=False, group="run")
    async def action_run(self) -> None:
        if self.running:
            self.notify("a step is already running", severity="warning")
            return
        self.running = True
        try:
            await self._run_current()
        finally:
            self.running = False

    def _target(self, step: Step) -> tuple[str, Host | None, PostgresConfig | None]:
        """Where ``step`` runs: its ``host`` (name, tag or "console"), else the incident's host."""
        desk = self.warroom.desk
        name = step.host or desk.incident(self.incident_id).host
        if name == CONSOLE_HOST:
            return "this console", self.warroom.console_host, None
        for host_config in desk.config.hosts:
            if name == host_config.name or name in host_config.tags:
                return host_config.name, self.warroom.fleet[host_config.name], host_config.postgres
        return name, None, None

    def _secrets(self, variables: dict[str, str]) -> dict[str, str]:
        runbook = self._runbook()
        if runbook is None:
            return {}
        return {name: variables[name] for name, declared in runbook.variables.items()
                if declared.secret and variables.get(name)}

    async def _run_current(self) -> None:
        current = self._current()
        if current is None:
            return
        checklist, step = current
        if not step.runs_command:
            self.notify("this step has no command: d marks it done", severity="warning")
            return
        where, host, postgres = self._target(step)
        if host is None:
            self.notify(f"step runs on {where!r}, which is no configured host or tag",
                        severity="error")
            return
        if step.kind == "action":
            try:
                self.warroom.actions.check_allowed(f"run {step.display_title!r} on {where}")
            except ReadOnlyRefusal as refusal:
                self.notify(str(refusal), severity="error")
                return
        if not await self._ask_missing(step):
            return
        desk = self.warroom.desk
        variables = desk.variables(self.incident_id)
        secrets = self._secrets(variables)
        try:
            command = step.render(variables)
            shown = step.render(self._masked(variables))
        except (KeyError, ValueError) as exc:
            self.notify(f"cannot fill the command: {exc}", severity="error")
            return

        def scrub(text: str) -> str:
            for value in secrets.values():
                text = text.replace(value, MASK)
            return text

        if step.kind == "action":
            word = step.confirm_word(variables) if step.destructive else ""
            question = f"Run this action on {where}?"
            if not await self.app.push_screen_wait(ConfirmScreen(question, shown, word)):
                self.notify("action not run")
                return
        output = self.query_one(LogView)
        output.append(f"$ {shown}   # on {where}, by {desk.store.operator}")
        if not self._record(checklist.start(shown, where)):
            return
        started = time.monotonic()
        try:
            outcome = await run_step(
                step, command, host, self.warroom.actions, postgres=postgres,
                on_output=lambda line: output.append(scrub(line)), audit_command=shown,
            )
        except ReadOnlyRefusal as refusal:
            self.notify(str(refusal), severity="error")
            return
        except asyncio.CancelledError:
            fresh = self._checklist() or checklist
            self._record(fresh.finish(None, time.monotonic() - started, "interrupted",
                                      passed=False, step_id=step.id))
            raise
        fresh = self._checklist() or checklist
        self._record(fresh.finish(outcome.exit_status, outcome.duration, scrub(outcome.output),
                                  passed=outcome.passed, step_id=step.id))
        verdict = "passed" if outcome.passed else "FAILED"
        output.append(f"[warroom] {verdict}: {scrub(outcome.verdict)} ({outcome.duration:.1f} s)")
        self.notify(f"{step.display_title}: {verdict}",
                    severity="information" if outcome.passed else "warning")

    def action_done(self) -> None:
        current = self._current()
        if current is None or self.running:
            return
        checklist, _step = current
        self._record(checklist.done())

    @work(exclusive=False, group="prompt")
    async def action_skip(self) -> None:
        current = self._current()
        if current is None or self.running:
            return
        reason = await self.app.push_screen_wait(PromptScreen("Why skip this step?"))
        if reason is None:
            return
        checklist = self._checklist()
        if checklist is not None and checklist.current is not None:
            self._record(checklist.skip(reason.strip() or "no reason given"))

    def action_previous(self) -> None:
        checklist = self._checklist()
        if checklist is None or self.running:
            return
        event = checklist.back()
        if event is not None:
            self._record(event)

    def action_choose(self, number: int) -> None:
        current = self._current()
        if current is None:
            return
        checklist, step = current
        choices = checklist.choices(step)
        if step.kind != "decision" or not 1 <= number <= len(choices):
            return
        self._record(checklist.decide(number - 1))

    @work(exclusive=False, group="prompt")
    async def action_note(self) -> None:
        text = await self.app.push_screen_wait(
            PromptScreen("Add a note (everyone on this incident sees it):"))
        if not text:
            return
        checklist = self._checklist()
        if checklist is not None and checklist.current is not None:
            self._record(checklist.note(text))
        else:
            self._written("write the note",
                          lambda: self.warroom.desk.tracker.note(self.incident_id, text))
            self.show()

    def action_overview(self) -> None:
        self.toggle_class("overview")

    def action_acknowledge(self) -> None:
        self._written("acknowledge",
                      lambda: self.warroom.desk.tracker.acknowledge(self.incident_id))
        self.show()

    @work(exclusive=False, group="prompt")
    async def action_reclassify(self) -> None:
        scheme = self.warroom.desk.scheme
        answer = await self.app.push_screen_wait(
            PromptScreen(f"New severity ({', '.join(scheme.labels)})"))
        if not answer:
            return
        try:
            self._written("reclassify", lambda: self.warroom.desk.tracker.reclassify(
                self.incident_id, answer.strip()))
        except ValueError as exc:
            self.notify(str(exc), severity="error")
        self.show()

    @work(exclusive=False, group="prompt")
    async def action_merge(self) -> None:
        target = await self.app.push_screen_wait(
            PromptScreen("Merge this incident into which incident id?"))
        if not target:
            return
        tracker = self.warroom.desk.tracker
        into = target.strip()
        try:
            tracker.merge(self.incident_id, into=into)
        except (KeyError, ValueError) as exc:
            self.notify(f"cannot merge: {exc}", severity="error")
            return
        except OSError as exc:  # some writes may have taken: say which
            self._merge_failed(into, exc)
            return
        self.notify(f"merged into {into}")
        self.app.pop_screen()

    def _merge_failed(self, asked: str, exc: OSError) -> None:
        """Say how far a merge the disk stopped got (the target may be where ``asked`` led)."""
        tracker = self.warroom.desk.tracker
        incident = tracker.incident(self.incident_id)
        if incident.is_open:
            self.notify(f"cannot merge: {exc}", severity="error", timeout=15)
            return
        into = incident.merged_into or asked
        if self.incident_id in tracker.view(into).merged_from:
            self.notify(f"merged into {into}, but its severity could not be raised to "
                        f"this incident's: {exc}", severity="error", timeout=30)
        else:
            self.notify(f"{self.incident_id} is merged into {into}, but {into}'s journal "
                        f"could not record it: {exc}", severity="error", timeout=30)
        self.app.pop_screen()

    async def _report_form(self, resolve: bool) -> dict[str, str] | None:
        # Imported here: the form (a TextArea and its document model) is no part of
        # the dashboard a launch waits for.
        from tui.screens.report_form import ReportFormScreen

        view = self.warroom.desk.tracker.view(self.incident_id)
        return await self.app.push_screen_wait(
            ReportFormScreen(f"Report for {self.incident_id}", dict(view.report_fields), resolve))

    @work(exclusive=False, group="prompt")
    async def action_report_fields(self) -> None:
        fields = await self._report_form(resolve=False)
        if fields is not None and self._written("save the report fields", lambda: (
                self.warroom.desk.tracker.set_report_fields(self.incident_id, **fields))):
            self.notify("report fields saved")

    @work(exclusive=False, group="prompt")
    async def action_resolve(self) -> None:
        desk = self.warroom.desk
        incident = desk.incident(self.incident_id)
        if incident.is_active and not await self.app.push_screen_wait(ConfirmScreen(
                "The condition still holds. Resolve anyway?")):
            return
        fields = await self._report_form(resolve=True)
        if fields is None:
            return
        written: list[object] = []
        writes: tuple[tuple[str, Callable[[], object]], ...] = (
            ("cannot save the report fields ({}): not resolved",
             lambda: desk.tracker.set_report_fields(self.incident_id, **fields)),
            ("report fields saved, but cannot resolve: {}",
             lambda: desk.tracker.resolve(self.incident_id)),
            (f"resolved, but cannot write the report ({{}}): "
             f"`warroom report {self.incident_id}` writes it again",
             lambda: written.append(desk.write_report(self.incident_id))),
        )
        for failure, write in writes:  # each write that took stays: say how far it got
            try:
                write()
            except OSError as exc:
                self.notify(failure.format(exc), severity="error", timeout=30)
                break
        else:
            self.notify(f"resolved; report written to {written[0]}")
        self.show()
