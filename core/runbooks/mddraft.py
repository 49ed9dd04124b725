"""What the Markdown importer builds before it becomes a runbook.

The importer turns blocks into :class:`Draft` steps and :class:`Decision`
nodes whose branches hold more nodes; :func:`flatten` lays them out as an
ordered step list, wiring each decision's choices and each branch's end to
the right step (or ``"end"``).  :class:`Build` collects, for one runbook, the
variables (placeholders and secrets), the description, the symptoms, and
the warnings and unmapped fragments with their line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.runbooks.mdseverity import Marker, SeverityReader
from core.runbooks.model import CONTEXT_VARIABLES, END
from core.runbooks.placeholders import Found, find_placeholders, find_secrets
from core.runbooks.template import escape, shell_quote_state


@dataclass(frozen=True)
class Fragment:
    """Source text the importer did not turn into a step, with its lines and the reason."""

    line: int
    end: int
    reason: str
    excerpt: str = ""


@dataclass(frozen=True)
class Warning_:
    """Something the operator should know about the import (a secret removed, a guess made)."""

    line: int | None
    message: str


class Ref:
    """A forward reference to a step (or to the end), resolved once every step exists."""

    def __init__(self, step: Draft | None = None, end: bool = False) -> None:
        self.step = step
        self.end = end
        self.alias: Ref | None = None

    def resolve(self) -> Draft | None:
        ref: Ref | None = self
        seen = 0
        while ref is not None and ref.step is None and not ref.end and seen < 1000:
            ref = ref.alias
            seen += 1
        return None if ref is None or ref.end else ref.step


@dataclass(eq=False)
class Draft:
    """A step being built (see :class:`core.runbooks.model.Step` for the fields)."""

    kind: str
    title: str
    line: int
    why: str = ""
    instructions: str = ""
    command: str = ""
    original: str = ""
    runner: str = "shell"
    workdir: str = ""
    host: str = ""
    timeout: float | None = None
    destructive: bool = False
    confirm: str = ""
    question: str = ""
    expect: dict[str, Any] = field(default_factory=dict)
    choices: list[tuple[str, Ref]] = field(default_factory=list)
    fallthrough: Ref | None = None
    next: str = ""
    id: str = ""


@dataclass(eq=False)
class Decision:
    """A question whose answers lead into branches of nodes; ``otherwise`` is the last answer."""

    question: str
    line: int
    branches: list[tuple[str, list[Node]]]
    otherwise: list[Node] = field(default_factory=list)
    otherwise_label: str = "no"
    title: str = ""


Node = Draft | Decision


def _emit_seq(nodes: list[Node], out: list[Draft], tail: Ref) -> Ref:
    heads = [Ref() for _ in nodes]
    for i, node in enumerate(nodes):
        node_tail = heads[i + 1] if i + 1 < len(nodes) else tail
        heads[i].alias = _emit_node(node, out, node_tail)
    return heads[0] if nodes else tail


def _emit_node(node: Node, out: list[Draft], tail: Ref) -> Ref:
    if isinstance(node, Draft):
        node.fallthrough = tail
        out.append(node)
        return Ref(node)
    decision = Draft("decision", node.title or node.question, node.line, question=node.question)
    out.append(decision)
    for label, seq in node.branches:
        decision.choices.append((label, _emit_seq(seq, out, tail)))
    decision.choices.append((node.otherwise_label, _emit_seq(node.otherwise, out, tail)))
    return Ref(decision)


def flatten(nodes: list[Node]) -> list[Draft]:
    """The steps of ``nodes`` in order, with ``next`` and choices wired (ids must be set after)."""
    out: list[Draft] = []
    _emit_seq(nodes, out, Ref(end=True))
    return out


def wire(steps: list[Draft]) -> None:
    """Set ``next`` where a step does not simply continue with the one after it (ids set)."""
    for i, step in enumerate(steps):
        if step.kind == "decision" or step.fallthrough is None:
            continue
        target = step.fallthrough.resolve()
        natural = steps[i + 1] if i + 1 < len(steps) else None
        if target is not natural:
            step.next = target.id if target is not None else END


def choice_targets(step: Draft) -> list[tuple[str, str]]:
    """A decision's choices as (label, step id or "end")."""
    out: list[tuple[str, str]] = []
    for label, ref in step.choices:
        target = ref.resolve()
        out.append((label, target.id if target is not None else END))
    return out


