"""Run one runbook step on its host: stream the output, judge it, audit actions.

Read-only checks run directly; actions go through :class:`core.audit.Actions`
(refused in read-only mode, written to the audit log).  A step with
``expect`` passes or fails by itself; with ``retry_for`` it is repeated
until it passes or the time is up (a "verify" step waiting for a service).
SQL steps run through psycopg over the host's forwarded PostgreSQL port.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.audit import Actions
from core.config import PostgresConfig
from core.hosts.base import Host
from core.probes.libraries import loaded
from core.runbooks.model import Step, sql_output
from core.timeouts import wait_for

OUTPUT_KEEP = 256 * 1024
"""Characters of output a step keeps in memory (the journal trims further)."""

OutputListener = Callable[[str], None]


@dataclass(frozen=True)
class StepOutcome:
    """How a step's command went."""

    exit_status: int | None
    output: str
    duration: float
    passed: bool
    verdict: str
    error: str = ""


async def _stream_shell(
    host: Host, command: str, timeout: float, on_output: OutputListener | None
) -> tuple[int | None, str, str]:
    """Run ``command`` streaming its output; the stream is closed whatever happens."""
    stream = await host.stream(["sh", "-c", command])
    chunks: list[str] = []
    kept = 0

    async def consume() -> None:
        nonlocal kept
        async for line in stream:
            if kept < OUTPUT_KEEP:
                chunks.append(line)
                kept += len(line)
            if on_output is not None:
                on_output(line)

    try:
        await wait_for(consume(), timeout)
    except TimeoutError:
        return None, "".join(chunks), f"timed out after {timeout:g} s"
    finally:
        await stream.close()
    return stream.exit_status, "".join(chunks), stream.error


async def _run_sql(
    host: Host, postgres: PostgresConfig | None, query: str, timeout: float, read_only: bool
) -> tuple[int | None, str, str]:
    if postgres is None:
        return None, "", "this host has no [hosts.postgres] configured"
    password = os.environ.get(postgres.password_env, "") if postgres.password_env else ""
    try:
        await loaded("psycopg")
    except ImportError as exc:
        return None, "", str(exc)
    import psycopg

    forward = await host.forward_tcp(postgres.host, postgres.port)
    try:
        async with await psycopg.AsyncConnection.connect(
            host=forward.host, port=forward.port, dbname=postgres.database,
            user=postgres.user, password=password or None,
            connect_timeout=max(1, int(postgres.connect_timeout)),
            application_name="warroom-runbook", autocommit=True,
        ) as conn:
            if read_only:  # a check never changes the database, whatever its text says
                await conn.execute("SET default_transaction_read_only = on")
            cursor = await wait_for(conn.execute(query), timeout)
            if cursor.description is None:
                return 0, f"{cursor.statusmessage or 'OK'}\n", ""
            columns = [c.name for c in cursor.description]
            rows = await cursor.fetchall()
            return 0, sql_output(columns, rows), ""
    except TimeoutError:
        return None, "", f"query timed out after {timeout:g} s"
    except psycopg.Error as exc:
        return 1, "", str(exc).strip() or type(exc).__name__
    except OSError as exc:
        return None, "", f"cannot reach PostgreSQL through {host.name}: {exc}"


async def run_step(
    step: Step,
    command: str,
    host: Host,
    actions: Actions,
    *,
    postgres: PostgresConfig | None = None,
    on_output: OutputListener | None = None,
    audit_command: str | None = None,
) -> StepOutcome:
    """Run ``command`` (the step's rendered command) on ``host`` and judge the result.

    ``audit_command`` is the command as the audit log shows it (secrets
    masked; default ``command``).  An action is audited when it ends, also
    when it is interrupted.  Raises :class:`core.audit.ReadOnlyRefusal` for
    an action in read-only mode.
    """
    audited = audit_command if audit_command is not None else command
    if step.kind == "action":
        actions.check_allowed(f"run {audited!r} on {host.name}")
        try:
            return await _attempts(step, command, host, postgres, on_output, audited, actions)
        except asyncio.CancelledError:
            actions.record(host.name, audited, None, "interrupted before it finished")
            raise
    return await _attempts(step, command, host, postgres, on_output, audited, actions)


async def _attempts(
    step: Step,
    command: str,
    host: Host,
    postgres: PostgresConfig | None,
    on_output: OutputListener | None,
    audited: str,
    actions: Actions,
) -> StepOutcome:
    started = time.monotonic()
    deadline = started + step.retry_for
    attempt = 0
    while True:
        attempt += 1
        if attempt > 1 and on_output is not None:
            on_output(f"[warroom] attempt {attempt}\n")
        if step.runner == "sql":
            status, output, error = await _run_sql(
                host, postgres, command, step.timeout, read_only=step.kind != "action"
            )
        else:
            status, output, error = await _stream_shell(host, command, step.timeout, on_output)
        if step.runner == "sql" and on_output is not None and output:
            on_output(output)
        if error and on_output is not None:
            on_output(f"[warroom] {error}\n")
        if step.expect is not None:
            passed, verdict = step.expect.evaluate(status, output)
        else:
            passed = status == 0 and not error
            verdict = "exit status 0" if passed else (error or f"exit status {status}")
        if passed or step.kind == "action" or time.monotonic() >= deadline:
            break
        await asyncio.sleep(step.retry_every)
    if step.kind == "action":
        actions.record(host.name, audited, status, error)
    return StepOutcome(status, output, time.monotonic() - started, passed, verdict, error)
