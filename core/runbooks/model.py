"""The runbook model: frozen dataclasses read from TOML (see ``FORMAT.md``).

A :class:`Runbook` is an ordered list of :class:`Step` values.  A step is a
``check`` (a read-only command whose output is captured), an ``action``
(changes state: confirmed first, a ``destructive`` one by typing a word), a
``manual`` step (ticked by the operator) or a ``decision`` (a question whose
answer picks the next step).  Commands are templates (:mod:`core.runbooks.template`)
filled from the host config, the incident and the runbook's own variables.

Severity in a runbook file is an ordinal, 0 (worst) to 3, like everywhere in
warroom; :func:`severity_label` and :func:`severity_ordinal` translate to and
from the labels of the configured scheme.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Literal

from core.config import HostConfig, SeverityConfig
from core.patterns import compile_pattern
from core.runbooks.template import NAME_RE, TemplateError, fill, placeholders

StepKind = Literal["check", "action", "manual", "decision"]
Runner = Literal["shell", "sql"]

END = "end"
"""The ``next`` target that ends the runbook."""

CONSOLE_HOST = "console"
"""``host = "console"``: run the step on the operator's machine, not on the incident's host."""

ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")

DEFAULT_TIMEOUT = 60.0

CONTEXT_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "host": "the host's name in the config",
        "address": "the host's SSH address (or its name as an ~/.ssh/config alias)",
        "compose": "the compose command prefix (docker.compose), split into words",
        "project": "the compose project name (docker.project)",
        "project_dir": "the compose project directory (docker.project_dir)",
        "service": "the compose service of the affected container (incident)",
        "container": "the affected container's name (incident)",
        "db": "the PostgreSQL database (postgres.database)",
        "db_user": "the PostgreSQL user (postgres.user)",
        "db_host": "the PostgreSQL address as seen from the host (postgres.host)",
        "db_port": "the PostgreSQL port (postgres.port)",
        "mount": "the mount point of the affected filesystem (incident)",
        "url": "the affected health endpoint's URL (incident)",
        "endpoint": "the affected health endpoint's name (incident)",
        "tls_address": "the affected TLS endpoint's address (incident)",
        "tls_port": "the affected TLS endpoint's port (incident)",
        "server_name": "the TLS server name (SNI) of the affected endpoint (incident)",
        "cert_file": "the affected certificate file on the host (incident)",
        "bucket": "the backup bucket (backup.bucket)",
        "prefix": "the backup key prefix (backup.prefix)",
        "backup_endpoint": "the backup store's endpoint URL (backup.endpoint_url)",
    }
)
"""Variables warroom fills itself, from the host config or the incident: never declared."""

CONFIRM_DEFAULTS = ("service", "container", "db")
"""What a destructive action asks the operator to type when it names no ``confirm``."""


def severity_label(ordinal: int, scheme: SeverityConfig | None = None) -> str:
    """The label of ``ordinal`` (0 worst .. 3) in ``scheme`` (default P0–P3)."""
    labels = (scheme or SeverityConfig()).labels
    if not 0 <= ordinal < len(labels):
        raise ValueError(f"severity {ordinal} is not between 0 and {len(labels) - 1}")
    return labels[ordinal]


def severity_ordinal(value: int | str, scheme: SeverityConfig | None = None) -> int:
    """The ordinal of ``value``: an ordinal 0..3, or a label of ``scheme`` (case-insensitive)."""
    labels = (scheme or SeverityConfig()).labels
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(labels):
            return value
        raise ValueError(f"severity {value} is not between 0 and {len(labels) - 1}")
    wanted = str(value).strip().casefold()
    for i, label in enumerate(labels):
        if label.casefold() == wanted:
            return i
    raise ValueError(f"{value!r} is not a severity label of the scheme ({', '.join(labels)})")


@dataclass(frozen=True)
class Expect:
    """What a step's result must look like to pass by itself.

    Every condition given must hold.  ``output`` is stdout and stderr
    together (for the SQL runner: the result rendered by :func:`sql_output`).
    """

    exit_status: int | None = None
    output_contains: str = ""
    output_not_contains: str = ""
    output_matches: str = ""

    def __post_init__(self) -> None:
        if (
            self.exit_status is None
            and not self.output_contains
            and not self.output_not_contains
            and not self.output_matches
        ):
            raise ValueError(
                "expect needs at least one of exit_status, output_contains, "
                "output_not_contains, output_matches"
            )
        if self.output_matches:
            try:
                compile_pattern(self.output_matches)
            except re.error as exc:
                raise ValueError(
                    f"output_matches is not a valid regular expression: {exc}"
                ) from None

    def evaluate(self, exit_status: int | None, output: str) -> tuple[bool, str]:
        """``(passed, reason)`` for a finished command (``exit_status`` None: it did not finish)."""
        if exit_status is None:
            return False, "the command did not finish"
        if self.exit_status is not None and exit_status != self.exit_status:
            return False, f"exit status {exit_status}, expected {self.exit_status}"
        if self.output_contains and self.output_contains not in output:
            return False, f"output does not contain {self.output_contains!r}"
        if self.output_not_contains and self.output_not_contains in output:
            return False, f"output contains {self.output_not_contains!r}"
        if self.output_matches and not re.search(self.output_matches, output, re.MULTILINE):
            return False, f"output does not match {self.output_matches!r}"
        return True, "as expected"


@dataclass(frozen=True)
class Choice:
    """One answer of a decision step and the step it leads to (or ``"end"``)."""

    label: str
    next: str


@dataclass(frozen=True)
class Variable:
    """A variable the runbook declares.

    ``ask = true`` prompts the operator (prefilled with ``default``);
    ``secret = true`` masks the input and keeps the value out of the journal;
    ``example`` is shown as a hint and never used as a value.
    """

    description: str = ""
    default: str | None = None
    ask: bool = False
    secret: bool = False
    example: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a runbook (see ``FORMAT.md`` for every key)."""

    FORBIDDEN_KEYS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "type": "the step's kind is `kind` (check, action, manual or decision)",
            "cmd": "the key is `command`",
            "run": "the key is `command`",
            "sql": 'write the query in `command` with runner = "sql"',
            "confirmation": 'use destructive = true and confirm = "service" (whose value to type)',
            "description": "a step explains itself in `why` (and `instructions` for manual steps)",
        }
    )

    id: str
    kind: StepKind
    title: str = ""
    why: str = ""
    instructions: str = ""
    command: str = ""
    runner: Runner = "shell"
    workdir: str = ""
    host: str = ""
    timeout: float = DEFAULT_TIMEOUT
    retry_for: float = 0.0
    retry_every: float = 2.0
    expect: Expect | None = None
    destructive: bool = False
    confirm: str = ""
    question: str = ""
    choices: tuple[Choice, ...] = ()
    next: str = ""

    def __post_init__(self) -> None:
        if not ID_RE.fullmatch(self.id):
            raise ValueError(
                f"step id {self.id!r} must be lowercase letters, digits, '.', '_' or '-'"
            )
        if self.timeout <= 0:
            raise ValueError("timeout must be positive (seconds)")
        if self.retry_for < 0 or self.retry_every <= 0:
            raise ValueError("retry_for must be >= 0 and retry_every > 0 (seconds)")

    @property
    def display_title(self) -> str:
        """The title, or the id when the step has none."""
        return self.title or self.id

    @property
    def runs_command(self) -> bool:
        """True for checks and actions (the steps that run something)."""
        return self.kind in ("check", "action")

    def variables_used(self) -> list[str]:
        """Placeholders of the command, workdir and confirm word, in order."""
        names: dict[str, None] = {}
        for template in (self.workdir, self.command, self.confirm_template()):
            if template:
                for name in placeholders(template):
                    names.setdefault(name, None)
        return list(names)

    def confirm_template(self) -> str:
        """What a destructive action asks the operator to type, as a template ("" if nothing).

        ``confirm`` names a variable (``"service"``: type the service's name) or,
        for a compound word, is a template (``"{service}@{host}"``).
        """
        if self.confirm:
            if NAME_RE.fullmatch(self.confirm):
                return "{" + self.confirm + "}"
            return self.confirm
        try:
            used = placeholders(self.command) if self.command else []
        except TemplateError:
            return ""  # a malformed command is reported by lint
        for name in CONFIRM_DEFAULTS:
            if name in used:
                return "{" + name + "}"
        return ""

    def confirm_word(self, variables: Mapping[str, str]) -> str:
        """The word the operator must type before this destructive action runs."""
        template = self.confirm_template()
        return fill(template, variables, quote="none") if template else ""

    def render(self, variables: Mapping[str, str]) -> str:
        """The command to run: a shell command line, or the SQL text for ``runner = "sql"``.

        A ``workdir`` becomes ``cd DIR || exit 1;`` in front of a shell command.
        """
        if not self.command:
            raise ValueError(f"step {self.id!r} has no command")
        if self.runner == "sql":
            return fill(self.command, variables, quote="sql")
        command = fill(self.command, variables)
        if self.workdir:
            return f"cd {fill(self.workdir, variables)} || exit 1; {command}"
        return command


