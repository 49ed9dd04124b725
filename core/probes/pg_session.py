"""PostgreSQL sessions of the console-checks worker: psycopg runs there, not in the console.

The console's :class:`~core.probes.postgres.PostgresProbe` opens the SSH
tunnel and asks the worker (op ``pg``, built by
:func:`core.probes.workers.pg_request`) to query the server at the tunnel's
local end.  :class:`PgSessions` keeps one connection per probe (its
``session``), reopened when it breaks or when the probe's connection
settings change (a new local port after the SSH link came back, a new
password), and closed when the probe asks (op ``pg-close``).

psycopg's import (about 0.15 s of CPU) and the connections' SCRAM
handshakes and row decoding were the largest part of the console's own
work at launch that its screen did not need; here they run on the other
core.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from core.probes.base import ProbeError
from core.probes.postgres import (
    ACTIVITY_SQL,
    APPLICATION_NAME,
    QUERY_TEXT_LIMIT,
    SETTINGS_SQL,
    SIGNALS,
    SIZES_SQL,
    describe_pg_error,
)
from core.state import ProbeStatus
from core.timeouts import wait_for

Answer = dict[str, Any]
Statement = tuple[str, dict[str, Any] | None]
"""SQL and its parameters."""

CANCEL_GRACE = 0.5
"""How long a request that ran out of time may take to end once cancelled.  psycopg
answers a cancellation during a query by asking the server to cancel the query
(so it does not run on for nobody) and waiting up to 5 s for that: a server that
hangs would be reported 5 s late.  Past this grace the request is cancelled again,
and psycopg closes the connection at once.  Either way the session's connection
is then dropped (``_answer``): the next request opens a new one."""


@dataclass
class _Session:
    """One probe's kept connection and the settings it was opened with."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conn: Any = None
    settings: tuple[Any, ...] = ()


def _text(value: Any) -> str:
    """A text column as str: a server in SQL_ASCII hands psycopg bytes (decoded here as
    UTF-8, what such servers mostly hold, with replacement characters for the rest)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _conninfo(request: dict[str, Any]) -> dict[str, Any]:
    """psycopg's connect arguments from a ``pg`` request (read-only, time-limited)."""
    statement_ms = int(float(request["statement_timeout"]) * 1000)
    kwargs: dict[str, Any] = {
        "host": str(request["host"]),
        "port": int(request["port"]),
        "dbname": str(request["dbname"]),
        "user": str(request["user"]),
        "connect_timeout": max(2, math.ceil(float(request["connect_timeout"]))),
        "application_name": APPLICATION_NAME,
        "autocommit": True,
        "options": f"-c default_transaction_read_only=on -c statement_timeout={statement_ms}",
    }
    if request.get("password") is not None:
        kwargs["password"] = str(request["password"])
    return kwargs


