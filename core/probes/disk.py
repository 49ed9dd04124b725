"""The disk probe: every real filesystem of a host, sizes and inodes, in one command.

One ``host.run`` per refresh runs ``df -PT -B1`` and ``df -Pi`` (and, for the
paths named in the host's ``disks`` config, the same two for those paths,
so their filesystems are always shown even when they are tmpfs).  Pseudo
filesystems (proc, sysfs, cgroup, overlay, squashfs …) are left out.

:func:`largest_dirs` answers "what is filling this disk?" on demand with
``du -x -d1``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from core.config import DiskConfig
from core.hosts.base import Host
from core.probes.base import (
    SEPARATOR,
    command_failure,
    failed,
    host_down,
    host_is_up,
    ok,
    split_sections,
)
from core.state import DiskState, Mount, ProbeResult

PSEUDO_FILESYSTEMS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
        "devpts", "devtmpfs", "efivarfs", "fusectl", "fuse.gvfsd-fuse", "fuse.lxcfs",
        "fuse.portal", "hugetlbfs", "mqueue", "nsfs", "overlay", "aufs", "proc", "pstore",
        "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs",
        "tracefs", "nfsd", "shm", "none",
    }
)
"""Filesystem types that are not disks (unless a ``disks`` entry names them)."""


@dataclass(frozen=True)
class DfRow:
    """One line of ``df -PT -B1``."""

    device: str
    fstype: str
    size: int
    used: int
    free: int
    mountpoint: str


@dataclass(frozen=True)
class DirUsage:
    """A directory and the bytes under it (``du -x``: one filesystem only)."""

    path: str
    bytes: int


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_df_sizes(text: str) -> list[DfRow]:
    """Rows of ``df -PT -B1`` (mount points may contain spaces; the header is skipped)."""
    rows = []
    for line in text.splitlines():
        parts = line.split(None, 6)
        if len(parts) < 7 or parts[0] == "Filesystem":
            continue
        size, used, free = _int(parts[2]), _int(parts[3]), _int(parts[4])
        if size is None or used is None or free is None:
            continue
        rows.append(DfRow(parts[0], parts[1], size, used, free, parts[6]))
    return rows


def parse_df_inodes(text: str) -> dict[str, tuple[int | None, int | None]]:
    """``df -Pi``: mount point → (inodes total, inodes used); ``-`` or 0 total → None."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or parts[0] == "Filesystem":
            continue
        total, used = _int(parts[1]), _int(parts[2])
        out[parts[5]] = (total or None, used if total else None)
    return out


def is_real(row: DfRow) -> bool:
    """Whether a df row is a disk worth showing."""
    if row.fstype in PSEUDO_FILESYSTEMS or row.fstype.startswith("fuse.snapfuse"):
        return False
    return not (row.size == 0 or row.mountpoint.startswith(("/var/lib/docker/", "/snap/")))


def build_disk_state(
    sizes: str, inodes: str, named_sizes: str = "", named_inodes: str = ""
) -> DiskState:
    """Join df outputs into mounts: every real one, plus those of configured paths."""
    inode_map = parse_df_inodes(inodes)
    inode_map.update(parse_df_inodes(named_inodes))
    mounts: dict[str, Mount] = {}
    named = parse_df_sizes(named_sizes)
    for row in [r for r in parse_df_sizes(sizes) if is_real(r)] + named:
        if row.mountpoint in mounts:
            continue
        total, used = inode_map.get(row.mountpoint, (None, None))
        mounts[row.mountpoint] = Mount(
            device=row.device,
            mountpoint=row.mountpoint,
            fstype=row.fstype,
            size_bytes=row.size,
            used_bytes=row.used,
            free_bytes=row.free,
            inodes_total=total,
            inodes_used=used,
        )
    return DiskState(tuple(sorted(mounts.values(), key=lambda m: m.mountpoint)))


def disk_command(paths: tuple[str, ...] = ()) -> str:
    """The one shell command behind a disk refresh."""
    sep = f"echo {SEPARATOR}"
    parts = ["df -PT -B1", sep, "df -Pi"]
    if paths:
        quoted = " ".join(shlex.quote(p) for p in paths)
        parts += [sep, f"df -PT -B1 -- {quoted}", sep, f"df -Pi -- {quoted}"]
    return "; ".join(parts)


class DiskProbe:
    """Size, use and inodes of every real mount of one host."""

    name = "disk"

    def __init__(self, host: Host, disks: tuple[DiskConfig, ...] = (), timeout: float = 15.0):
        self.host = host
        self.paths = tuple(d.path for d in disks)
        self.timeout = timeout

    async def collect(self) -> ProbeResult[DiskState]:
        """Run the batched df command and parse it; never raises."""
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        result = await self.host.run(disk_command(self.paths), timeout=self.timeout)
        sections = split_sections(result.stdout)
        if result.error or len(sections) < 2:
            error = command_failure(result, self.host)
            return failed(self.name, error.status, error.reason)
        # df exits 1 when one mount cannot be read (e.g. a stale NFS handle): keep the rest
        state = build_disk_state(*sections[:4])
        if not state.mounts:
            error = command_failure(result, self.host)
            return failed(self.name, error.status, error.reason or "df listed no filesystems")
        return ok(self.name, state)

    async def close(self) -> None:
        """Nothing to close."""


def parse_du(text: str, path: str, limit: int) -> tuple[DirUsage, ...]:
    """``du -B1 -d1`` lines as DirUsage, largest first, without ``path`` itself."""
    rows = []
    root = path.rstrip("/")
    for line in text.splitlines():
        size, _, name = line.partition("\t")
        number = _int(size.strip())
        if number is None or not name or name.rstrip("/") == root:
            continue
        rows.append(DirUsage(name, number))
    rows.sort(key=lambda d: d.bytes, reverse=True)
    return tuple(rows[:limit])


async def largest_dirs(
    host: Host, path: str, n: int = 10, timeout: float = 120.0
) -> ProbeResult[tuple[DirUsage, ...]]:
    """The ``n`` largest directories directly under ``path`` (same filesystem only)."""
    probe = "largest_dirs"
    if not host_is_up(host):
        return host_down(probe, host)
    quoted = shlex.quote(path)
    command = (
        f"if [ ! -d {quoted} ]; then echo 'no such directory: '{quoted} >&2; exit 2; fi; "
        f"du -x -d1 -B1 -- {quoted} 2>/dev/null | sort -n | tail -n {int(n) + 1}"
    )
    result = await host.run(command, timeout=timeout)
    if not result.ok:
        error = command_failure(result, host)
        return failed(probe, error.status, error.reason)
    return ok(probe, parse_du(result.stdout, path, n))
