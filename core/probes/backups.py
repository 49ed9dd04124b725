"""The backups probe: the newest object under a prefix in an S3-compatible bucket.

The listing runs in the console-checks worker (:mod:`core.probes.workers`),
with botocore (boto3's engine) in a thread there, short connect/read timeouts and few retries.
Credentials come from the environment variables the config names (else
the usual AWS chain, in the worker, which inherits the environment).
A bucket or prefix with no objects is not a probe failure but a finding:
the result is OK with ``object_count == 0``, an empty ``newest_key`` and an
infinite ``newest_age_seconds`` (no backup at all is older than any limit).
"""

from __future__ import annotations

import asyncio
import datetime
import math
import time
from typing import Any

from core.config import BackupConfig
from core.probes.base import ProbeError, failed, ok
from core.probes.libraries import if_loaded
from core.probes.workers import CHECK_SECONDS, ask, s3_request
from core.state import BackupState, ProbeResult, ProbeStatus

DENIED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "403"}


Listed = dict[str, Any]


def newest_two(objects: list[Listed]) -> tuple[Listed | None, Listed | None]:
    """The newest and second-newest objects by ``LastModified`` (then by key)."""
    ordered = sorted(objects, key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
    first = ordered[0] if ordered else None
    second = ordered[1] if len(ordered) > 1 else None
    return first, second


def backup_state(
    bucket: str, prefix: str, objects: list[dict[str, Any]], now: float | None = None
) -> BackupState:
    """Summarise a listing (``Key``, ``Size``, ``LastModified`` datetimes)."""
    now = time.time() if now is None else now
    newest, previous = newest_two(objects)
    if newest is None:
        return BackupState(bucket, prefix, "", 0, math.inf, None, 0)
    return BackupState(
        bucket=bucket,
        prefix=prefix,
        newest_key=str(newest["Key"]),
        newest_size=int(newest.get("Size", 0)),
        newest_age_seconds=max(0.0, now - newest["LastModified"].timestamp()),
        previous_size=int(previous.get("Size", 0)) if previous is not None else None,
        object_count=len(objects),
    )


def describe_s3_error(exc: BaseException, where: str) -> ProbeError:
    """A boto3/botocore failure as a status and reason."""
    errors = if_loaded("botocore.exceptions")
    if errors is None:  # never loaded: exc is not one of its errors
        return ProbeError(ProbeStatus.ERROR, str(exc) or type(exc).__name__)
    if isinstance(exc, errors.NoCredentialsError):
        return ProbeError(ProbeStatus.NOT_CONFIGURED, "no S3 credentials")
    if isinstance(exc, errors.ConnectTimeoutError | errors.ReadTimeoutError):
        return ProbeError(ProbeStatus.TIMEOUT, f"{where} did not answer in time")
    if isinstance(exc, errors.EndpointConnectionError):
        return ProbeError(ProbeStatus.UNREACHABLE, f"cannot connect to {where}")
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        if code in DENIED_CODES:
            return ProbeError(ProbeStatus.PERMISSION_DENIED, f"{code}: {message}")
        if code == "NoSuchBucket":
            return ProbeError(ProbeStatus.ERROR, f"no such bucket at {where}")
        return ProbeError(ProbeStatus.ERROR, f"{code}: {message}")
    if isinstance(exc, errors.BotoCoreError):
        return ProbeError(ProbeStatus.ERROR, str(exc))
    return ProbeError(ProbeStatus.ERROR, str(exc) or type(exc).__name__)


def _listed(answer: dict[str, Any]) -> list[Listed]:
    """The worker's listing as boto3 gives it (``LastModified`` a datetime)."""
    return [{"Key": key, "Size": size,
             "LastModified": datetime.datetime.fromtimestamp(at, datetime.UTC)}
            for key, size, at in answer["objects"]]


class BackupsProbe:
    """Freshness and size of the newest backup object, seen from the console."""

    name = "backups"

    def __init__(self, config: BackupConfig, timeout: float = CHECK_SECONDS) -> None:
        self.config = config
        self.timeout = timeout

    async def list_objects(self) -> list[dict[str, Any]]:
        """Every object under the prefix (``Key``, ``Size``, ``LastModified``), listed by
        the console-checks worker; ProbeError if it cannot be listed."""
        return await ask(s3_request(self.config, self.timeout), _listed)

    async def collect(self) -> ProbeResult[BackupState]:
        """List the prefix and summarise the newest backup; never raises."""
        try:
            objects = await self.list_objects()
        except asyncio.CancelledError:
            raise
        except ProbeError as exc:
            return failed(self.name, exc.status, exc.reason)
        return ok(self.name, backup_state(self.config.bucket, self.config.prefix, objects))

    async def close(self) -> None:
        """Nothing to close (the worker keeps the S3 clients)."""
