"""The signal ids shared by the detector rules and the runbooks that handle them.

A detector rule that opens an incident names one of these ids as its
``rule``; a runbook lists the ids it handles in ``match``.  Both sides
import the constants from here so a typo is an ``AttributeError`` and not a
runbook that silently never matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CONTAINER_EXITED = "container.exited"
CONTAINER_UNHEALTHY = "container.unhealthy"
CONTAINER_RESTARTING = "container.restarting"
CONTAINER_OOM = "container.oom"
HOST_UNREACHABLE = "host.unreachable"
ENDPOINTS_ALL_DOWN = "endpoints.all_down"
POSTGRES_UNREACHABLE = "postgres.unreachable"
POSTGRES_CONNECTIONS_HIGH = "postgres.connections_high"
POSTGRES_IDLE_IN_TRANSACTION = "postgres.idle_in_transaction"
DISK_FULL = "disk.full"
DISK_INODES = "disk.inodes"
CERT_EXPIRED = "cert.expired"
CERT_EXPIRING = "cert.expiring"
CERT_INVALID = "cert.invalid"
BACKUP_STALE = "backup.stale"
BACKUP_SHRUNK = "backup.shrunk"
SYSTEM_CPU_HIGH = "system.cpu_high"
SYSTEM_MEMORY_HIGH = "system.memory_high"
ENDPOINT_SLOW = "endpoint.slow"
ENDPOINT_DOWN = "endpoint.down"

SIGNALS: Mapping[str, str] = MappingProxyType(
    {
        CONTAINER_EXITED: "a service's container exited or was stopped",
        CONTAINER_UNHEALTHY: "a container's health check fails",
        CONTAINER_RESTARTING: "a container restarts in a loop",
        CONTAINER_OOM: "a container was killed for running out of memory",
        HOST_UNREACHABLE: "the host does not answer over SSH",
        ENDPOINTS_ALL_DOWN: "every health endpoint of a host is down (full outage)",
        POSTGRES_UNREACHABLE: "PostgreSQL does not accept connections",
        POSTGRES_CONNECTIONS_HIGH: "PostgreSQL connections above the threshold of max_connections",
        POSTGRES_IDLE_IN_TRANSACTION: "sessions idle in transaction are piling up",
        DISK_FULL: "a filesystem is above its usage threshold",
        DISK_INODES: "a filesystem is running out of inodes",
        CERT_EXPIRED: "a TLS certificate has expired",
        CERT_EXPIRING: "a TLS certificate expires soon",
        CERT_INVALID: "a TLS certificate chain or host name is invalid",
        BACKUP_STALE: "the newest backup is older than its maximum age",
        BACKUP_SHRUNK: "the newest backup is much smaller than the one before",
        SYSTEM_CPU_HIGH: "sustained high CPU use on the host",
        SYSTEM_MEMORY_HIGH: "sustained high memory use on the host",
        ENDPOINT_SLOW: "a health endpoint answers slower than the threshold",
        ENDPOINT_DOWN: "a health endpoint fails or does not answer",
    }
)
"""Every signal id with a one-line description, in a stable order."""

ALL_SIGNALS: tuple[str, ...] = tuple(SIGNALS)


def is_signal(name: str) -> bool:
    """True when ``name`` is a known signal id."""
    return name in SIGNALS
