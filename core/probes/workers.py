"""The console's helper processes, and asking them for checks.

:data:`CONSOLE_WORKER` runs :mod:`core.probes.console_worker`: the S3
listings, HTTP health checks and TLS handshakes made from the console's
side, and the PostgreSQL queries (through the tunnels the console opens,
:func:`pg_request`).  ``warroom`` calls :func:`prefetch` right after
reading the config, before its own heavy imports: the worker starts, its
imports run on the other core meanwhile, and it makes the config's first round of checks at
once: their answers are there when the probes first ask, a second or so
later, instead of being asked for only then.

The requests are built here (:func:`s3_request`, :func:`http_request`,
:func:`tls_request`) for the probes and the prefetch alike, so that a
prefetched answer is found by the probe that asks the same question, and
hosts that ask the same question at once share one answer
(:data:`~core.probes.shared.CONSOLE_CHECKS`, keyed by the request).

This module imports nothing heavy (not even asyncio): the command line
imports it first.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.config import BackupConfig, Config, EndpointConfig, PostgresConfig, TlsEndpointConfig
from core.probes.base import ProbeError
from core.probes.helper_process import HelperError, HelperProcess
from core.state import ProbeStatus

CONSOLE_WORKER = HelperProcess("core.probes.console_worker", "the console-checks worker")
"""The process's console-checks worker (one for every host and event loop)."""

WORKER_START_SECONDS = 10.0
"""Added to a check's own time limit: a worker that just started is still importing."""

CHECK_SECONDS = 10.0
"""The time limit of a console-side TLS handshake or S3 listing (the probes' default)."""

PREFETCH_FRESH_SECONDS = 5.0
"""How long after it was asked for a prefetched answer may stand in for a new check."""

Request = dict[str, Any]
T = TypeVar("T")

_prefetched: dict[str, tuple[float, concurrent.futures.Future[Any]]] = {}


def start_for(config: Config) -> None:
    """Start the worker now if ``config`` will need it (a failure shows at the first check),
    and have it import psycopg if some host has PostgreSQL."""
    running = CONSOLE_WORKER.pid is not None  # (``warroom`` prefetched: no need to ask)
    if not running and not _has_postgres(config) and not config_requests(config):
        return
    with contextlib.suppress(HelperError):  # each check that needs it says why
        CONSOLE_WORKER.start()
        _load_libraries(config)


def _has_postgres(config: Config) -> bool:
    return any(host.postgres is not None for host in config.hosts)


def _load_libraries(config: Config) -> None:
    """Have every worker import psycopg as it starts if ``config`` will query PostgreSQL
    (HelperError if no worker can start)."""
    if _has_postgres(config):
        CONSOLE_WORKER.on_start({"op": "load", "module": "psycopg"})


def secret_from_env(env: str) -> str | None:
    """The value of the environment variable a config names for a secret (None when it
    names none); ProbeError (NOT_CONFIGURED) when that variable is not set."""
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise ProbeError(ProbeStatus.NOT_CONFIGURED, f"environment variable {env} is not set")
    return value


# -- requests ------------------------------------------------------------------------


def s3_request(backup: BackupConfig, timeout: float = CHECK_SECONDS) -> Request:
    """The listing of ``backup``'s prefix, with the credentials its config names.

    Raises ProbeError (NOT_CONFIGURED) when a named environment variable is
    not set.  The credentials travel over the worker's pipe only.
    """
    credentials: dict[str, str] = {}
    for env, key in ((backup.access_key_env, "aws_access_key_id"),
                     (backup.secret_key_env, "aws_secret_access_key")):
        value = secret_from_env(env)
        if value is not None:
            credentials[key] = value
    return {"op": "s3", "endpoint_url": backup.endpoint_url, "region": backup.region,
            "bucket": backup.bucket, "prefix": backup.prefix, "timeout": timeout,
            "credentials": credentials}


def http_request(endpoint: EndpointConfig) -> Request:
    """The health check of ``endpoint`` from the console's side."""
    return {"op": "http", "endpoint": dataclasses.asdict(endpoint)}


def tls_request(entry: TlsEndpointConfig, timeout: float = CHECK_SECONDS) -> Request:
    """The handshake with ``entry`` (a relative ``ca_file`` made absolute: the
    worker runs in another directory)."""
    if entry.ca_file:
        entry = dataclasses.replace(
            entry, ca_file=os.path.abspath(os.path.expanduser(entry.ca_file)))
    return {"op": "tls", "entry": dataclasses.asdict(entry), "timeout": timeout}


def pg_request(
    session: str, host: str, port: int, config: PostgresConfig, *, password: str | None,
    statement_timeout: float, where: str, sizes: bool = False,
    signal: dict[str, Any] | None = None,
) -> Request:
    """A PostgreSQL probe's query (or backend ``signal``) for the worker's session
    ``session``, to the server at ``host``:``port`` (the SSH tunnel's local end).

    The password travels over the worker's pipe only.  ``seconds`` is how
    long the worker may take, waiting for the session included: past it, the
    worker drops the connection and answers TIMEOUT, and a signal that has
    not run by then never runs (the console stops waiting only later).
    """
    seconds = max(2.0, config.connect_timeout) + 2 + 3 * statement_timeout
    return {"op": "pg", "session": session, "host": host, "port": port,
            "dbname": config.database, "user": config.user, "password": password,
            "connect_timeout": config.connect_timeout, "statement_timeout": statement_timeout,
            "where": where, "sizes": sizes, "signal": signal, "seconds": seconds}


