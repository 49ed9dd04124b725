"""The per-probe panes of a host: disk, system, PostgreSQL, certificates, endpoints, backups."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from core.state import (
    BackupState,
    CertInfo,
    DiskState,
    DockerDiskUsage,
    EndpointCheck,
    PgState,
    ProbeResult,
    SystemState,
)
from core.units import human_bytes, human_duration, percent
from widgets.colors import theme_color
from widgets.probe_pane import ProbePane, Row
from widgets.safe import safe_text


def _level(pane: ProbePane, value: float | None, warn: float, bad: float) -> str:
    if value is None:
        return ""
    if value >= bad:
        return theme_color(pane, "state-down")
    if value >= warn:
        return theme_color(pane, "state-warn")
    return theme_color(pane, "state-up")


class DiskPane(ProbePane):
    """Every real mount, plus ``docker system df`` in the summary line."""

    COLUMNS = ("mount", "device", "type", "size", "used", "free", "use%", "inodes%")
    WHAT = "disk usage"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.docker_df: ProbeResult[DockerDiskUsage] | None = None

    def _drawn_from(self, result: ProbeResult[Any] | None) -> tuple[int, ...]:
        return (id(result), id(self.docker_df))

    def summary(self, data: DiskState) -> Text | None:
        df = self.docker_df
        if df is None:
            return None
        if not df.ok or df.data is None:
            return safe_text(f"docker system df: {df.reason or df.status.value}")
        d = df.data
        return Text(
            f"docker: images {human_bytes(d.images_bytes)} "
            f"({human_bytes(d.images_reclaimable)} reclaimable) · "
            f"containers {human_bytes(d.containers_bytes)} · "
            f"volumes {human_bytes(d.volumes_bytes)} "
            f"({human_bytes(d.volumes_reclaimable)} reclaimable) · "
            f"build cache {human_bytes(d.build_cache_bytes)}"
        )

    def rows(self, data: DiskState) -> Sequence[Row]:
        rows = []
        for m in data.mounts:
            inode = m.inode_percent
            rows.append((m.mountpoint, (
                safe_text(m.mountpoint),
                safe_text(m.device),
                safe_text(m.fstype),
                Text(human_bytes(m.size_bytes)),
                Text(human_bytes(m.used_bytes)),
                Text(human_bytes(m.free_bytes)),
                Text(percent(m.used_percent), style=_level(self, m.used_percent, 80, 90)),
                Text(percent(inode), style=_level(self, inode, 80, 90)),
            )))
        return rows


class SystemPane(ProbePane):
    """Load, CPU, memory, swap and uptime."""

    COLUMNS = ("metric", "value")
    WHAT = "system figures"

    def rows(self, s: SystemState) -> Sequence[Row]:
        swap_used = s.swap_total - s.swap_free
        swap_pct = 100.0 * swap_used / s.swap_total if s.swap_total else None
        return [
            ("load", (Text("load 1/5/15"), Text(f"{s.load1:.2f} {s.load5:.2f} {s.load15:.2f}",
                      style=_level(self, s.load1 / max(1, s.cpus) * 100, 80, 150)))),
            ("cpu", (Text("cpu"), Text(f"{percent(s.cpu_percent)} of {s.cpus} cpus",
                     style=_level(self, s.cpu_percent, 70, 90)))),
            ("mem", (Text("memory"), Text(
                f"{percent(s.memory_percent)} of {human_bytes(s.memory_total)} "
                f"({human_bytes(s.memory_available)} available)",
                style=_level(self, s.memory_percent, 80, 90)))),
            ("swap", (Text("swap"), Text(
                f"{human_bytes(swap_used)} of {human_bytes(s.swap_total)}"
                if s.swap_total else "none", style=_level(self, swap_pct, 50, 80)))),
            ("uptime", (Text("uptime"), Text(human_duration(s.uptime_seconds)))),
        ]


class PostgresPane(ProbePane):
    """Connections by state against max, and the longest and blocked queries."""

    COLUMNS = ("pid", "db", "user", "state", "secs", "blocked by", "query")
    WHAT = "PostgreSQL"

    def summary(self, pg: PgState) -> Text | None:
        states = " · ".join(f"{k} {v}" for k, v in sorted(pg.by_state.items()))
        text = Text(f"connections {pg.total}/{pg.max_connections} ")
        text.append(percent(pg.used_percent), style=_level(self, pg.used_percent, 60, 80))
        text.append(f"   {states}")
        if pg.blocked:
            text.append(f"  {len(pg.blocked)} blocked", style=theme_color(self, "state-down"))
        return text

    def rows(self, pg: PgState) -> Sequence[Row]:
        seen: dict[int, Row] = {}
        for b in (*pg.blocked, *pg.longest):
            if b.pid in seen:
                continue
            seen[b.pid] = (str(b.pid), (
                Text(str(b.pid)),
                safe_text(b.database),
                safe_text(b.user),
                safe_text(b.state),
                Text("-" if b.query_seconds is None else f"{b.query_seconds:.0f}"),
                Text(",".join(str(p) for p in b.blocked_by) or "-",
                     style=theme_color(self, "state-down") if b.blocked_by else ""),
                safe_text(" ".join(b.query.split())[:200]),
            ))
        return list(seen.values())

    @property
    def selected_pid(self) -> int | None:
        """The backend under the cursor."""
        key = self.selected_key
        return int(key) if key and key.isdigit() else None


class CertsPane(ProbePane):
    """Certificates from TLS handshakes and files on the host."""

    COLUMNS = ("source", "subject", "issuer", "expires", "days", "problem")
    WHAT = "certificates"

    def rows(self, certs: tuple[CertInfo, ...]) -> Sequence[Row]:
        rows = []
        for c in certs:
            colour = _level(self, -c.days_left, -30, -7)
            if c.error:
                colour = theme_color(self, "state-down")
            rows.append((c.source, (
                safe_text(c.source),
                safe_text(c.subject),
                safe_text(c.issuer),
                Text(time.strftime("%Y-%m-%d", time.gmtime(c.not_after))),
                Text(f"{c.days_left:.0f}", style=colour),
                safe_text(c.error or "-", style=colour if c.error else ""),
            )))
        return rows


class EndpointsPane(ProbePane):
    """HTTP health checks from the console's side and the host's side."""

    COLUMNS = ("endpoint", "from", "status", "latency", "url", "problem")
    WHAT = "health checks"

    def rows(self, checks: tuple[EndpointCheck, ...]) -> Sequence[Row]:
        rows = []
        for e in checks:
            colour = theme_color(self, "state-up" if e.up else "state-down")
            rows.append((f"{e.name}/{e.side}", (
                safe_text(e.name),
                Text(e.side),
                Text("up" if e.up else "DOWN", style=colour),
                Text("-" if e.latency_ms is None else f"{e.latency_ms:.0f} ms"),
                safe_text(e.url),
                safe_text(e.reason or (str(e.status_code) if e.status_code else "-")),
            )))
        return rows


class BackupsPane(ProbePane):
    """The newest backup: its age, its size, and the change from the previous one."""

    COLUMNS = ("bucket", "newest", "age", "size", "change", "objects")
    WHAT = "backups"

    def rows(self, b: BackupState) -> Sequence[Row]:
        change = b.size_change_percent
        return [(f"{b.bucket}/{b.prefix}", (
            safe_text(f"{b.bucket}/{b.prefix}"),
            safe_text(b.newest_key),
            Text(human_duration(b.newest_age_seconds)),
            Text(human_bytes(b.newest_size)),
            Text("-" if change is None else f"{change:+.0f}%",
                 style=_level(self, -(change or 0), 20, 50)),
            Text(str(b.object_count)),
        ))]
