"""Guided checklist state: where the operator stands in a runbook and what each step gave.

Pure logic.  :class:`Checklist` knows a runbook's ordered steps (anything
with ``id`` and ``kind``, e.g. :class:`core.runbooks.model.Step`; an optional
``next`` jumps, ``"end"`` ends; decision steps have ``choices`` of
``(label, next)``) and a :class:`ChecklistProgress`.  Its methods *build*
journal events (``start``, ``finish``, ``skip``, ``done``, ``decide``,
``back``, ``note``) without applying them: the caller journals the event
and applies what was written with :meth:`Checklist.apply`, the same code
path :func:`core.incidents.replay.replay` uses, so a restarted console
stands exactly where the killed one stood.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Event = dict[str, Any]
END = "$end"
"""The ``to`` of an event that moves past the last step."""

STEP_STARTED = "step_started"
STEP_FINISHED = "step_finished"
STEP_SKIPPED = "step_skipped"
STEP_DONE = "step_done"
STEP_BACK = "step_back"
DECISION = "decision"
NOTE = "note"
CHECKLIST_EVENTS = frozenset(
    {STEP_STARTED, STEP_FINISHED, STEP_SKIPPED, STEP_DONE, STEP_BACK, DECISION}
)


class StepLike(Protocol):
    """What the checklist needs of a runbook step (``core.runbooks.model`` provides more)."""

    @property
    def id(self) -> str:
        """The step id (unique within the runbook)."""
        ...

    @property
    def kind(self) -> str:
        """``check``, ``action``, ``manual`` or ``decision``."""
        ...


class StepStatus(enum.StrEnum):
    """A step's state in the checklist."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    DONE = "done"
    SKIPPED = "skipped"
    ANSWERED = "answered"

    @property
    def settled(self) -> bool:
        """Finished one way or another (not pending, not running)."""
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)


@dataclass
class NoteEntry:
    """A note the operator added (to the incident, or to one step)."""

    at: float
    operator: str
    text: str
    step: str = ""


@dataclass
class StepRecord:
    """What happened to one step (the last run wins; ``runs`` counts them)."""

    step: str
    status: StepStatus = StepStatus.PENDING
    command: str = ""
    host: str = ""
    runs: int = 0
    started_at: float | None = None
    started_by: str = ""
    finished_at: float | None = None
    finished_by: str = ""
    exit_status: int | None = None
    duration: float | None = None
    output: str = ""
    output_trimmed: int = 0
    passed: bool | None = None
    reason: str = ""
    choice: str = ""
    notes: list[NoteEntry] = field(default_factory=list)


