"""How the worker's PostgreSQL sessions map the errors of a pipelined collect,
and how a request that runs out of time ends.

Pure logic: a stand-in connection raises what psycopg raises at a pipeline's
end, and stand-in work behaves as psycopg does when cancelled (the lab tests
in test_lab_console_worker.py run the real thing).
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import psycopg
import pytest

from core.config import PostgresConfig
from core.probes import pg_session, workers
from core.probes.base import ProbeError
from core.probes.pg_session import PgSessions, _conninfo, _Session, _within
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


async def _stuck_query(cancels: list[float]) -> dict[str, Any]:
    """As psycopg with a stuck server: cancelled, it asks the server to cancel the query
    and waits 5 s for it; cancelled again, it closes and ends.  Notes each cancel."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancels.append(time.monotonic())
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancels.append(time.monotonic())
            raise
    return {"late": True}


async def test_work_cancelled_on_time_says_timeout_without_the_second_cancel() -> None:
    cancels: list[float] = []

    async def query() -> dict[str, Any]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancels.append(time.monotonic())
            raise
        return {}

    with pytest.raises(TimeoutError):
        await _within(query(), 0.05)
    assert len(cancels) == 1


async def test_work_that_waits_out_a_cancel_is_cancelled_again_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_session, "CANCEL_GRACE", 0.2)
    cancels: list[float] = []

    began = time.monotonic()
    with pytest.raises(TimeoutError):
        await _within(_stuck_query(cancels), 0.05)
    assert len(cancels) == 2
    assert 0.15 <= cancels[1] - cancels[0] < 2  # after the grace, not psycopg's 5 s
    assert time.monotonic() - began < 4


async def test_an_answer_or_an_error_in_time_is_the_caller_s() -> None:
    async def answer() -> dict[str, Any]:
        return {"pg": 1}

    async def failure() -> dict[str, Any]:
        raise ProbeError(ProbeStatus.UNREACHABLE, "refused")

    assert await _within(answer(), 5) == {"pg": 1}
    with pytest.raises(ProbeError, match="refused"):
        await _within(failure(), 5)


async def test_work_that_ends_within_the_grace_gives_its_answer_not_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_session, "CANCEL_GRACE", 1.0)

    async def late(outcome: str) -> dict[str, Any]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # (psycopg's cancel answered by the server)
            if outcome == "answer":
                return {"pg": "late"}
            raise ProbeError(ProbeStatus.TIMEOUT, "query took longer than 5 s") from None
        return {}

    assert await _within(late("answer"), 0.05) == {"pg": "late"}
    with pytest.raises(TimeoutError):  # the worker's limit, not the work's own words
        await _within(late("error"), 0.05)


async def test_work_cancelled_by_itself_is_an_error_not_a_cancelled_caller() -> None:
    async def gives_up() -> dict[str, Any]:
        raise asyncio.CancelledError

    with pytest.raises(ProbeError, match="cancelled in the worker"):
        await _within(gives_up(), 5)


async def test_a_cancelled_caller_cancels_the_work_and_again_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_session, "CANCEL_GRACE", 0.2)
    cancels: list[float] = []

    caller = asyncio.ensure_future(_within(_stuck_query(cancels), 30))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.5)
    assert len(cancels) == 2 and 0.15 <= cancels[1] - cancels[0] < 2