class PgSessions:
    """The worker's PostgreSQL connections, one per console-side probe."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    async def answer(self, request: dict[str, Any]) -> Answer:
        """A ``pg`` request: the probe's rows, or the result of a backend signal.

        Within the request's ``seconds``, waiting for the session included
        (a stuck query holds it): past them the connection is dropped, a
        signal still waiting never runs, and the answer is TIMEOUT.
        """
        session = self._sessions.setdefault(str(request["session"]), _Session())
        where = str(request.get("where", ""))
        seconds = float(request["seconds"])
        began: list[bool] = []
        try:
            return await _within(self._answer(session, request, where, began), seconds)
        except TimeoutError:
            unknown = began and request.get("signal") is not None
            raise ProbeError(ProbeStatus.TIMEOUT, f"no answer from PostgreSQL at {where} "
                                                  f"within {seconds:g} s" + (
                " (whether the signal was sent is not known)" if unknown else "")) from None

    async def _answer(self, session: _Session, request: dict[str, Any], where: str,
                      began: list[bool]) -> Answer:
        async with session.lock:
            began.append(True)
            try:
                return await self._run(session, request, where)
            except asyncio.CancelledError:  # (out of time) a query may be under way: drop it
                await _drop(session)
                raise

    async def _run(self, session: _Session, request: dict[str, Any], where: str) -> Answer:
        signal = request.get("signal")
        if signal is not None:
            function = str(signal["function"])
            if function not in SIGNALS:
                raise ProbeError(ProbeStatus.ERROR, f"not a backend signal: {function!r}")
            rows = await self._query(session, request, where, f"SELECT {function}(%(pid)s)",
                                     {"pid": int(signal["pid"])})
            return {"signalled": bool(rows and rows[0][0])}
        statements: list[Statement] = [(SETTINGS_SQL, None),
                                       (ACTIVITY_SQL, {"limit": QUERY_TEXT_LIMIT})]
        want_sizes = bool(request.get("sizes"))
        if want_sizes:
            statements.append((SIZES_SQL, None))
        results = await self._queries(session, request, where, statements)
        max_connections, version, own_pid = results[0][0]
        rows = results[1]
        sizes = None
        if want_sizes:
            sizes = [[_text(n), int(s)] for n, s in results[2] if s is not None]
        return {"pg": {"max_connections": int(max_connections), "version": _text(version),
                       "own_pid": int(own_pid),
                       "activity": [[_text(v) if isinstance(v, bytes) else v for v in row]
                                    for row in rows],
                       "sizes": sizes}}

    async def close(self, name: str) -> Answer:
        """Op ``pg-close``: close the probe's connection (there may be none)."""
        session = self._sessions.pop(name, None)
        if session is not None:
            async with session.lock:
                await _drop(session)
        return {"closed": session is not None}

    async def _query(self, session: _Session, request: dict[str, Any], where: str,
                     sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one query, reconnecting once if the kept connection broke."""
        return (await self._queries(session, request, where, [(sql, params)]))[0]

    async def _queries(self, session: _Session, request: dict[str, Any], where: str,
                       statements: list[Statement]) -> list[list[Any]]:
        """Each statement's rows, the statements sent together (one round trip: every
        round trip of the tunnel passes through the console's event loop), reconnecting
        once if the kept connection broke."""
        import psycopg

        for attempt in (1, 2):
            conn = await _connection(session, request, where)
            try:
                return await _together(conn, statements)
            except psycopg.errors.QueryCanceled:
                raise ProbeError(
                    ProbeStatus.TIMEOUT,
                    f"query took longer than {float(request['statement_timeout']):g} s "
                    f"on {where}",
                ) from None
            except psycopg.errors.PipelineAborted as exc:  # (an OperationalError, not a
                # broken link): a statement before failed, which is the error to report
                cause = exc.__context__
                raise describe_pg_error(
                    cause if isinstance(cause, psycopg.Error) else exc, where) from None
            except psycopg.OperationalError as exc:
                await _drop(session)
                if attempt == 2:
                    raise describe_pg_error(exc, where) from None
            except psycopg.Error as exc:
                raise describe_pg_error(exc, where) from None
        raise AssertionError("unreachable")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's error as seen (the time limit is what gets reported)."""
    if not task.cancelled():
        task.exception()


async def _within(work: Coroutine[Any, Any, Answer], seconds: float) -> Answer:
    """``work``'s answer or error; TimeoutError after ``seconds``, once it is cancelled
    (within :data:`CANCEL_GRACE`, or cancelled again, which closes a query's connection).

    A caller that is cancelled meanwhile cancels the work, and again after the
    grace, so that the session it holds is let go of as soon.
    """
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieve)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        timed_out = not done
        if timed_out:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE)
        if timed_out and not done:
            task.cancel()  # psycopg is waiting for the server to cancel: it closes instead
            done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE + 2)  # (its _drop)
    except asyncio.CancelledError:  # the caller's own cancellation: the work's too
        task.cancel()
        asyncio.get_running_loop().call_later(CANCEL_GRACE, task.cancel)
        raise
    if not timed_out:
        if task.cancelled():  # (by itself: nobody here cancelled it)
            raise ProbeError(ProbeStatus.ERROR, "the request was cancelled in the worker")
        return task.result()
    if done and not task.cancelled() and task.exception() is None:
        return task.result()  # it finished as the time ran out (an error then is not news)
    raise TimeoutError


async def _together(conn: Any, statements: list[Statement]) -> list[list[Any]]:
    """Each statement's rows; more than one go in one pipeline (one exchange with the
    server, each statement still its own, with its own ``statement_timeout``)."""
    if len(statements) == 1:
        sql, params = statements[0]
        async with conn.cursor() as cur:
            await cur.execute(sql, params)
            return [list(await cur.fetchall())]
    cursors = [conn.cursor() for _ in statements]
    async with conn.pipeline():
        try:
            for cur, (sql, params) in zip(cursors, statements, strict=True):
                await cur.execute(sql, params)
        except asyncio.CancelledError:
            # out of time while sending: the pipeline's exit would wait for the
            # server without a limit; a closed connection ends it (the caller drops it)
            conn.pgconn.finish()
            raise
    # (the pipeline's exit fetched every result: no more I/O here)
    return [list(await cur.fetchall()) for cur in cursors]


async def _connection(session: _Session, request: dict[str, Any], where: str) -> Any:
    """The session's open connection, (re)opened with the request's settings."""
    kwargs = _conninfo(request)
    settings = tuple(sorted(kwargs.items()))
    conn = session.conn
    if conn is not None and (conn.closed or conn.broken or settings != session.settings):
        await _drop(session)
    if session.conn is None:
        import psycopg

        try:
            session.conn = await wait_for(psycopg.AsyncConnection.connect(**kwargs),
                                          kwargs["connect_timeout"] + 2)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise describe_pg_error(exc, where) from None
        session.settings = settings
    return session.conn


async def _drop(session: _Session) -> None:
    conn, session.conn = session.conn, None
    if conn is not None:
        with contextlib.suppress(Exception):  # a broken link: nothing more to do
            await wait_for(conn.close(), 2)
