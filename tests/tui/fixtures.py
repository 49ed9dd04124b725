"""Fixed host snapshots for rendering tests (snapshots must not depend on live numbers)."""

from __future__ import annotations

from pathlib import Path

from core.config import Config, parse_config
from core.state import (
    BackupState,
    CertInfo,
    Container,
    DiskState,
    DockerDiskUsage,
    EndpointCheck,
    HostState,
    Mount,
    PgBackend,
    PgState,
    PortMapping,
    ProbeResult,
    ProbeStatus,
    SystemState,
)

NOW = 1_790_000_000.0


def local_config(tmp_path: Path, *, read_only: bool = False) -> Config:
    """Two hosts on the local transport: they come up without any network."""
    return parse_config(
        f"""
[settings]
data_dir = "{tmp_path}"
read_only = {"true" if read_only else "false"}
[[hosts]]
name = "alpha"
transport = "local"
tags = ["prod"]
[[hosts]]
name = "beta"
transport = "local"
tags = ["staging"]
""",
        "test.toml",
    )


def _ok(probe: str, data: object) -> ProbeResult:  # type: ignore[type-arg]
    return ProbeResult(probe, ProbeStatus.OK, data, "", NOW)


def container(name: str, service: str, **kw: object) -> Container:
    values: dict[str, object] = {
        "id": f"id-{name}", "name": name, "image": "lab/busybox:1", "state": "running",
        "health": "healthy", "project": "shop", "service": service, "started_at": NOW - 3600,
        "cpu_percent": 1.5, "memory_bytes": 12 * 1024 * 1024,
    }
    values.update(kw)
    return Container(**values)  # type: ignore[arg-type]


def alpha_state() -> HostState:
    containers = (
        container("shop-api-1", "api", ports=(PortMapping(80, "tcp", "127.0.0.1", 18081),)),
        container("shop-worker-1", "worker", health=""),
        container("shop-flaky-1", "flaky", state="exited", health="", exit_code=137,
                  oom_killed=True, cpu_percent=None, memory_bytes=None),
        container("[bold]evil[/bold]\x1b[2J", "hostile", health=""),
    )
    return HostState(
        name="alpha",
        reachable=True,
        containers=_ok("containers", containers),
        docker_df=_ok("docker_df", DockerDiskUsage(2 << 30, 1 << 30, 10 << 20, 0, 5 << 30,
                                                   1 << 30, 0, 0)),
        disk=_ok("disk", DiskState((
            Mount("/dev/vda", "/", "ext4", 100 << 30, 95 << 30, 5 << 30, 1000, 500),
            Mount("/dev/loop0", "/mnt/data", "ext4", 64 << 20, 10 << 20, 54 << 20, 100, 95),
        ))),
        system=_ok("system", SystemState(0.5, 0.4, 0.3, 2, 8 << 30, 6 << 30, 0, 0, 90000, 12.5)),
        postgres=_ok("postgres", PgState(
            max_connections=100, total=42, by_state={"active": 2, "idle": 38,
                                                     "idle in transaction": 2},
            longest=(PgBackend(4242, "shop", "app", "psql", "10.0.0.5", "active",
                               "SELECT pg_sleep(600)", 321.0),),
            blocked=(PgBackend(4343, "shop", "app", "psql", "10.0.0.6", "active",
                               "UPDATE orders SET x = 1", 12.0, "Lock", (4242,)),),
        )),
        certs=_ok("certs", (
            CertInfo("127.0.0.1:443 (ok.example)", "CN=ok.example", "CN=Lab CA",
                     NOW + 60 * 86400, 60.0, ("ok.example",)),
            CertInfo("127.0.0.1:8443 (old.example)", "CN=old.example", "CN=Lab CA",
                     NOW - 86400, -1.0, ("old.example",), "expired"),
        )),
        endpoints=_ok("endpoints", (
            EndpointCheck("api", "http://127.0.0.1:18081/health", "console", True, 200, 3.2),
            EndpointCheck("admin", "http://127.0.0.1:18089/", "host", False, 503, 4.0,
                          "status 503, expected 200"),
        )),
        backups=_ok("backups", BackupState("backups", "db/", "db/shop-1.sql.gz", 4 << 20,
                                           7200.0, 8 << 20, 12)),
    )


def beta_state() -> HostState:
    down = ProbeResult("postgres", ProbeStatus.NOT_CONFIGURED, None, "no postgres configured", NOW)
    return HostState(
        name="beta",
        reachable=True,
        containers=_ok("containers", (container("blog-web-1", "web", project="blog"),)),
        postgres=down,
        disk=ProbeResult("disk", ProbeStatus.PERMISSION_DENIED, None,
                         "df: permission denied", NOW),
    )
