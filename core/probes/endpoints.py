"""The endpoints probe: HTTP health checks from the console and from the host.

From the console side a check is an httpx GET (redirects are not
followed, as with ``curl -f``), made in the console-checks worker
(:mod:`core.probes.workers`); from the host side it is ``curl`` run over
SSH, the way runbooks check ``http://localhost:3000/health`` (``wget`` if
the host has no curl).  An endpoint is *up* when the status is the expected
one and, if configured, the body contains ``expect_body`` and the JSON
field ``expect_json`` (``"path.to.field=value"``; a bare path means "present
and truthy") matches.  ``side = "both"`` gives two checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.config import EndpointConfig
from core.hosts.base import Host
from core.probes.base import (
    SEPARATOR,
    failed,
    host_down_reason,
    host_is_up,
    ok,
    settled,
)
from core.probes.workers import ask, http_request
from core.state import EndpointCheck, ProbeResult, ProbeStatus

if TYPE_CHECKING:
    import httpx

BODY_LIMIT = 1024 * 1024
"""Most of a response body read for body and JSON checks (bytes)."""

TOOL_MARK = "@@warroom-tool@@"
NO_TOOL = "@@warroom-no-http-client@@"


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def check_json(body: bytes | str, expectation: str) -> str:
    """Why ``body`` fails the ``expect_json`` check, or "" when it passes."""
    path, has_value, expected = expectation.partition("=")
    path, expected = path.strip(), expected.strip()
    try:
        node: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return "body is not JSON"
    for key in [k for k in path.split(".") if k]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.lstrip("-").isdigit() and -len(node) <= int(key) < len(
            node
        ):
            node = node[int(key)]
        else:
            return f"JSON has no field {path}"
    if not has_value:
        return "" if node else f"JSON field {path} is {_scalar(node)}"
    actual = _scalar(node)
    if actual == expected:
        return ""
    numeric = isinstance(node, int | float) and not isinstance(node, bool)
    with contextlib.suppress(ValueError):
        if numeric and math.isclose(float(node), float(expected)):
            return ""
    return f"JSON field {path} is {actual!r} (expected {expected!r})"


def judge(
    config: EndpointConfig, status: int | None, body: bytes | None
) -> tuple[bool, str]:
    """(up, reason) for a response with ``status`` and (when checks need it) ``body``."""
    if status != config.expect_status:
        return False, f"HTTP {status} (expected {config.expect_status})"
    if config.expect_body and (body is None or config.expect_body.encode() not in body):
        return False, f"body does not contain {config.expect_body!r}"
    if config.expect_json:
        why = check_json(body or b"", config.expect_json)
        if why:
            return False, why
    return True, ""


def _needs_body(config: EndpointConfig) -> bool:
    return bool(config.expect_body or config.expect_json)


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError with an errno behind an httpx error (refused, unreachable …)."""
    found: OSError | None = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            found = current
        current = current.__cause__ or current.__context__
    return found


def _http_error(exc: Exception, timeout: float) -> str:
    import httpx  # loaded: only the worker makes console-side checks

    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    root = _root_os_error(exc)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if root is not None and root.strerror:
        connecting = isinstance(exc, httpx.ConnectError)
        return root.strerror.lower() if connecting else root.strerror
    return str(exc) or type(exc).__name__


async def check_console(client: httpx.AsyncClient, config: EndpointConfig) -> EndpointCheck:
    """GET ``config.url`` with ``client`` (in the console-checks worker); never raises."""
    started = time.monotonic()
    body: bytes | None = None
    try:
        async with client.stream("GET", config.url, timeout=config.timeout) as response:
            status = response.status_code
            if _needs_body(config):
                chunks = bytearray()
                async for chunk in response.aiter_bytes():
                    chunks += chunk
                    if len(chunks) >= BODY_LIMIT:
                        break
                body = bytes(chunks[:BODY_LIMIT])
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        latency = (time.monotonic() - started) * 1000
        return EndpointCheck(
            config.name, config.url, "console", False, None, latency,
            _http_error(exc, config.timeout),
        )
    latency = (time.monotonic() - started) * 1000
    up, reason = judge(config, status, body)
    return EndpointCheck(config.name, config.url, "console", up, status, latency, reason)