def forget_pg_session(session: str) -> None:
    """Have a running worker close ``session``'s connection (none is started for that)."""
    if CONSOLE_WORKER.pid is None:
        return
    with contextlib.suppress(HelperError):
        CONSOLE_WORKER.send({"op": "pg-close", "session": session})


def seconds_for(request: Request) -> float:
    """How long the check ``request`` may take in the worker."""
    if request["op"] == "pg":  # connecting, then up to three statements (see pg_request)
        return float(request["seconds"])
    if request["op"] == "http":
        return float(request["endpoint"]["timeout"])
    if request["op"] == "s3":
        return float(request["timeout"]) * 4  # a paginated listing is several requests
    return float(request["timeout"]) * 2  # a handshake, and one more to see an untrusted one


def config_requests(config: Config) -> list[Request]:
    """Every distinct console-side check of ``config``, as the probes ask them."""
    out: dict[str, Request] = {}
    for host in config.hosts:
        requests: list[Request] = [tls_request(entry) for entry in host.tls]
        requests += [http_request(e) for e in host.endpoints if e.side in ("console", "both")]
        if host.backup is not None:
            with contextlib.suppress(ProbeError):  # the probe reports it
                requests.append(s3_request(host.backup))
        for request in requests:
            out.setdefault(_key(request), request)
    return list(out.values())


def _key(request: Request) -> str:
    return json.dumps(request, sort_keys=True)


# -- asking --------------------------------------------------------------------------


def prefetch(config: Config) -> None:
    """Have the worker (started now if need be) make ``config``'s console-side checks
    at once, for :func:`ask` to find, and load psycopg if some host has PostgreSQL."""
    now = time.monotonic()
    with contextlib.suppress(HelperError):  # the checks themselves will say why
        _load_libraries(config)
    for request in config_requests(config):
        key = _key(request)
        if key in _prefetched and now - _prefetched[key][0] < PREFETCH_FRESH_SECONDS:
            continue
        try:
            _prefetched[key] = (now, CONSOLE_WORKER.send(request))
        except HelperError:
            return  # the checks themselves will say why


def _take_prefetched(key: str) -> concurrent.futures.Future[Any] | None:
    """The prefetched answer to the request of ``key`` if still fresh; stale ones are
    dropped, all of them (a check nobody asks for must not hold its answer for the
    console's life)."""
    now = time.monotonic()
    for stale, (sent, future) in list(_prefetched.items()):
        if now - sent > PREFETCH_FRESH_SECONDS:
            del _prefetched[stale]
            future.cancel()
    entry = _prefetched.pop(key, None)
    return None if entry is None else entry[1]


async def _answer(request: Request, key: str, seconds: float) -> Request:
    """The worker's answer, prefetched or asked now; one retry when the worker died."""
    early = _take_prefetched(key)
    if early is not None:
        with contextlib.suppress(HelperError):  # (else asked again below, of a new worker)
            return dict(await CONSOLE_WORKER.wait(early, seconds))
    once = request.get("signal") is not None  # it may have run before the worker died
    for attempt in (1, 2):
        try:
            return dict(await CONSOLE_WORKER.call(request, seconds))
        except HelperError as exc:
            if once:
                raise ProbeError(ProbeStatus.ERROR, f"{exc} (whether the signal was sent "
                                                    f"is not known)") from None
            if attempt == 2:
                raise ProbeError(ProbeStatus.ERROR, str(exc)) from None
    raise AssertionError("unreachable")


async def ask(request: Request, build: Callable[[Request], T]) -> T:
    """``build`` of the worker's answer to ``request`` (made by one of the
    ``*_request`` functions); callers asking the same at once share one.

    Raises ProbeError: the worker's own (an S3 error, say), TIMEOUT, ERROR
    when no worker can answer, or ERROR when ``build`` finds the answer
    of the wrong shape.  A worker that died is replaced and the request
    asked again (twice more if a prefetched answer was lost with it), so
    killing it costs no error; a backend signal is never asked again (it
    may have run).
    """
    from core.probes.shared import CONSOLE_CHECKS  # (imports asyncio: not at the top)

    key = _key(request)
    return await CONSOLE_CHECKS.run(key, functools.partial(_ask, request, key, build))


async def _ask(request: Request, key: str, build: Callable[[Request], T]) -> T:
    seconds = seconds_for(request) + WORKER_START_SECONDS
    try:
        answer = await _answer(request, key, seconds)
    except TimeoutError:
        raise ProbeError(ProbeStatus.TIMEOUT, f"no answer from the console-checks worker "
                                              f"in {seconds:g} s") from None
    error = answer.get("error")
    if isinstance(error, dict):
        try:
            status = ProbeStatus(error.get("status"))
        except ValueError:
            status = ProbeStatus.ERROR
        raise ProbeError(status, str(error.get("reason", "")))
    try:
        return build(answer)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProbeError(ProbeStatus.ERROR, f"bad answer from the console-checks worker: "
                                            f"{exc}") from None
