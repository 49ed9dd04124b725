"""Rule and runbook signal ids shared by the detector and the runbook library.

A rule id and the signal it raises are the same string: a runbook that
``matches`` ``"disk.full"`` is opened for every ``disk.full`` incident.
"""

from __future__ import annotations

HOST_UNREACHABLE = "host.unreachable"
ENDPOINTS_ALL_DOWN = "endpoints.all_down"
ENDPOINT_DOWN = "endpoint.down"
ENDPOINT_SLOW = "endpoint.slow"
CONTAINER_EXITED = "container.exited"
CONTAINER_RESTARTING = "container.restarting"
CONTAINER_UNHEALTHY = "container.unhealthy"
CONTAINER_OOM = "container.oom"
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

ALL_SIGNALS: tuple[str, ...] = (
    HOST_UNREACHABLE,
    ENDPOINTS_ALL_DOWN,
    ENDPOINT_DOWN,
    ENDPOINT_SLOW,
    CONTAINER_EXITED,
    CONTAINER_RESTARTING,
    CONTAINER_UNHEALTHY,
    CONTAINER_OOM,
    POSTGRES_UNREACHABLE,
    POSTGRES_CONNECTIONS_HIGH,
    POSTGRES_IDLE_IN_TRANSACTION,
    DISK_FULL,
    DISK_INODES,
    CERT_EXPIRED,
    CERT_EXPIRING,
    CERT_INVALID,
    BACKUP_STALE,
    BACKUP_SHRUNK,
    SYSTEM_CPU_HIGH,
    SYSTEM_MEMORY_HIGH,
)
