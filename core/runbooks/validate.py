"""Check a runbook file completely: syntax, schema, structure, variables, commands.

:func:`analyze` is shared by the loader (which refuses a runbook with any
error) and by lint (which also shows the warnings).  Every
:class:`Problem` names the file, the line where it can tell, the step
number (1-based) and id, and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

from core.runbooks.commands import Effect, classify, classify_sql
from core.runbooks.model import CONTEXT_VARIABLES, END, Runbook, Step, Variable
from core.runbooks.signals import SIGNALS
from core.runbooks.template import (
    NAME_RE,
    SPLIT_VARIABLES,
    Placeholder,
    TemplateError,
    parse,
    quoted_placeholders,
)
from core.schema import SchemaError, TomlError, build, parse_toml

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``error``) or suspicious (``warning``) in a runbook file."""

    file: str
    message: str
    key: str = ""
    step: int | None = None
    step_id: str = ""
    line: int | None = None
    level: Level = "error"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts: list[str] = []
        if self.step is not None:
            parts.append(f"step {self.step}" + (f" ({self.step_id})" if self.step_id else ""))
        if self.key:
            parts.append(f"key {self.key!r}")
        what = ", ".join(parts)
        level = "warning: " if self.level == "warning" else ""
        if what:
            return f"{where}: {level}{what}: {self.message}"
        return f"{where}: {level}{self.message}"