def host_command(config: EndpointConfig) -> str:
    """The shell command that checks ``config.url`` from the host (curl, else wget)."""
    url = shlex.quote(config.url)
    seconds = f"{config.timeout:g}"
    output = "-" if _needs_body(config) else "/dev/null"
    write_out = shlex.quote(f"\n{SEPARATOR} %{{http_code}} %{{time_total}}\n")
    return (
        "if command -v curl >/dev/null 2>&1; then "
        f"echo {TOOL_MARK} curl; curl -sS -o {output} -w {write_out} --max-time {seconds} {url}; "
        "elif command -v wget >/dev/null 2>&1; then "
        f"echo {TOOL_MARK} wget; wget -q -S -O {output} -T {seconds} {url}; "
        f"else echo {NO_TOOL}; fi"
    )


def parse_host_output(
    config: EndpointConfig, stdout: str, stderr: str, duration: float
) -> EndpointCheck:
    """The output of :func:`host_command` as an EndpointCheck."""
    name, url = config.name, config.url

    def down(reason: str, status: int | None = None, latency: float | None = None) -> EndpointCheck:
        return EndpointCheck(name, url, "host", False, status, latency, reason)

    if NO_TOOL in stdout:
        return down("neither curl nor wget is installed on the host")
    header, _, rest = stdout.partition("\n")
    tool = header.replace(TOOL_MARK, "").strip()
    error_line = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    if tool == "curl":
        body_text, _, tail = rest.rpartition(f"\n{SEPARATOR} ")
        if not tail and rest.startswith(f"{SEPARATOR} "):
            body_text, tail = "", rest[len(SEPARATOR) + 1 :]
        fields = tail.split()
        try:
            code = int(fields[0])
            latency = float(fields[1]) * 1000
        except (IndexError, ValueError):
            return down(error_line or "curl gave no answer")
        if code == 0:
            return down(error_line or "no HTTP answer", None, latency)
        body = body_text.encode() if _needs_body(config) else None
        up, reason = judge(config, code, body)
        return EndpointCheck(name, url, "host", up, code, latency, reason)
    statuses = [ln.split() for ln in stderr.splitlines() if ln.strip().startswith("HTTP/")]
    latency = duration * 1000
    if not statuses or len(statuses[-1]) < 2 or not statuses[-1][1].isdigit():
        return down(error_line or "wget gave no answer", None, latency)
    code = int(statuses[-1][1])
    up, reason = judge(config, code, rest.encode() if _needs_body(config) else None)
    return EndpointCheck(name, url, "host", up, code, latency, reason)


async def check_host(host: Host, config: EndpointConfig) -> EndpointCheck:
    """Check ``config.url`` from the host over SSH; never raises."""
    if not host_is_up(host):
        return EndpointCheck(
            config.name, config.url, "host", False, None, None, host_down_reason(host)
        )
    result = await host.run(host_command(config), timeout=config.timeout + 10)
    if result.error:
        return EndpointCheck(config.name, config.url, "host", False, None, None, result.error)
    return parse_host_output(config, result.stdout, result.stderr, result.duration)


async def check_from_console(config: EndpointConfig) -> EndpointCheck:
    """Check ``config.url`` from the console, in the console-checks worker.

    The worker's check never fails (a down endpoint is a finding), so a
    ProbeError here is the worker's own: it fails the probe, never makes an
    endpoint look down.
    """
    return await ask(http_request(config), lambda answer: EndpointCheck(**answer["check"]))


class EndpointsProbe:
    """Every configured HTTP health endpoint of one host, from the configured sides."""

    name = "endpoints"

    def __init__(self, host: Host, endpoints: Sequence[EndpointConfig]) -> None:
        self.host = host
        self.endpoints = tuple(endpoints)

    async def collect(self) -> ProbeResult[tuple[EndpointCheck, ...]]:
        """Run every check concurrently; never raises.

        Console-side checks run even while the host's link is down (is the
        site down too?); the result is then HOST_DOWN when some check needed
        the host, with every check in its data.
        """
        jobs = []
        needs_host = False
        for endpoint in self.endpoints:
            if endpoint.side in ("console", "both"):
                jobs.append(check_from_console(endpoint))
            if endpoint.side in ("host", "both"):
                needs_host = True
                jobs.append(check_host(self.host, endpoint))
        done, error = settled(await asyncio.gather(*jobs, return_exceptions=True))
        checks = tuple(done)
        if needs_host and not host_is_up(self.host):
            return failed(self.name, ProbeStatus.HOST_DOWN, host_down_reason(self.host), checks)
        if error is not None:  # the console-side checks could not be made
            return failed(self.name, error.status, error.reason, checks)
        return ok(self.name, checks)

    async def close(self) -> None:
        """Nothing to close (the worker keeps the HTTP client)."""
