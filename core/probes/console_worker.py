"""The console-checks worker: the checks made from the console's side, in a process of their own.

Run as ``python -P -m core.probes.console_worker`` by
:mod:`core.probes.workers`; it reads one JSON request per line on stdin and
writes one JSON answer per line on stdout, with the request's ``id``:

* ``{"op": "s3", "endpoint_url", "region", "bucket", "prefix", "timeout",
  "credentials": {...}}`` lists the objects under a prefix (botocore,
  boto3's engine, in a thread): ``{"objects": [[key, size, last_modified_epoch], ...]}``;
* ``{"op": "http", "endpoint": {EndpointConfig fields}}`` is a health check
  (httpx): ``{"check": {EndpointCheck fields}}``;
* ``{"op": "tls", "entry": {TlsEndpointConfig fields}, "timeout"}`` is a
  TLS handshake: ``{"cert": {CertInfo fields}}``;
* ``{"op": "pg", "session", ...}`` queries PostgreSQL through an SSH tunnel's
  local end on the session's kept connection, and ``{"op": "pg-close",
  "session"}`` closes it (:mod:`core.probes.pg_session`);
* ``{"op": "load", "module": "psycopg"}`` imports psycopg ahead of the first
  ``pg`` request: ``{"loaded": module}``;
* a failure is ``{"error": {"status": ProbeStatus value, "reason": ...}}``.

Requests are answered concurrently, in the order they finish.  botocore,
httpx, psycopg and the system trust store (for https health checks) load
here, not in the console:
that is about 0.6 s of CPU the console's one interpreter no longer spends
while it builds its screen.  The worker inherits the console's environment (the usual
AWS credential chain still works) and exits as soon as stdin closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import ssl
import sys
import threading
from typing import Any

from core.config import EndpointConfig, TlsEndpointConfig
from core.probes.backups import describe_s3_error
from core.probes.base import ProbeError
from core.probes.certs import check_tls, default_tls_context
from core.probes.endpoints import check_console
from core.probes.pg_session import PgSessions
from core.state import ProbeStatus

Answer = dict[str, Any]

LOADABLE = ("psycopg",)
"""What a ``load`` request may import."""


class Lister:
    """S3 listings, with one client per endpoint, region, timeout and credentials."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        """botocore's session, shared: the second client reuses the first's loaded models."""

    def _client(self, request: dict[str, Any]) -> Any:
        credentials = {str(k): str(v) for k, v in dict(request.get("credentials") or {}).items()}
        timeout = float(request["timeout"])
        key = (request.get("endpoint_url"), request.get("region"), timeout,
               tuple(sorted(credentials.items())))
        with self._lock:  # a client costs ~0.2 s of CPU: one per bucket and key
            client = self._clients.get(key)
            if client is None:
                import botocore.session
                from botocore.config import Config as BotoConfig

                if self._session is None:  # (boto3's wrapper adds nothing here, and ~30 ms of CPU)
                    self._session = botocore.session.get_session()
                client = self._clients[key] = self._session.create_client(
                    "s3",
                    endpoint_url=request.get("endpoint_url") or None,
                    region_name=request.get("region") or None,
                    config=BotoConfig(
                        connect_timeout=min(5.0, timeout),
                        read_timeout=timeout,
                        retries={"max_attempts": 2, "mode": "standard"},
                        s3={"addressing_style": "path"},
                        max_pool_connections=16,
                    ),
                    **credentials,
                )
        return client

    def list(self, request: dict[str, Any]) -> list[list[Any]]:
        """Every object under the prefix as ``[key, size, last_modified]`` (blocking)."""
        paginator = self._client(request).get_paginator("list_objects_v2")
        objects: list[list[Any]] = []
        for page in paginator.paginate(Bucket=request["bucket"], Prefix=request.get("prefix", "")):
            for item in page.get("Contents", []):
                objects.append([str(item["Key"]), int(item.get("Size", 0)),
                                item["LastModified"].timestamp()])
        return objects

    async def answer(self, request: dict[str, Any]) -> Answer:
        where = (f"s3://{request.get('bucket')}/{request.get('prefix', '')} "
                 f"at {request.get('endpoint_url')}")
        try:
            return {"objects": await asyncio.to_thread(self.list, request)}
        except Exception as exc:
            raise describe_s3_error(exc, where) from None


class HttpChecks:
    """Health checks over two shared httpx clients, each made on first use: one
    for ``http://`` URLs and one for ``https://`` URLs.

    Only the second loads the system trust store (tens of milliseconds of CPU,
    in a thread): a config whose health URLs are all plain http never pays
    for it.  Redirects are not followed, so a plain client never meets TLS;
    were it to, its empty trust store fails the handshake.
    """

    def __init__(self) -> None:
        self._clients: dict[bool, Any] = {}
        self._making = asyncio.Lock()

    async def _client(self, tls: bool) -> Any:
        async with self._making:
            client = self._clients.get(tls)
            if client is None:
                import httpx

                verify = (await asyncio.to_thread(default_tls_context) if tls
                          else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
                client = httpx.AsyncClient(
                    verify=verify,
                    follow_redirects=False,
                    headers={"User-Agent": "warroom-healthcheck"},
                    limits=httpx.Limits(max_connections=16, max_keepalive_connections=4),
                )
                self._clients[tls] = client
            return client

    async def answer(self, request: dict[str, Any]) -> Answer:
        endpoint = EndpointConfig(**request["endpoint"])
        tls = endpoint.url.startswith("https://")  # (the config allows only these two)
        check = await check_console(await self._client(tls), endpoint)
        return {"check": dataclasses.asdict(check)}


async def tls_answer(request: dict[str, Any]) -> Answer:
    entry = TlsEndpointConfig(**request["entry"])
    cert = await check_tls(entry, float(request["timeout"]))
    return {"cert": dataclasses.asdict(cert)}


async def load_answer(request: dict[str, Any]) -> Answer:
    module = request.get("module")
    if module not in LOADABLE:
        raise ProbeError(ProbeStatus.ERROR, f"the console-checks worker loads no {module!r}")
    try:
        await asyncio.to_thread(importlib.import_module, str(module))
    except ImportError as exc:
        raise ProbeError(ProbeStatus.ERROR, f"cannot load {module}: {exc}") from None
    return {"loaded": module}


def _error(exc: Exception) -> Answer:
    return {"error": {"status": ProbeStatus.ERROR.value,
                      "reason": f"{type(exc).__name__}: {exc}"}}


class Worker:
    """Answers each request line as its own task."""

    def __init__(self) -> None:
        self.lister = Lister()
        self.http = HttpChecks()
        self.pg = PgSessions()
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            ident = request["id"]
        except (ValueError, KeyError, TypeError):
            return  # not a request: nothing to answer
        try:
            op = request.get("op")
            if op == "s3":
                answer = await self.lister.answer(request)
            elif op == "http":
                answer = await self.http.answer(request)
            elif op == "tls":
                answer = await tls_answer(request)
            elif op == "pg":
                answer = await self.pg.answer(request)
            elif op == "pg-close":
                answer = await self.pg.close(str(request["session"]))
            elif op == "load":
                answer = await load_answer(request)
            else:
                raise ProbeError(ProbeStatus.ERROR, f"the console-checks worker has no {op!r}")
        except ProbeError as exc:
            answer = {"error": {"status": exc.status.value, "reason": exc.reason}}
        except Exception as exc:  # a bad request: its own error, never the worker's end
            answer = _error(exc)
        try:
            reply = json.dumps({**answer, "id": ident})
        except (TypeError, ValueError) as exc:  # an answer JSON cannot carry: still answered
            reply = json.dumps({**_error(exc), "id": ident})
        sys.stdout.buffer.write(reply.encode() + b"\n")
        sys.stdout.buffer.flush()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line over the limit: not a request
                continue
            if not line:  # the console closed the pipe (or ended): so do we, now
                sys.stdout.flush()
                os._exit(0)
            task = asyncio.create_task(self.handle(line))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def preload() -> None:
    """Import the libraries the checks need before the first request asks for them
    (one that fails to import is reported by the request that needs it)."""
    try:
        import botocore.config
        import botocore.session  # noqa: F401
        import httpcore  # noqa: F401  (httpx imports its transport only when a client is made)
        import httpx  # noqa: F401
    except Exception:
        pass


def main() -> None:
    """Serve until stdin closes, then exit at once (a listing under way is abandoned)."""
    threading.Thread(target=preload, daemon=True, name="preload").start()
    asyncio.run(Worker().serve())


if __name__ == "__main__":
    main()
