"""Hand-built host states and small fakes of runbook steps for the pure incident tests."""

from __future__ import annotations

from dataclasses import dataclass

from core.state import (
    BackupState,
    CertInfo,
    Container,
    DiskState,
    EndpointCheck,
    HostState,
    Mount,
    PgBackend,
    PgState,
    ProbeResult,
    ProbeStatus,
    SystemState,
)

GiB = 1024**3


def ok(probe: str, data: object) -> ProbeResult:
    return ProbeResult(probe=probe, status=ProbeStatus.OK, data=data, at=0.0)


def failed(probe: str, status: ProbeStatus, reason: str = "") -> ProbeResult:
    return ProbeResult(probe=probe, status=status, reason=reason)


def container(name: str, state: str = "running", **kw: object) -> Container:
    kw.setdefault("project", "shop")
    kw.setdefault("service", name.split("-")[1] if name.count("-") >= 2 else name)
    return Container(id=f"id-{name}", name=name, image="lab/app", state=state, **kw)


def mount(mountpoint: str, used_pct: float, inode_pct: float | None = None) -> Mount:
    size = 100 * GiB
    used = int(size * used_pct / 100)
    inodes_total = 1_000_000 if inode_pct is not None else None
    inodes_used = int(1_000_000 * inode_pct / 100) if inode_pct is not None else None
    return Mount(device="/dev/vda1", mountpoint=mountpoint, fstype="ext4", size_bytes=size,
                 used_bytes=used, free_bytes=size - used, inodes_total=inodes_total,
                 inodes_used=inodes_used)


def system(cpu: float | None = 10.0, mem_pct: float = 30.0) -> SystemState:
    total = 8 * GiB
    return SystemState(load1=0.5, load5=0.5, load15=0.5, cpus=4, memory_total=total,
                       memory_available=int(total * (100 - mem_pct) / 100), swap_total=0,
                       swap_free=0, uptime_seconds=1000.0, cpu_percent=cpu)


def pg(total: int = 10, max_connections: int = 100, idle_in_tx: int = 0,
       oldest_idle: float = 0.0) -> PgState:
    by_state = {"active": 2, "idle": total - 2 - idle_in_tx}
    if idle_in_tx:
        by_state["idle in transaction"] = idle_in_tx
    longest = ()
    if oldest_idle:
        longest = (PgBackend(pid=42, database="app", user="app", application="api",
                             client="10.0.0.5", state="idle in transaction",
                             query="UPDATE orders SET x = 1", query_seconds=oldest_idle),)
    return PgState(max_connections=max_connections, total=total, by_state=by_state,
                   longest=longest)


def cert(source: str = "web1.lab:443 (shop.lab)", days_left: float = 60.0,
         error: str = "") -> CertInfo:
    return CertInfo(source=source, subject="CN=shop.lab", issuer="CN=Lab CA",
                    not_after=1_800_000_000.0, days_left=days_left, names=("shop.lab",),
                    error=error)


def endpoint(name: str, up: bool = True, latency: float = 50.0, code: int | None = 200,
             side: str = "console", reason: str = "") -> EndpointCheck:
    return EndpointCheck(name=name, url=f"https://shop.lab/{name}/health", side=side, up=up,
                         status_code=code if up else (code if code != 200 else 502),
                         latency_ms=latency, reason=reason)


def backup(age_hours: float = 2.0, size: int = 1000, previous: int | None = 1000,
           key: str = "db/2026-11-22.sql.gz") -> BackupState:
    return BackupState(bucket="backups", prefix="db/", newest_key=key, newest_size=size,
                       newest_age_seconds=age_hours * 3600, previous_size=previous,
                       object_count=5 if key else 0)


def host(name: str = "web1", reachable: bool = True, **probes: object) -> HostState:
    """A host with healthy defaults for every probe unless given (pass None to omit one)."""
    defaults: dict[str, object] = {
        "containers": (container("shop-api-1"), container("shop-web-1")),
        "disk": DiskState(mounts=(mount("/", 40.0, 10.0),)),
        "system": system(),
        "postgres": pg(),
        "certs": (cert(),),
        "endpoints": (endpoint("api"), endpoint("web")),
        "backups": backup(),
    }
    defaults.update(probes)
    fields = {}
    for probe, data in defaults.items():
        if data is None:
            fields[probe] = None
        elif isinstance(data, ProbeResult):
            fields[probe] = data
        else:
            fields[probe] = ok(probe, data)
    return HostState(name=name, reachable=reachable,
                     reason="" if reachable else "connection refused", **fields)


@dataclass(frozen=True)
class Choice:
    label: str
    next: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    kind: str = "check"
    choices: tuple[Choice, ...] = ()


RUNBOOK_STEPS = (
    Step("logs", "check"),
    Step("restart", "action"),
    Step("fixed", "decision", (Choice("yes", "verify"), Choice("no", "escalate"))),
    Step("escalate", "manual"),
    Step("verify", "check"),
)
