"""The system probe: load, CPUs, memory, swap, uptime and CPU % in one command per refresh.

CPU % is the busy share of all CPUs between two ``/proc/stat`` samples, taken
at consecutive collects (so the first collect has none).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.hosts.base import Host
from core.probes.base import (
    SEPARATOR,
    ProbeError,
    command_failure,
    failed,
    host_down,
    host_is_up,
    ok,
    split_sections,
)
from core.state import ProbeResult, ProbeStatus, SystemState

SYSTEM_COMMAND = "; ".join(
    [
        "cat /proc/loadavg",
        f"echo {SEPARATOR}",
        "cat /proc/uptime",
        f"echo {SEPARATOR}",
        "cat /proc/meminfo",
        f"echo {SEPARATOR}",
        "nproc 2>/dev/null || getconf _NPROCESSORS_ONLN",
        f"echo {SEPARATOR}",
        "head -n 1 /proc/stat",
    ]
)
"""The one command behind a system refresh."""


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of ``/proc/stat``, in clock ticks."""

    busy: int
    total: int


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """``/proc/loadavg`` → the 1, 5 and 15 minute load averages."""
    parts = text.split()
    if len(parts) < 3:
        raise ValueError(f"unexpected /proc/loadavg: {text[:80]!r}")
    return float(parts[0]), float(parts[1]), float(parts[2])


def parse_uptime(text: str) -> float:
    """``/proc/uptime`` → seconds since boot."""
    parts = text.split()
    if not parts:
        raise ValueError("empty /proc/uptime")
    return float(parts[0])


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` → field → bytes (``kB`` values are multiplied out)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if not key or not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            continue
        if len(parts) > 1 and parts[1].lower() == "kb":
            value *= 1024
        out[key.strip()] = value
    return out


def parse_cpu_times(text: str) -> CpuTimes | None:
    """The ``cpu`` line of ``/proc/stat`` → busy and total ticks (guest time is in user)."""
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != "cpu":
            continue
        values = [int(v) for v in parts[1:9] if v.isdigit()]
        if len(values) < 4:
            return None
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        total = sum(values)
        return CpuTimes(total - idle, total)
    return None


def cpu_busy_percent(current: CpuTimes, previous: CpuTimes | None) -> float | None:
    """Busy % of all CPUs between two samples (100 % = every CPU busy)."""
    if previous is None:
        return None
    total = current.total - previous.total
    busy = current.busy - previous.busy
    if total <= 0 or busy < 0:
        return None
    return min(100.0, 100.0 * busy / total)


def parse_system(
    text: str, previous: CpuTimes | None = None
) -> tuple[SystemState, CpuTimes | None]:
    """The batched command's output → a SystemState and this sample's CPU times."""
    sections = split_sections(text)
    if len(sections) < 5:
        raise ValueError(f"expected 5 sections of output, got {len(sections)}")
    loadavg, uptime, meminfo, nproc, stat = sections[:5]
    load1, load5, load15 = parse_loadavg(loadavg)
    memory = parse_meminfo(meminfo)
    if "MemTotal" not in memory:
        raise ValueError("no MemTotal in /proc/meminfo")
    available = memory.get("MemAvailable")
    if available is None:
        available = memory.get("MemFree", 0) + memory.get("Buffers", 0) + memory.get("Cached", 0)
    cpus = int(nproc.split()[0]) if nproc.split() and nproc.split()[0].isdigit() else 0
    times = parse_cpu_times(stat)
    state = SystemState(
        load1=load1,
        load5=load5,
        load15=load15,
        cpus=cpus,
        memory_total=memory["MemTotal"],
        memory_available=available,
        swap_total=memory.get("SwapTotal", 0),
        swap_free=memory.get("SwapFree", 0),
        uptime_seconds=parse_uptime(uptime),
        cpu_percent=cpu_busy_percent(times, previous) if times is not None else None,
    )
    return state, times


class SystemProbe:
    """Load, memory, swap, uptime, CPU count and CPU % of one host."""

    name = "system"

    def __init__(self, host: Host, timeout: float = 10.0) -> None:
        self.host = host
        self.timeout = timeout
        self._previous: CpuTimes | None = None

    async def collect(self) -> ProbeResult[SystemState]:
        """Run the batched command once and parse it; never raises."""
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        result = await self.host.run(SYSTEM_COMMAND, timeout=self.timeout)
        if not result.ok:
            error: ProbeError = command_failure(result, self.host)
            return failed(self.name, error.status, error.reason)
        try:
            state, times = parse_system(result.stdout, self._previous)
        except (ValueError, IndexError) as exc:
            return failed(self.name, ProbeStatus.ERROR, f"cannot read /proc: {exc}")
        if times is not None:
            self._previous = times
        return ok(self.name, state)

    async def close(self) -> None:
        """Nothing to close."""
