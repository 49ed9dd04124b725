"""The audit log: one JSON line per state-changing command, appended and fsynced.

Every action that changes a host (a restart, a stop, a runbook ``action``
step, a backend terminated) goes through :class:`Actions`, which refuses it
in read-only mode and writes the outcome here: time, operator, host, the
command as run and its exit status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.durable import append_line
from core.hosts.base import Command, CommandResult, Host, render_command
from core.redact import redact


class ReadOnlyRefusal(Exception):
    """A state-changing action was asked for while the console is read-only."""


@dataclass(frozen=True)
class AuditEntry:
    """One audited action."""

    at: float
    operator: str
    host: str
    command: str
    exit_status: int | None
    error: str = ""

    def to_json(self) -> str:
        """The entry as one JSON line, with secrets in the command redacted."""
        record: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.at)),
            "operator": self.operator,
            "host": self.host,
            "command": redact(self.command),
            "exit_status": self.exit_status,
        }
        if self.error:
            record["error"] = redact(self.error)
        return json.dumps(record, ensure_ascii=False)


class AuditLog:
    """An append-only file of :class:`AuditEntry` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: AuditEntry) -> None:
        """Append ``entry`` and fsync before returning."""
        append_line(self.path, entry.to_json().encode("utf-8"))

    def entries(self) -> list[dict[str, Any]]:
        """Every readable entry, oldest first (a torn last line is skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


class Actions:
    """The one gate for state-changing work: read-only refusal, then run, then audit."""

    def __init__(
        self,
        audit: AuditLog,
        operator: str,
        read_only: bool = False,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.audit = audit
        self.operator = operator
        self.read_only = read_only
        self.on_failure = on_failure
        """Told (a message) when the audit log cannot be written."""
        self.pending: list[AuditEntry] = []
        """Entries not written yet: the log could not be (disk full, permissions)."""

    def check_allowed(self, what: str) -> None:
        """Raise :class:`ReadOnlyRefusal` if the console is read-only."""
        if self.read_only:
            raise ReadOnlyRefusal(f"read-only mode: refused to {what}")

    async def run(self, host: Host, command: Command, *, timeout: float = 60.0) -> CommandResult:
        """Run a state-changing shell command on ``host`` and audit it."""
        text = render_command(command)
        self.check_allowed(f"run {text!r} on {host.name}")
        result = await host.run(text, timeout=timeout)
        self.record(host.name, text, result.exit_status, result.error)
        return result

    async def call(
        self, host: str, description: str, operation: Callable[[], Awaitable[int | None]]
    ) -> int | None:
        """Perform a state change that is not a shell command (e.g. a Docker API call).

        ``operation`` returns a status (0 for success); an exception is audited
        as a failure and re-raised.
        """
        self.check_allowed(f"{description} on {host}")
        try:
            status = await operation()
        except Exception as exc:
            self.record(host, description, None, str(exc) or type(exc).__name__)
            raise
        self.record(host, description, status)
        return status

    def record(self, host: str, command: str, exit_status: int | None, error: str = "") -> None:
        """Write one audit entry now, after any that could not be written before.

        Never raises: the change it records has already happened.  If the log
        cannot be written, the entries stay in :attr:`pending` (written, in
        order, by the next record that can) and :attr:`on_failure` is told.
        """
        self.pending.append(
            AuditEntry(time.time(), self.operator, host, command, exit_status, error))
        failure = self._write_pending()
        if failure is not None and self.on_failure is not None:
            self.on_failure(
                f"cannot write the audit log {self.audit.path}: {failure.strerror or failure}; "
                f"{len(self.pending)} entries kept in memory until it can be written")

    def flush(self) -> bool:
        """Try again to write the :attr:`pending` entries; True if none is left."""
        return self._write_pending() is None

    def _write_pending(self) -> OSError | None:
        try:
            while self.pending:
                self.audit.append(self.pending[0])
                del self.pending[0]
        except OSError as exc:
            return exc
        return None
