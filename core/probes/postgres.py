"""The PostgreSQL probe: connections, long and blocked queries, database sizes.

The server is reached the way production reaches it: through the host's SSH
tunnel (:meth:`Host.forward_tcp`), with psycopg's async connection, an
explicit connect timeout, ``application_name='warroom'`` and a read-only,
time-limited session.  psycopg runs in the console-checks worker
(:mod:`core.probes.pg_session`), which connects to the tunnel's local end:
the console opens the tunnel, sends the query's settings, and builds the
state from the rows.  One connection per probe is kept open between
collects and reopened when it breaks (e.g. after the SSH link came back).

Counts cover client backends only and **exclude warroom's own connection**,
so they show what the applications are doing; ``max_connections`` is the
server's setting.  For a backend that is ``active``, ``query_seconds`` is
how long its current query has run; for any other state it is how long the
backend has been in that state (e.g. idle in transaction).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.config import PostgresConfig
from core.hosts.base import Host
from core.probes import workers
from core.probes.base import (
    ProbeError,
    describe_exception,
    failed,
    host_down,
    host_down_reason,
    host_is_up,
    ok,
)
from core.probes.libraries import if_loaded
from core.state import PgBackend, PgState, ProbeResult, ProbeStatus

T = TypeVar("T")

APPLICATION_NAME = "warroom"
LONGEST = 5
QUERY_TEXT_LIMIT = 2000
SIZES_MAX_AGE = 60.0

ACTIVITY_SQL = """
SELECT pid,
       coalesce(datname, ''),
       coalesce(usename, ''),
       coalesce(application_name, ''),
       coalesce(host(client_addr), CASE WHEN client_port = -1 THEN 'local' ELSE '' END),
       coalesce(state, ''),
       left(coalesce(query, ''), %(limit)s),
       EXTRACT(EPOCH FROM clock_timestamp()
               - CASE WHEN state = 'active' THEN query_start ELSE state_change END)::float8,
       coalesce(wait_event_type || ': ' || wait_event, ''),
       CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}'::int[] END
  FROM pg_stat_activity
 WHERE backend_type = 'client backend'
"""

SETTINGS_SQL = """
SELECT current_setting('max_connections')::int,
       current_setting('server_version'),
       pg_backend_pid()
"""

SIGNALS = ("pg_cancel_backend", "pg_terminate_backend")
"""The backend signals a console may send (``SELECT fn(pid)``)."""

SIZES_SQL = """
SELECT datname,
       CASE WHEN has_database_privilege(datname, 'CONNECT')
            THEN pg_database_size(datname) END
  FROM pg_database
 WHERE NOT datistemplate
"""


def backend_from_row(row: tuple[Any, ...]) -> PgBackend:
    """One ``ACTIVITY_SQL`` row as a PgBackend."""
    seconds = row[7]
    return PgBackend(
        pid=int(row[0]),
        database=str(row[1]),
        user=str(row[2]),
        application=str(row[3]),
        client=str(row[4]),
        state=str(row[5]) or "unknown",
        query=str(row[6]),
        query_seconds=float(seconds) if seconds is not None and math.isfinite(seconds) else None,
        wait_event=str(row[8]),
        blocked_by=tuple(int(p) for p in (row[9] or ())),
    )


def summarise(
    backends: list[PgBackend],
    max_connections: int,
    own_pid: int | None,
    sizes: dict[str, int],
    version: str = "",
) -> PgState:
    """Counts, longest and blocked queries from every client backend but warroom's own."""
    others = [b for b in backends if b.pid != own_pid]
    by_state: dict[str, int] = {}
    by_database: dict[str, int] = {}
    by_user: dict[str, int] = {}
    for b in others:
        by_state[b.state] = by_state.get(b.state, 0) + 1
        by_database[b.database] = by_database.get(b.database, 0) + 1
        by_user[b.user] = by_user.get(b.user, 0) + 1
    active = [b for b in others if b.state == "active" and b.query_seconds is not None]
    active.sort(key=lambda b: b.query_seconds or 0.0, reverse=True)
    blocked = [b for b in others if b.blocked_by]
    extra: dict[str, Any] = {}
    if "blockers" in PgState.__dataclass_fields__:
        blocking = {pid for b in blocked for pid in b.blocked_by}
        extra["blockers"] = tuple(b for b in backends if b.pid in blocking)
    return PgState(
        max_connections=max_connections,
        total=len(others),
        by_state=by_state,
        by_database=by_database,
        by_user=by_user,
        longest=tuple(active[:LONGEST]),
        blocked=tuple(blocked),
        database_sizes=sizes,
        version=version,
        **extra,
    )


