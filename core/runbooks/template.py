"""Command templates: ``{name}`` placeholders, ``{{``/``}}`` for literal braces.

The syntax is the one of Python's ``str.format`` without conversions or
format specs: ``{name}`` (letters, digits, ``_``; not starting with a digit)
is replaced by a variable's value, ``{{`` is a literal ``{`` and ``}}`` a
literal ``}``.  Any other brace is an error, so a Go template such as
``{{.State.Status}}`` is written ``{{{{.State.Status}}}}`` and a shell brace
expansion ``{1..5}`` is written ``{{1..5}}``.

:func:`fill` quotes every value it inserts, so a value is always one word of
the command, whatever it holds (``a; rm -rf /`` stays one literal argument).
A few trusted values from the host config are command *prefixes* of several
words (``{compose}`` = ``docker compose -f prod.yml``): those are split with
:mod:`shlex` and re-joined with every word quoted.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SPLIT_VARIABLES = frozenset({"compose"})
"""Variables whose value is a trusted multi-word command prefix (split, each word quoted)."""

EMPTY_OK = frozenset({"prefix"})
"""Variables whose value may legitimately be empty (an empty key prefix means the whole bucket)."""

Quoting = Literal["shell", "sql", "none"]


class TemplateError(ValueError):
    """A template is malformed, or cannot be filled with the given variables."""


@dataclass(frozen=True)
class Literal_:
    """Literal text of a template (braces already unescaped)."""

    text: str


@dataclass(frozen=True)
class Placeholder:
    """A ``{name}`` in a template."""

    name: str
    offset: int


Segment = Literal_ | Placeholder


def parse(template: str) -> list[Segment]:
    """Split ``template`` into literal text and placeholders (``TemplateError`` if malformed)."""
    segments: list[Segment] = []
    buf: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch == "{":
            if template.startswith("{{", i):
                buf.append("{")
                i += 2
                continue
            end = template.find("}", i + 1)
            name = template[i + 1 : end] if end != -1 else ""
            if end == -1 or not NAME_RE.fullmatch(name):
                shown = template[i : min(n, i + 20)]
                raise TemplateError(
                    f"unexpected '{{' at character {i + 1} ({shown!r}): a placeholder is "
                    "{name}; write {{ and }} for literal braces"
                )
            if buf:
                segments.append(Literal_("".join(buf)))
                buf = []
            segments.append(Placeholder(name, i))
            i = end + 1
            continue
        if ch == "}":
            if template.startswith("}}", i):
                buf.append("}")
                i += 2
                continue
            raise TemplateError(
                f"unexpected '}}' at character {i + 1}: write }}}} for a literal brace"
            )
        buf.append(ch)
        i += 1
    if buf:
        segments.append(Literal_("".join(buf)))
    return segments


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first use (``TemplateError``: malformed)."""
    seen: dict[str, None] = {}
    for segment in parse(template):
        if isinstance(segment, Placeholder):
            seen.setdefault(segment.name, None)
    return list(seen)


def escape(text: str) -> str:
    """``text`` as a template that fills to exactly ``text`` (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def unescape(template: str) -> str:
    """The literal text of a template whose placeholders are left as ``{name}``.

    For display only: ``{{`` becomes ``{`` and placeholders stay as written.
    """
    out: list[str] = []
    for segment in parse(template):
        if isinstance(segment, Placeholder):
            out.append("{" + segment.name + "}")
        else:
            out.append(segment.text)
    return "".join(out)


def sql_literal(value: str) -> str:
    """``value`` as a standard SQL string literal (single quotes doubled)."""
    if "\x00" in value:
        raise TemplateError("a SQL value cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def _quote(name: str, value: str, quote: Quoting) -> str:
    if quote == "none":
        return value
    if quote == "sql":
        if name in SPLIT_VARIABLES:
            raise TemplateError(f"{{{name}}} is a shell command prefix and cannot be used in SQL")
        return sql_literal(value)
    if "\x00" in value:
        raise TemplateError(f"variable {name!r} contains a NUL character")
    if name in SPLIT_VARIABLES:
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise TemplateError(f"variable {name!r} is not a valid command prefix: {exc}") from None
        if not words:
            raise TemplateError(f"variable {name!r} is empty")
        return shlex.join(words)
    return shlex.quote(value)


def fill(template: str, variables: Mapping[str, str], *, quote: Quoting = "shell") -> str:
    """Fill ``template`` with ``variables``, quoting every value.

    ``quote="shell"`` (the default) makes each value one shell word with
    :func:`shlex.quote` (the trusted prefixes in :data:`SPLIT_VARIABLES`
    become several quoted words); ``"sql"`` inserts standard SQL string
    literals; ``"none"`` inserts values as they are (for display and for the
    confirmation word, never for a command).

    Raises :class:`TemplateError` for a malformed template, a variable that
    is not in ``variables`` and an empty value (an empty value in a command
    such as ``rm -rf {dir}/`` would change its meaning).
    """
    segments = parse(template)
    missing = sorted({s.name for s in segments if isinstance(s, Placeholder)} - set(variables))
    if missing:
        names = ", ".join("{" + m + "}" for m in missing)
        raise TemplateError(f"no value for {names}")
    out: list[str] = []
    for segment in segments:
        if isinstance(segment, Literal_):
            out.append(segment.text)
            continue
        value = variables[segment.name]
        if value == "" and quote != "none":
            if segment.name in EMPTY_OK and quote == "shell":
                continue
            raise TemplateError(f"variable {segment.name!r} is empty")
        out.append(_quote(segment.name, value, quote))
    return "".join(out)


def quoted_placeholders(template: str) -> list[str]:
    """Placeholders written inside shell quotes (``'{x}'`` or ``"{x}"``), which they must not be.

    :func:`fill` quotes every value itself; inside quotes the value's own
    quotes end up in the argument, and under ``sh -c '…'`` they can end
    the outer quoting.  Write ``--name={service}``, not ``--name='{service}'``.
    """
    found: list[str] = []
    state = ""  # "", "'" or '"'
    for segment in parse(template):
        if isinstance(segment, Placeholder):
            if state:
                found.append(segment.name)
            continue
        state = shell_quote_state(segment.text, len(segment.text), state)
    return found


def shell_quote_state(text: str, end: int, state: str = "") -> str:
    """The shell quoting in force after ``text[:end]``: ``""``, ``"'"`` or ``'"'``.

    ``state`` is the quoting in force before ``text`` starts.
    """
    i = 0
    while i < end:
        ch = text[i]
        if state == "'":
            if ch == "'":
                state = ""
        elif ch == "\\":
            i += 1
        elif state == '"':
            if ch == '"':
                state = ""
        elif ch in "'\"":
            state = ch
        i += 1
    return state
