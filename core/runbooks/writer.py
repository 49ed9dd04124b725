"""Write runbooks as TOML (with tomli-w), leaving out every key at its default."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomli_w

from core.durable import write_atomic
from core.runbooks.model import Expect, Runbook, Step

_STEP_ORDER = (
    "id", "kind", "title", "why", "instructions", "host", "runner", "workdir", "command",
    "timeout", "retry_for", "retry_every", "destructive", "confirm", "question", "choices",
    "next", "expect",
)


def _non_default(obj: Any, order: tuple[str, ...] | None = None) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    names = order or tuple(fields)
    out: dict[str, Any] = {}
    for name in names:
        field = fields[name]
        value = getattr(obj, name)
        default = field.default if field.default is not dataclasses.MISSING else dataclasses.MISSING
        if default is not dataclasses.MISSING and value == default:
            continue
        if value is None:
            continue
        out[name] = value
    return out


def step_to_table(step: Step) -> dict[str, Any]:
    """A step as a TOML table, default values left out."""
    table = _non_default(step, _STEP_ORDER)
    if "choices" in table:
        table["choices"] = [{"label": c.label, "next": c.next} for c in step.choices]
    if isinstance(table.get("expect"), Expect):
        table["expect"] = _non_default(table["expect"])
    for key in ("timeout", "retry_for", "retry_every"):
        if key in table and float(table[key]).is_integer():
            table[key] = int(table[key])
    return table


def runbook_to_table(runbook: Runbook) -> dict[str, Any]:
    """A runbook as a TOML document, default values left out."""
    table: dict[str, Any] = {"id": runbook.id, "title": runbook.title}
    for key in ("description", "severity", "match", "tags", "imported_from"):
        value = getattr(runbook, key)
        if value not in ("", None, ()):
            table[key] = list(value) if isinstance(value, tuple) else value
    if runbook.variables:
        table["variables"] = {
            name: _non_default(variable) for name, variable in runbook.variables.items()
        }
        for name, var in runbook.variables.items():
            if not table["variables"][name]:
                table["variables"][name] = {"ask": var.ask}
    table["steps"] = [step_to_table(step) for step in runbook.steps]
    return table


def dumps(runbook: Runbook) -> str:
    """The runbook as TOML text."""
    return tomli_w.dumps(runbook_to_table(runbook), multiline_strings=True)



def write_runbook(runbook: Runbook, path: Path | str) -> Path:
    """Write ``runbook`` to ``path`` (atomically); returns the path."""
    target = Path(path)
    write_atomic(target, dumps(runbook))
    return target