def describe_pg_error(exc: BaseException, where: str) -> ProbeError:
    """A psycopg (or socket) failure as a status and reason."""
    psycopg = if_loaded("psycopg")  # None: it never loaded, so exc is not its error
    text = str(exc).strip()
    lower = text.lower()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "password authentication failed" in lower or "no pg_hba.conf entry" in lower:
        return ProbeError(ProbeStatus.PERMISSION_DENIED, first)
    if "permission denied" in lower:
        return ProbeError(ProbeStatus.PERMISSION_DENIED, first)
    if "timeout expired" in lower or isinstance(exc, TimeoutError):
        return ProbeError(ProbeStatus.TIMEOUT, f"no answer from PostgreSQL at {where}")
    if "connection refused" in lower:
        return ProbeError(ProbeStatus.UNREACHABLE, f"connection refused by {where}")
    if "server closed the connection" in lower or "connection is lost" in lower:
        return ProbeError(ProbeStatus.UNREACHABLE, f"cannot reach PostgreSQL at {where}")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        return ProbeError(ProbeStatus.UNREACHABLE, first)
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return ProbeError(ProbeStatus.ERROR, first)
    status, reason = describe_exception(exc)
    return ProbeError(status, reason)


class PostgresProbe:
    """Connections and queries of one PostgreSQL server, seen through a host's tunnel."""

    name = "postgres"
    _sessions = itertools.count(1)

    def __init__(self, host: Host, config: PostgresConfig, statement_timeout: float = 5.0):
        self.host = host
        self.config = config
        self.statement_timeout = statement_timeout
        self.session = f"{host.name}#{next(self._sessions)}"
        """The worker's name for this probe's kept connection."""
        self._asked = False
        self._sizes: dict[str, int] = {}
        self._sizes_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        """``host:port via <host>`` for messages."""
        return f"{self.config.host}:{self.config.port} via {self.host.name}"

    async def _request(self, **extra: Any) -> dict[str, Any]:
        """The worker request for this probe's server, through a tunnel opened now."""
        if not host_is_up(self.host):
            raise ProbeError(ProbeStatus.HOST_DOWN, host_down_reason(self.host))
        password = workers.secret_from_env(self.config.password_env)
        try:
            forward = await self.host.forward_tcp(self.config.host, self.config.port)
        except OSError as exc:  # (ConnectionError included)
            raise describe_pg_error(exc, self.where) from None
        self._asked = True
        return workers.pg_request(
            self.session, forward.host, forward.port, self.config,
            password=password, statement_timeout=self.statement_timeout,
            where=self.where, **extra)

    async def _ask(self, build: Callable[[dict[str, Any]], T], **extra: Any) -> T:
        return await workers.ask(await self._request(**extra), build)

    async def collect(self) -> ProbeResult[PgState]:
        """Connections by state/database/user, long and blocked queries; never raises."""
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        try:
            async with self._lock:
                want_sizes = (time.monotonic() - self._sizes_at > SIZES_MAX_AGE
                              or not self._sizes)
                answer = await self._ask(lambda a: _pg_answer(a["pg"]), sizes=want_sizes)
        except asyncio.CancelledError:
            raise
        except ProbeError as exc:
            return failed(self.name, exc.status, exc.reason)
        except Exception as exc:
            error = describe_pg_error(exc, self.where)
            return failed(self.name, error.status, error.reason)
        max_connections, version, own_pid, backends, sizes = answer
        if sizes is not None:
            self._sizes = sizes
            self._sizes_at = time.monotonic()
        state = summarise(backends, max_connections, own_pid, dict(self._sizes), version)
        return ok(self.name, state)

    async def _signal(self, function: str, pid: int) -> int:
        async with self._lock:
            signalled = await self._ask(lambda a: bool(a["signalled"]),
                                        signal={"function": function, "pid": int(pid)})
        return 0 if signalled else 1

    async def cancel_backend(self, pid: int) -> int:
        """``pg_cancel_backend(pid)``: 0 if the backend was signalled, 1 if not (no such pid).

        Raises ProbeError when the server cannot be asked."""
        return await self._signal("pg_cancel_backend", pid)

    async def terminate_backend(self, pid: int) -> int:
        """``pg_terminate_backend(pid)``: 0 if the backend was signalled, 1 if not."""
        return await self._signal("pg_terminate_backend", pid)

    async def close(self) -> None:
        """Have the worker close this probe's kept connection (if it ever opened one)."""
        if not self._asked:
            return
        self._asked = False
        workers.forget_pg_session(self.session)


def _pg_answer(
    answer: dict[str, Any],
) -> tuple[int, str, int, list[PgBackend], dict[str, int] | None]:
    """The worker's ``pg`` answer as max_connections, version, own pid, backends, sizes."""
    sizes = answer["sizes"]
    return (
        int(answer["max_connections"]),
        str(answer["version"]),
        int(answer["own_pid"]),
        [backend_from_row(tuple(row)) for row in answer["activity"]],
        None if sizes is None else {str(n): int(s) for n, s in sizes},
    )
