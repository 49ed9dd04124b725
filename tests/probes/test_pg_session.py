"""How the worker's PostgreSQL sessions map the errors of a pipelined collect.

Pure logic: a stand-in connection raises what psycopg raises at a pipeline's
end (the lab tests in test_lab_console_worker.py run the real thing).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg
import pytest

from core.config import PostgresConfig
from core.probes import workers
from core.probes.base import ProbeError
from core.probes.pg_session import PgSessions, _conninfo, _Session
from core.state import ProbeStatus


class _Cursor:
    async def execute(self, sql: str, params: object = None) -> None:
        pass

    async def fetchall(self) -> list[Any]:
        raise AssertionError("no rows after a failed pipeline")


class _Pipeline:
    def __init__(self, fail: BaseException) -> None:
        self.fail = fail

    async def __aenter__(self) -> _Pipeline:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        raise self.fail


class _Connection:
    """Opened with the request's settings; its pipeline fails with ``fail``."""

    closed = False
    broken = False

    def __init__(self, fail: BaseException) -> None:
        self.fail = fail
        self.pipelines = 0

    def cursor(self) -> _Cursor:
        return _Cursor()

    def pipeline(self) -> _Pipeline:
        self.pipelines += 1
        return _Pipeline(self.fail)

    async def close(self) -> None:
        self.closed = True


def _aborted_after(first: psycopg.Error) -> psycopg.Error:
    """What psycopg may raise when a statement fails in a pipeline: PipelineAborted,
    with the statement's own error as its context."""
    try:
        raise first
    except psycopg.Error:
        try:
            raise psycopg.errors.PipelineAborted("pipeline aborted")
        except psycopg.Error as aborted:
            return aborted


async def _collect_with(fail: BaseException) -> tuple[ProbeError, _Connection]:
    request = workers.pg_request("s", "127.0.0.1", 5432, PostgresConfig(), password=None,
                                 statement_timeout=2.0, where="db via web1", sizes=True)
    sessions = PgSessions()
    session = sessions._sessions.setdefault("s", _Session())
    conn = _Connection(fail)
    session.conn = conn
    session.settings = tuple(sorted(_conninfo(request).items()))
    with pytest.raises(ProbeError) as raised:
        await sessions.answer(request)
    return raised.value, conn


async def test_a_statement_over_its_time_is_a_timeout() -> None:
    error, conn = await _collect_with(psycopg.errors.QueryCanceled("canceling statement"))
    assert error.status is ProbeStatus.TIMEOUT
    assert error.reason == "query took longer than 2 s on db via web1"
    assert conn.pipelines == 1 and not conn.closed  # the connection stays


async def test_an_aborted_pipeline_reports_the_statement_that_failed_not_a_broken_link(
) -> None:
    denied = psycopg.errors.InsufficientPrivilege("permission denied for view pg_stat_x")
    error, conn = await _collect_with(_aborted_after(denied))
    assert error.status is ProbeStatus.PERMISSION_DENIED
    assert error.reason == "permission denied for view pg_stat_x"
    assert conn.pipelines == 1 and not conn.closed  # not retried on a new connection