# the name starts and ends with a non-space, so a long line of "[" and spaces cannot
# make the three space-eating parts try every split (cubic: 33 s for 4,000 spaces)
_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]\s](?:[^\]]*[^\]\s])?)\s*\]\]?\s*(#.*)?$")


class _Locator:
    """Finds the line of a key in the TOML text (best effort: tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.step_starts: list[int] = []
        self.first_table = len(self.lines) + 1
        self.variable_starts: dict[str, int] = {}
        for number, line in enumerate(self.lines, 1):
            m = _HEADER_RE.match(line)
            if not m:
                continue
            self.first_table = min(self.first_table, number)
            name = m.group(2).replace('"', "").replace("'", "")
            if m.group(1) == "[[" and name == "steps":
                self.step_starts.append(number)
            elif name.startswith("variables."):
                self.variable_starts[name.split(".", 1)[1]] = number

    def _find(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number in range(start, min(end, len(self.lines) + 1)):
            if pattern.match(self.lines[number - 1]):
                return number
        return None

    def line(self, key: str = "", step: int | None = None) -> int | None:
        """The line of ``key`` (a dotted path inside a step when ``step`` is 0-based index)."""
        if step is not None:
            if step >= len(self.step_starts):
                return None
            start = self.step_starts[step]
            last = step + 1 >= len(self.step_starts)
            end = len(self.lines) + 1 if last else self.step_starts[step + 1]
        elif key.startswith("variables."):
            name = key.split(".")[1]
            if name in self.variable_starts:
                start = self.variable_starts[name]
                leaf = key.split(".")[-1]
                return self._find(leaf, start + 1, start + 20) or start
            start, end = 1, len(self.lines) + 1
        else:
            start, end = 1, self.first_table
        if not key:
            return start
        parts = [re.sub(r"\[\d+\]$", "", p) for p in key.split(".")]
        for part in (parts[-1], parts[0]):
            found = self._find(part, start, end)
            if found:
                return found
        return start if step is not None else None


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dummy(template: str) -> str:
    """A template filled with harmless stand-ins, to classify the command it makes."""
    out: list[str] = []
    for segment in parse(template):
        if isinstance(segment, Placeholder):
            out.append("docker compose" if segment.name in SPLIT_VARIABLES else "VALUE")
        else:
            out.append(segment.text)
    return "".join(out)


class _Analysis:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.problems: list[Problem] = []
        self.loc = _Locator(text)
        self.indices: list[int] = []  # original index of each built step
        self.raw_ids: set[str] = set()

    def add(
        self,
        message: str,
        key: str = "",
        step: int | None = None,
        step_id: str = "",
        level: Level = "error",
        line: int | None = None,
    ) -> None:
        if line is None:
            line = self.loc.line(key, step)
        self.problems.append(
            Problem(
                self.file,
                message,
                key=key,
                step=None if step is None else step + 1,
                step_id=step_id,
                line=line,
                level=level,
            )
        )

    def schema(self, exc: SchemaError, step: int | None = None, step_id: str = "") -> None:
        path = exc.path
        if step is not None:
            path = re.sub(r"^steps\[\d+\]\.?", "", path)
        self.add(exc.message, key=path, step=step, step_id=step_id)

    # -- building -----------------------------------------------------------------

    def build(self, table: dict[str, Any]) -> Runbook | None:
        header = {k: v for k, v in table.items() if k not in ("steps", "variables")}
        if isinstance(header.get("severity"), str):
            self.add(
                f"severity must be an ordinal 0 (worst) to 3, found {header['severity']!r}: "
                "labels depend on the configured scheme (P0–P3 by default: P0 = 0 … P3 = 3)",
                key="severity",
            )
            header.pop("severity")
        fields = {f.name for f in dataclasses.fields(Runbook)} - {"steps", "variables"}
        for key in list(header):
            if key not in fields:
                known = sorted(fields | {"steps", "variables"})
                self.add(
                    f"unknown key{_did_you_mean(key, known)}; known keys here: {', '.join(known)}",
                    key=key,
                )
                header.pop(key)
        variables = self._variables(table.get("variables", {}))
        steps = self._steps(table)
        try:
            runbook = build(Runbook, {**header, "steps": []})
        except SchemaError as exc:
            self.schema(exc)
            return None
        return dataclasses.replace(runbook, steps=tuple(steps), variables=variables)

    def _variables(self, raw: Any) -> dict[str, Variable]:
        out: dict[str, Variable] = {}
        if not isinstance(raw, dict):
            self.add("expected a table of variables ([variables.NAME])", key="variables")
            return out
        for name, value in raw.items():
            if not NAME_RE.fullmatch(name):
                self.add(
                    f"variable name {name!r} must be letters, digits and '_' "
                    "(not starting with a digit)",
                    key=f"variables.{name}",
                )
                continue
            try:
                out[name] = build(Variable, value, f"variables.{name}")
            except SchemaError as exc:
                self.schema(exc)
        return out

    def _steps(self, table: dict[str, Any]) -> list[Step]:
        raw = table.get("steps")
        if raw is None:
            self.add("missing required key: a runbook needs [[steps]] tables", key="steps")
            return []
        if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
            self.add("expected a list of [[steps]] tables", key="steps")
            return []
        steps: list[Step] = []
        for i, item in enumerate(raw):
            step_id = item.get("id", "") if isinstance(item.get("id", ""), str) else ""
            if step_id:
                self.raw_ids.add(step_id)
            try:
                steps.append(build(Step, item, f"steps[{i}]"))
                self.indices.append(i)
            except SchemaError as exc:
                self.schema(exc, step=i, step_id=step_id)
        return steps

    # -- meaning ------------------------------------------------------------------

    def semantic(self, rb: Runbook, raw_steps: int) -> None:
        if raw_steps == 0:
            self.add("a runbook needs at least one step", key="steps")
        for signal in rb.match:
            if signal not in SIGNALS:
                self.add(
                    f"unknown signal {signal!r}{_did_you_mean(signal, list(SIGNALS))}; "
                    "see core/runbooks/signals.py",
                    key="match",
                )
        if len(set(rb.match)) != len(rb.match):
            self.add("a signal is listed twice", key="match", level="warning")
        for name in rb.variables:
            if name in CONTEXT_VARIABLES:
                self.add(
                    f"variable {name!r} shadows the value warroom fills from the host or incident",
                    key=f"variables.{name}",
                    level="warning",
                )
        seen: dict[str, int] = {}
        for i, step in zip(self.indices, rb.steps, strict=True):
            if step.id in seen:
                self.add(f"duplicate step id (also step {seen[step.id] + 1})", "id", i, step.id)
            seen.setdefault(step.id, i)
        ids = set(seen) | self.raw_ids
        known_vars = set(rb.variables) | set(CONTEXT_VARIABLES)
        used: set[str] = set()
        for i, step in zip(self.indices, rb.steps, strict=True):
            used |= self._step(rb, i, step, ids, known_vars)
        for name in rb.variables:
            if name not in used:
                self.add(
                    "declared but no step uses it", key=f"variables.{name}", level="warning"
                )

    def _target(self, target: str, key: str, i: int, step: Step, ids: set[str]) -> None:
        if target == END:
            return
        if target not in ids:
            self.add(
                f"next step {target!r} does not exist{_did_you_mean(target, sorted(ids))} "
                f"(use a step id or {END!r})",
                key,
                i,
                step.id,
            )
        elif target == step.id:
            self.add("a step cannot lead to itself", key, i, step.id)

    def _templates(self, i: int, step: Step, known: set[str]) -> set[str]:
        used: set[str] = set()
        for key in ("command", "workdir", "confirm"):
            template = step.confirm_template() if key == "confirm" else getattr(step, key)
            if not template:
                continue
            try:
                segments = parse(template)
            except TemplateError as exc:
                self.add(str(exc), key, i, step.id)
                continue
            if step.runner == "shell" and key in ("command", "workdir"):
                for name in quoted_placeholders(template):
                    self.add(
                        f"{{{name}}} is inside quotes: warroom quotes every value itself, "
                        "so write it outside the quotes (inside them a value could run "
                        "as shell code)",
                        key,
                        i,
                        step.id,
                    )
            for seg in segments:
                if not isinstance(seg, Placeholder):
                    continue
                used.add(seg.name)
                if seg.name not in known:
                    self.add(
                        f"unknown variable {{{seg.name}}}{_did_you_mean(seg.name, sorted(known))}: "
                        "declare it under [variables] or use one warroom fills "
                        "(see FORMAT.md)",
                        key,
                        i,
                        step.id,
                    )
                if step.runner == "sql" and key == "command" and seg.name in SPLIT_VARIABLES:
                    self.add(f"{{{seg.name}}} is a shell prefix, not an SQL value", key, i, step.id)
        return used

    def _step(self, rb: Runbook, i: int, step: Step, ids: set[str], known: set[str]) -> set[str]:
        used = self._templates(i, step, known)
        err = lambda msg, key="": self.add(msg, key, i, step.id)  # noqa: E731
        warn = lambda msg, key="": self.add(msg, key, i, step.id, "warning")  # noqa: E731
        if step.next:
            if step.kind == "decision":
                err("a decision goes on through its choices, not next", "next")
            else:
                self._target(step.next, "next", i, step, ids)
        if step.kind in ("check", "action"):
            if not step.command:
                err(f"a {step.kind} needs a command", "command")
            if step.question or step.choices:
                err("only decision steps have a question and choices", "question")
            if step.runner == "sql" and step.workdir:
                err("an SQL step has no working directory", "workdir")
            if step.command:
                self._command(i, step)
        else:
            if step.command:
                err(f"a {step.kind} step runs no command (put the text in instructions)", "command")
            if step.expect is not None:
                err(f"a {step.kind} step has no result to expect", "expect")
            if step.retry_for:
                err(f"a {step.kind} step is not retried", "retry_for")
            if step.workdir:
                err(f"a {step.kind} step has no working directory", "workdir")
        if step.destructive and step.kind != "action":
            err("only actions can be destructive", "destructive")
        if step.kind == "action" and step.destructive and not step.confirm_template():
            err(
                "a destructive action needs confirmation info: set confirm to the variable whose "
                'value the operator must type (e.g. confirm = "service"), or use {service}, '
                "{container} or {db} in the command",
                "destructive",
            )
        if step.confirm and not step.destructive:
            warn("confirm only applies to destructive actions", "confirm")
        if step.kind == "decision":
            if not step.question:
                err("a decision needs a question", "question")
            if len(step.choices) < 2:
                err("a decision needs at least two choices", "choices")
            labels = [c.label for c in step.choices]
            if len(set(labels)) != len(labels):
                err("two choices have the same label", "choices")
            for c in step.choices:
                if not c.label:
                    err("a choice needs a label", "choices")
                self._target(c.next, "choices", i, step, ids)
        elif step.kind == "manual" and not (step.title or step.instructions):
            err("a manual step needs a title or instructions", "title")
        return used

    def _command(self, i: int, step: Step) -> None:
        warn = lambda msg, key="command": self.add(msg, key, i, step.id, "warning")  # noqa: E731
        try:
            text = _dummy(step.command)
        except TemplateError:
            return
        if step.runner == "sql":
            effect, reasons = classify_sql(text)
            why = ", ".join(reasons)
            if step.kind == "check" and effect > Effect.READ:
                warn(f"this check looks state-changing ({why}): make it an action")
            if step.kind == "action" and effect == Effect.DESTRUCTIVE and not step.destructive:
                warn(f"this action looks destructive ({why}): set destructive = true")
            return
        verdict = classify(text)
        why = ", ".join(verdict.reasons)
        if step.kind == "check":
            if verdict.effect > Effect.READ:
                warn(f"this check looks state-changing ({why}): make it an action")
            elif verdict.unknown:
                warn(
                    f"cannot tell that {', '.join(verdict.unknown)} only reads: "
                    "make the step an action if it changes anything"
                )
        if step.kind == "action" and verdict.effect == Effect.DESTRUCTIVE and not step.destructive:
            warn(f"this action looks destructive ({why}): set destructive = true")
        if verdict.interactive:
            warn("the command needs an interactive terminal, which warroom does not give it")


def analyze(text: str, file: str = "<runbook>") -> tuple[Runbook | None, list[Problem]]:
    """Check runbook TOML ``text``; the runbook (None if any error) and every problem found."""
    analysis = _Analysis(text, file)
    try:
        table = parse_toml(text)
    except TomlError as exc:
        analysis.add(exc.reason, line=exc.line)
        return None, analysis.problems
    runbook = analysis.build(table)
    raw_steps = table.get("steps")
    if runbook is not None:
        analysis.semantic(runbook, len(raw_steps) if isinstance(raw_steps, list) else 0)
    errors = [p for p in analysis.problems if p.level == "error"]
    return (runbook if not errors else None), analysis.problems