@dataclass
class VarSpec:
    """A variable the import declares."""

    name: str
    description: str
    example: str = ""
    secret: bool = False
    original: str = ""


@dataclass
class Build:
    """Everything gathered for one runbook while its blocks are read."""

    source: str
    title: str
    reader: SeverityReader
    line: int = 0
    variables: dict[str, VarSpec] = field(default_factory=dict)
    warnings: list[Warning_] = field(default_factory=list)
    unmapped: list[Fragment] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    workdir: str = ""
    context_label: str = ""
    used_context: set[str] = field(default_factory=set)

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(Warning_(line, message))

    def fragment(self, line: int, end: int, reason: str, excerpt: str = "") -> None:
        text = re.sub(r"\s+", " ", excerpt).strip()
        short = text[:70] + ("…" if len(text) > 70 else "")
        self.unmapped.append(Fragment(line, end, reason, short))

    def _variable(self, found: Found, line: int) -> str:
        name = found.name
        if name in CONTEXT_VARIABLES and found.kind == "placeholder" and found.what != "secret":
            return name
        if name in CONTEXT_VARIABLES:
            name = f"{name}_value"
        for spec in self.variables.values():
            if spec.original == found.text and spec.secret == (found.kind == "secret"):
                return spec.name
        base, k = name, 2
        while name in self.variables:
            name, k = f"{base}_{k}", k + 1
        if found.kind == "secret":
            spec = VarSpec(name, f"{found.what[:1].upper()}{found.what[1:]} (removed from the "
                           f"source, line {line}: never stored in the runbook)", secret=True,
                           original=found.text)
            self.warn(line, f"a clear-text secret ({found.what}) was replaced by the variable "
                      f"{{{name}}}: rotate it if the file was shared")
        elif found.name == "commit":
            spec = VarSpec(name, f"The commit or tag to use (the source wrote {found.text!r})",
                           example=found.text, original=found.text)
        else:
            spec = VarSpec(name, f"Replaces the placeholder {found.text!r} of the source (line "
                           f"{line})", example=found.text, secret=found.what == "secret",
                           original=found.text)
        self.variables[name] = spec
        return name

    def templatize(self, raw: str, line: int, sql: bool = False) -> tuple[str, str] | None:
        """``raw`` as a template with its placeholders and secrets made variables.

        Returns the template and a stand-in text to classify (placeholders
        replaced by a harmless word), or None when an SQL placeholder sits
        inside a string literal and cannot be filled safely.
        """
        secrets = find_secrets(raw)
        taken = [(f.start, f.end) for f in secrets]
        places = [
            f for f in find_placeholders(raw)
            if not any(f.start < b and a < f.end for a, b in taken)
        ]
        spans = sorted(secrets + places, key=lambda f: f.start)
        out: list[str] = []
        dummy: list[str] = []
        pos = 0
        for found in spans:
            state = shell_quote_state(raw, found.start)
            name = self._variable(found, line)
            literal = raw[pos : found.start]
            if sql and state == "'":
                whole = raw[found.start - 1 : found.start] == "'" == raw[found.end : found.end + 1]
                if whole:
                    out.append(escape(literal[:-1]) + "{" + name + "}")
                    dummy.append(literal[:-1] + "'VALUE'")
                    pos = found.end + 1
                    continue
                return None
            out.append(escape(literal))
            dummy.append(literal + "VALUE")
            if state and not sql:
                out.append(f"{state}{{{name}}}{state}")
            else:
                out.append("{" + name + "}")
            pos = found.end
        out.append(escape(raw[pos:]))
        dummy.append(raw[pos:])
        return "".join(out), "".join(dummy)



def slug(text: str, limit: int = 40) -> str:
    """A stable id from a title: lowercase ASCII words joined by ``-`` (umlauts spelled out)."""
    import unicodedata

    text = text.replace("ß", "ss")
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "ae"), ("Ö", "oe"), ("Ü", "ue")):
        text = text.replace(a, b)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit and out:
            break
        out = candidate[:limit]
    return out