@dataclass
class ChecklistProgress:
    """The checklist part of an incident, rebuilt from journal events alone."""

    runbook: str = ""
    position: str | None = None  # a step id, END, or None (not started: the first step)
    trail: list[str] = field(default_factory=list)
    records: dict[str, StepRecord] = field(default_factory=dict)

    def record(self, step: str) -> StepRecord:
        """The record of step ``step`` (created pending if new)."""
        if step not in self.records:
            self.records[step] = StepRecord(step=step)
        return self.records[step]

    def _move(self, frm: str, to: Any) -> None:
        if isinstance(to, str) and to and to != frm:
            self.trail.append(frm)
            self.position = to

    def apply(self, event: Event) -> bool:
        """Apply one checklist event; ``False`` if it is not a checklist event."""
        kind = event.get("type")
        step = str(event.get("step", ""))
        at = float(event.get("ts", 0.0))
        who = str(event.get("operator", ""))
        if kind == NOTE:
            if not step:
                return False
            self.record(step).notes.append(NoteEntry(at, who, str(event.get("text", "")), step))
            return True
        if kind not in CHECKLIST_EVENTS or not step:
            return False
        if event.get("runbook") and not self.runbook:
            self.runbook = str(event["runbook"])
        if kind == STEP_BACK:
            to = event.get("to")
            if isinstance(to, str) and to:
                if self.trail and self.trail[-1] == to:
                    self.trail.pop()
                self.position = to
            return True
        rec = self.record(step)
        if kind == STEP_STARTED:
            rec.status = StepStatus.RUNNING
            rec.runs += 1
            rec.command = str(event.get("command", ""))
            rec.host = str(event.get("host", ""))
            rec.started_at, rec.started_by = at, who
            rec.finished_at = rec.exit_status = rec.duration = rec.passed = None
            rec.output, rec.output_trimmed = "", 0
            self.position = step
        elif kind == STEP_FINISHED:
            rec.passed = bool(event.get("passed", event.get("exit_status") == 0))
            rec.status = StepStatus.PASSED if rec.passed else StepStatus.FAILED
            rec.exit_status = event.get("exit_status")
            rec.duration = event.get("duration")
            rec.output = str(event.get("output", ""))
            rec.output_trimmed = int(event.get("output_trimmed", 0))
            rec.finished_at, rec.finished_by = at, who
            if event.get("command"):
                rec.command = str(event["command"])
            if event.get("host"):
                rec.host = str(event["host"])
        elif kind == STEP_SKIPPED:
            rec.status, rec.reason = StepStatus.SKIPPED, str(event.get("reason", ""))
            rec.finished_at, rec.finished_by = at, who
        elif kind == STEP_DONE:
            if rec.status not in (StepStatus.PASSED, StepStatus.FAILED):
                rec.status = StepStatus.DONE
            rec.finished_at, rec.finished_by = at, who
            if event.get("note"):
                rec.notes.append(NoteEntry(at, who, str(event["note"]), step))
        elif kind == DECISION:
            rec.status, rec.choice = StepStatus.ANSWERED, str(event.get("choice", ""))
            rec.finished_at, rec.finished_by = at, who
        self._move(step, event.get("to"))
        return True


def _choices(step: StepLike) -> list[tuple[str, str]]:
    """A decision step's ``(label, next)`` pairs (objects with ``label``/``next``, or pairs)."""
    out = []
    for choice in getattr(step, "choices", None) or ():
        if hasattr(choice, "label"):
            out.append((str(choice.label), str(getattr(choice, "next", "") or "")))
        else:
            label, nxt = choice
            out.append((str(label), str(nxt or "")))
    return out


