"""Typed, immutable snapshots of what the probes see on a host.

Every probe returns a :class:`ProbeResult` wrapping its snapshot; a probe
that cannot see anything says why in ``status`` and ``reason`` instead of
raising.  :class:`HostState` gathers one host's latest results; the
detector and the panes read only these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class ProbeStatus(enum.Enum):
    """Whether a probe could look, and if not, why not."""

    OK = "ok"
    NOT_CONFIGURED = "not configured"
    HOST_DOWN = "host down"
    UNREACHABLE = "unreachable"
    PERMISSION_DENIED = "permission denied"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class ProbeResult(Generic[T]):
    """A probe's answer: data when ``status`` is OK, else a one-line ``reason``."""

    probe: str
    status: ProbeStatus
    data: T | None = None
    reason: str = ""
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ProbeStatus.OK


# -- containers ---------------------------------------------------------------


@dataclass(frozen=True)
class PortMapping:
    """A published container port."""

    container_port: int
    protocol: str
    host_ip: str = ""
    host_port: int | None = None


@dataclass(frozen=True)
class Container:
    """One container as Docker reports it (plus live resource use)."""

    id: str
    name: str
    image: str
    state: str  # created, running, restarting, paused, exited, dead
    health: str = ""  # "", starting, healthy, unhealthy
    project: str = ""
    service: str = ""
    restart_count: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    ports: tuple[PortMapping, ...] = ()
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit: int | None = None
    status_text: str = ""
    restart_policy: str = ""  # no, always, unless-stopped, on-failure ("" when unknown)

    @property
    def finished_job(self) -> bool:
        """Exited 0 with a policy that does not keep it running: a one-shot job that is done."""
        return (
            self.state == "exited"
            and self.exit_code == 0
            and self.restart_policy in ("no", "on-failure")
        )


@dataclass(frozen=True)
class DockerDiskUsage:
    """``docker system df``: bytes per kind and how much is reclaimable."""

    images_bytes: int
    images_reclaimable: int
    containers_bytes: int
    containers_reclaimable: int
    volumes_bytes: int
    volumes_reclaimable: int
    build_cache_bytes: int
    build_cache_reclaimable: int


# -- disk and system ----------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    """One real filesystem (``df`` and ``df -i`` joined)."""

    device: str
    mountpoint: str
    fstype: str
    size_bytes: int
    used_bytes: int
    free_bytes: int
    inodes_total: int | None = None
    inodes_used: int | None = None

    @property
    def used_percent(self) -> float:
        denominator = self.used_bytes + self.free_bytes
        return 100.0 * self.used_bytes / denominator if denominator else 0.0

    @property
    def inode_percent(self) -> float | None:
        if not self.inodes_total or self.inodes_used is None:
            return None
        return 100.0 * self.inodes_used / self.inodes_total


@dataclass(frozen=True)
class DiskState:
    """Every real mount of a host."""

    mounts: tuple[Mount, ...]


@dataclass(frozen=True)
class SystemState:
    """Load, memory, swap, uptime, CPUs: gathered by one command per refresh."""

    load1: float
    load5: float
    load15: float
    cpus: int
    memory_total: int
    memory_available: int
    swap_total: int
    swap_free: int
    uptime_seconds: float
    cpu_percent: float | None = None

    @property
    def memory_percent(self) -> float:
        if not self.memory_total:
            return 0.0
        return 100.0 * (self.memory_total - self.memory_available) / self.memory_total


# -- postgres -----------------------------------------------------------------


@dataclass(frozen=True)
class PgBackend:
    """One server process from ``pg_stat_activity``."""

    pid: int
    database: str
    user: str
    application: str
    client: str
    state: str
    query: str
    query_seconds: float | None
    wait_event: str = ""
    blocked_by: tuple[int, ...] = ()


@dataclass(frozen=True)
class PgState:
    """Connections by state, use against ``max_connections``, long and blocked queries."""

    max_connections: int
    total: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_database: dict[str, int] = field(default_factory=dict)
    by_user: dict[str, int] = field(default_factory=dict)
    longest: tuple[PgBackend, ...] = ()
    blocked: tuple[PgBackend, ...] = ()
    database_sizes: dict[str, int] = field(default_factory=dict)
    version: str = ""

    @property
    def used_percent(self) -> float:
        return 100.0 * self.total / self.max_connections if self.max_connections else 0.0


# -- certificates, endpoints, backups -----------------------------------------


@dataclass(frozen=True)
class CertInfo:
    """A certificate seen in a TLS handshake or read from a file."""

    source: str  # "host:port (sni)" or a file path
    subject: str
    issuer: str
    not_after: float
    days_left: float
    names: tuple[str, ...] = ()
    error: str = ""  # verification problem: expired, hostname mismatch, untrusted …


@dataclass(frozen=True)
class EndpointCheck:
    """One HTTP health check."""

    name: str
    url: str
    side: str  # "console" or "host"
    up: bool
    status_code: int | None
    latency_ms: float | None
    reason: str = ""


@dataclass(frozen=True)
class BackupState:
    """The newest backup object under a prefix, and how it compares with the previous one."""

    bucket: str
    prefix: str
    newest_key: str
    newest_size: int
    newest_age_seconds: float
    previous_size: int | None = None
    object_count: int = 0

    @property
    def size_change_percent(self) -> float | None:
        if not self.previous_size:
            return None
        return 100.0 * (self.newest_size - self.previous_size) / self.previous_size


# -- one host -----------------------------------------------------------------


@dataclass(frozen=True)
class HostState:
    """The latest result of every probe for one host."""

    name: str
    reachable: bool
    reason: str = ""
    containers: ProbeResult[tuple[Container, ...]] | None = None
    docker_df: ProbeResult[DockerDiskUsage] | None = None
    disk: ProbeResult[DiskState] | None = None
    system: ProbeResult[SystemState] | None = None
    postgres: ProbeResult[PgState] | None = None
    certs: ProbeResult[tuple[CertInfo, ...]] | None = None
    endpoints: ProbeResult[tuple[EndpointCheck, ...]] | None = None
    backups: ProbeResult[BackupState] | None = None


PROBE_FIELDS = (
    "containers", "docker_df", "disk", "system", "postgres", "certs", "endpoints", "backups",
)
"""The HostState fields a refresh fills, in display order."""
