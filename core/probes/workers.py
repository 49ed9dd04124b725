"""The console's helper processes, and asking them for checks.

:data:`CONSOLE_WORKER` runs :mod:`core.probes.console_worker`: the S3
listings, HTTP health checks and TLS handshakes made from the console's
side.  :func:`start_for` starts it as early as the console knows it will be
needed (``warroom`` calls it right after reading the config, before its own
heavy imports), so its imports run on the other core meanwhile.

This module imports nothing heavy (not even asyncio): the command line
imports it first.
"""

from __future__ import annotations

import contextlib
from typing import Any

from core.config import Config
from core.probes.base import ProbeError
from core.probes.helper_process import HelperError, HelperProcess
from core.state import ProbeStatus

CONSOLE_WORKER = HelperProcess("core.probes.console_worker", "the console-checks worker")
"""The process's console-checks worker (one for every host and event loop)."""

WORKER_START_SECONDS = 10.0
"""Added to a check's own time limit: a worker that just started is still importing."""


def needs_worker(config: Config) -> bool:
    """Whether some host has a check made from the console's side."""
    return any(
        host.backup is not None or host.tls
        or any(e.side in ("console", "both") for e in host.endpoints)
        for host in config.hosts
    )


def start_for(config: Config) -> None:
    """Start the worker now if ``config`` will need it (a failure shows at the first check)."""
    if needs_worker(config):
        with contextlib.suppress(HelperError):  # each check that needs it says why
            CONSOLE_WORKER.start()


async def ask(request: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The worker's answer to ``request``, whose check takes at most ``seconds``.

    Raises ProbeError: the worker's own (an S3 error, say), TIMEOUT, or
    ERROR when no worker can answer.  A worker that died is replaced and
    the request asked once more, so killing it costs no error.
    """
    for attempt in (1, 2):
        try:
            answer: dict[str, Any] = await CONSOLE_WORKER.call(
                request, seconds + WORKER_START_SECONDS)
        except HelperError as exc:
            if attempt == 2:
                raise ProbeError(ProbeStatus.ERROR, str(exc)) from None
            continue
        except TimeoutError:
            raise ProbeError(ProbeStatus.TIMEOUT,
                             f"no answer from the console-checks worker in "
                             f"{seconds + WORKER_START_SECONDS:g} s") from None
        error = answer.get("error")
        if isinstance(error, dict):
            try:
                status = ProbeStatus(error.get("status"))
            except ValueError:
                status = ProbeStatus.ERROR
            raise ProbeError(status, str(error.get("reason", "")))
        return answer
    raise AssertionError("unreachable")