@dataclass(frozen=True)
class Runbook:
    """A runbook: what it is for, what it handles, and its ordered steps."""

    id: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""
    severity: int | None = None
    match: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    variables: Mapping[str, Variable] = field(default_factory=lambda: MappingProxyType({}))
    imported_from: str = ""

    def __post_init__(self) -> None:
        if not ID_RE.fullmatch(self.id):
            raise ValueError(
                f"runbook id {self.id!r} must be lowercase letters, digits, '.', '_' or '-'"
            )
        if self.severity is not None and not 0 <= self.severity <= 3:
            raise ValueError(f"severity {self.severity} must be between 0 (worst) and 3")

    def step(self, step_id: str) -> Step:
        """The step with ``step_id`` (``KeyError`` if there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def index(self, step_id: str) -> int:
        """The position of the step with ``step_id`` (``KeyError`` if there is none)."""
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def next_step(self, step_id: str, choice: str | None = None) -> str | None:
        """The id of the step after ``step_id`` (None at the end).

        For a decision, ``choice`` is the label the operator picked.
        """
        i = self.index(step_id)
        step = self.steps[i]
        target = step.next
        if step.kind == "decision":
            for option in step.choices:
                if option.label == choice:
                    target = option.next
                    break
            else:
                raise KeyError(f"decision {step_id!r} has no choice {choice!r}")
        if target == END:
            return None
        if target:
            return target
        return self.steps[i + 1].id if i + 1 < len(self.steps) else None

    def variables_used(self) -> list[str]:
        """Every variable any step uses, in order of first use."""
        names: dict[str, None] = {}
        for step in self.steps:
            for name in step.variables_used():
                names.setdefault(name, None)
        return list(names)

    def resolve_variables(
        self, context: Mapping[str, str], answers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Values for the runbook: the operator's ``answers``, then ``context``, then defaults."""
        values: dict[str, str] = {}
        for name, variable in self.variables.items():
            if variable.default is not None:
                values[name] = variable.default
        values.update({k: v for k, v in context.items() if v != ""})
        values.update(answers or {})
        return values

    def missing_variables(self, available: Mapping[str, str]) -> list[str]:
        """Variables the steps use that have no (non-empty) value: the operator must give them."""
        return [name for name in self.variables_used() if not available.get(name)]

    def questions(self) -> list[str]:
        """Declared variables to ask the operator for (``ask = true``), in declaration order."""
        return [name for name, variable in self.variables.items() if variable.ask]


def host_variables(host: HostConfig) -> dict[str, str]:
    """The context variables a host's config provides (empty values are left out)."""
    values: dict[str, str] = {"host": host.name, "address": host.ssh_target}
    if host.docker is not None:
        values["compose"] = host.docker.compose
        values["project"] = host.docker.project
        values["project_dir"] = host.docker.project_dir
    if host.postgres is not None:
        values["db"] = host.postgres.database
        values["db_user"] = host.postgres.user
        values["db_host"] = host.postgres.host
        values["db_port"] = str(host.postgres.port)
    if host.backup is not None:
        values["bucket"] = host.backup.bucket
        values["prefix"] = host.backup.prefix
        values["backup_endpoint"] = host.backup.endpoint_url
    return {k: v for k, v in values.items() if v != ""}


def sql_output(columns: list[str] | tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    """How the SQL runner renders a result as a step's output (what ``expect`` sees).

    One line of column names, then one line per row, values separated by a
    tab; NULL is written ``NULL``.
    """
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join("NULL" if v is None else str(v) for v in row))
    return "\n".join(lines) + "\n"