class Checklist:
    """Navigation over a runbook's steps plus the progress recorded so far."""

    def __init__(
        self,
        steps: Sequence[StepLike],
        progress: ChecklistProgress | None = None,
        runbook: str = "",
    ) -> None:
        self.steps = list(steps)
        self.progress = progress if progress is not None else ChecklistProgress(runbook=runbook)
        if runbook and not self.progress.runbook:
            self.progress.runbook = runbook
        self._ids = [s.id for s in self.steps]

    # -- where we are -----------------------------------------------------------------

    @property
    def total(self) -> int:
        """How many steps the runbook has."""
        return len(self.steps)

    @property
    def index(self) -> int:
        """The current step's index (``total`` once past the last step)."""
        position = self.progress.position
        if position is None:
            return 0
        if position == END:
            return self.total
        if position in self._ids:
            return self._ids.index(position)
        for i, step_id in enumerate(self._ids):  # the runbook changed: first unsettled step
            if not self.progress.record(step_id).status.settled:
                return i
        return self.total

    @property
    def finished(self) -> bool:
        """Past the last step."""
        return self.index >= self.total

    @property
    def current(self) -> StepLike | None:
        """The step the operator is on (``None`` when finished)."""
        return None if self.finished else self.steps[self.index]

    def record(self, step: StepLike | str | int) -> StepRecord:
        """A step's record, by step, id or index."""
        if isinstance(step, int):
            step = self._ids[step]
        return self.progress.record(step if isinstance(step, str) else step.id)

    def overview(self) -> list[tuple[StepLike, StepRecord]]:
        """Every step with its record, in runbook order."""
        return [(s, self.record(s.id)) for s in self.steps]

    def choices(self, step: StepLike | None = None) -> list[tuple[str, str]]:
        """The ``(label, next)`` choices of a decision step (the current one by default)."""
        step = step if step is not None else self.current
        return _choices(step) if step is not None else []

    # -- building events ----------------------------------------------------------------

    def _require(self) -> StepLike:
        step = self.current
        if step is None:
            raise ValueError("the checklist is finished: no current step")
        return step

    def _event(self, kind: str, step: StepLike, **fields: Any) -> Event:
        return {"type": kind, "step": step.id, "index": self._ids.index(step.id),
                "step_kind": step.kind, "runbook": self.progress.runbook, **fields}

    def _target(self, step: StepLike, nxt: str) -> str:
        """Where ``nxt`` leads from ``step``: a step id, or END ("" means the following step)."""
        if nxt in ("end", END):
            return END
        if not nxt:
            i = self._ids.index(step.id) + 1
            return self._ids[i] if i < self.total else END
        if nxt in self._ids:
            return nxt
        raise ValueError(f"step {step.id!r} leads to unknown step {nxt!r}")

    def _next_id(self, step: StepLike) -> str:
        """The step after ``step``: its ``next`` if it names one, else the following step."""
        return self._target(step, str(getattr(step, "next", "") or ""))

    def start(self, command: str = "", host: str = "") -> Event:
        """``step_started`` for the current step (the command as it will run, and where)."""
        step = self._require()
        if step.kind == "decision":
            raise ValueError(f"step {step.id!r} is a decision: answer it with decide()")
        return self._event(STEP_STARTED, step, command=command, host=host)

    def finish(
        self,
        exit_status: int | None,
        duration: float,
        output: str = "",
        passed: bool | None = None,
        advance: bool | None = None,
        step_id: str | None = None,
    ) -> Event:
        """``step_finished`` with the result; moves on when it passed (unless told otherwise).

        ``passed`` defaults to ``exit_status == 0``; pass the runbook's expected
        result verdict instead when the step has one.  The journal trims and
        redacts ``output``.  ``step_id`` names the step that ran (when someone
        else moved the checklist meanwhile, the result stays with that step
        and the position does not move).
        """
        if step_id is not None and step_id in self._ids:
            step = self.steps[self._ids.index(step_id)]
        else:
            step = self._require()
        ok = (exit_status == 0) if passed is None else passed
        moves = ok if advance is None else advance
        if self.current is None or self.current.id != step.id:
            moves = False
        event = self._event(STEP_FINISHED, step, exit_status=exit_status,
                            duration=round(float(duration), 3), output=output, passed=ok)
        if moves:
            event["to"] = self._next_id(step)
        return event

    def skip(self, reason: str) -> Event:
        """``step_skipped`` with the operator's reason; moves to the next step."""
        step = self._require()
        return self._event(STEP_SKIPPED, step, reason=reason, to=self._next_id(step))

    def done(self, note: str = "") -> Event:
        """``step_done``: a manual step ticked (optionally with a note), or a result accepted."""
        step = self._require()
        event = self._event(STEP_DONE, step, to=self._next_id(step))
        if note:
            event["note"] = note
        return event

    def decide(self, choice: str | int) -> Event:
        """``decision``: the answer (label or index) picks the next step."""
        step = self._require()
        options = _choices(step)
        if not options:
            raise ValueError(f"step {step.id!r} has no choices")
        if isinstance(choice, int):
            label, nxt = options[choice]
        else:
            matches = [o for o in options if o[0].casefold() == choice.casefold()]
            if not matches:
                raise ValueError(f"{choice!r} is not one of {', '.join(o[0] for o in options)}")
            label, nxt = matches[0]
        return self._event(DECISION, step, choice=label, to=self._target(step, nxt))

    def back(self) -> Event | None:
        """``step_back`` to the step visited before (``None`` at the first step)."""
        if self.progress.trail:
            target = self.progress.trail[-1]
        elif self.index > 0:
            target = self._ids[min(self.index, self.total) - 1]
        else:
            return None
        here = self.current
        event: Event = {"type": STEP_BACK, "step": here.id if here else END, "to": target,
                        "runbook": self.progress.runbook}
        return event

    def note(self, text: str) -> Event:
        """``note`` attached to the current step (or to the incident once finished)."""
        step = self.current
        event: Event = {"type": NOTE, "text": text}
        if step is not None:
            event["step"] = step.id
        return event

    def apply(self, event: Event) -> bool:
        """Apply a journaled event (as written) to the progress."""
        return self.progress.apply(event)
