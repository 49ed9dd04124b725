"""Containers of one host, or of every host, as a keyed DataTable updated in place."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text

from core.state import Container
from core.units import human_age, human_bytes, percent
from widgets.cached_table import CachedTable
from widgets.colors import state_color
from widgets.safe import safe_text

MEMORY_STEADY = 0.02
"""Relative memory change below which a row keeps the figure it shows."""
MEMORY_STEADY_BYTES = 1 << 20
"""Memory change below which a row keeps its figure whatever the size (small containers)."""
CPU_STEADY = 1.0
"""CPU change (percentage points) below which a row keeps the figure it shows."""


@dataclass(frozen=True)
class ContainerRef:
    """Which container a row is: the host it runs on and its id."""

    host: str
    id: str
    name: str


COLUMNS = ("host", "service", "name", "state", "health", "restarts", "up", "cpu", "mem", "ports")


def _ports(container: Container) -> str:
    shown = []
    for p in container.ports:
        if p.host_port:
            shown.append(f"{p.host_ip or '*'}:{p.host_port}->{p.container_port}")
    return ",".join(shown)


class ContainersTable(CachedTable):
    """One row per container; rows are added, updated and removed by key, never cleared."""

    DEFAULT_CSS = """
    ContainersTable { height: 1fr; }
    """

    def __init__(self, *, show_host: bool = True, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.show_host = show_host
        self._refs: dict[str, ContainerRef] = {}
        self._rows: dict[str, tuple[Text, ...]] = {}
        self._shown: dict[str, tuple[float | None, int | None]] = {}  # CPU, memory a row shows
        self._sources: dict[str, tuple[Iterable[Container], float | None]] = {}  # per host
        shown_columns = COLUMNS if show_host else COLUMNS[1:]
        self._mem_column = shown_columns.index("mem")
        self._cpu_column = shown_columns.index("cpu")

    def on_mount(self) -> None:
        for column in COLUMNS:
            if column == "host" and not self.show_host:
                continue
            self.add_column(column, key=column)

    def _cells(self, host: str, c: Container, now: float) -> tuple[Text, ...]:
        state = c.state
        if c.state == "exited" and c.exit_code is not None:
            state = f"exited({c.exit_code})"
        if c.oom_killed:
            state += " OOM"
        uptime = now - c.started_at if c.state == "running" and c.started_at else None
        service = f"{c.project}/{c.service}" if c.project else "-"
        cells = [
            safe_text(host),
            safe_text(service),
            safe_text(c.name),
            Text(state, style=state_color(self, c.state)),
            Text(c.health or "-", style=state_color(self, c.health) if c.health else ""),
            Text(str(c.restart_count)),
            Text(human_age(uptime)),
            Text(percent(c.cpu_percent)),
            Text(human_bytes(c.memory_bytes)),
            safe_text(_ports(c)),
        ]
        if not self.show_host:
            cells.pop(0)
        return tuple(cells)

    def update_host(
        self, host: str, containers: Iterable[Container], at: float | None = None
    ) -> None:
        """Make the rows of ``host`` match ``containers`` as seen at time ``at``.

        Other hosts' rows stay.  Uptimes are counted to ``at`` (default: now).
        The same snapshot again (same ``containers`` object and ``at``) changes nothing.
        """
        shown = self._sources.get(host)
        if at is not None and shown is not None and shown[0] is containers and shown[1] == at:
            return
        self._sources[host] = (containers, at)
        now = at or time.time()
        seen = set()
        added = False
        for c in sorted(containers, key=lambda c: (c.project, c.service, c.name)):
            key = f"{host}/{c.id}"
            seen.add(key)
            cells = self._cells(host, c, now)
            cells = self._steady(key, c, cells)
            self._refs[key] = ContainerRef(host, c.id, c.name)
            if key not in self._rows:
                self.add_row(*cells, key=key)
                added = True
            else:
                self.update_changed_cells(key, self._rows[key], cells)
            self._rows[key] = cells
        for key in [k for k in self._rows if k.startswith(f"{host}/") and k not in seen]:
            self.remove_row(key)
            del self._rows[key]
            self._refs.pop(key, None)
            self._shown.pop(key, None)
        if added:
            order = ("host", "service", "name") if self.show_host else ("service", "name")
            self.sort(*order, key=lambda cells: tuple(str(c) for c in cells))

    def _steady(self, key: str, c: Container, cells: tuple[Text, ...]) -> tuple[Text, ...]:
        """Keep the shown CPU and memory while they move by less than a noticeable step.

        Both jitter between samples (a page of memory, a tenth of a percent of
        CPU); every changed cell redraws the whole table, which costs more
        than the jitter tells anyone.  See :data:`CPU_STEADY`, :data:`MEMORY_STEADY` and
        :data:`MEMORY_STEADY_BYTES`.
        """
        old = self._rows.get(key)
        shown_cpu, shown_memory = self._shown.get(key, (None, None))
        cpu, memory = c.cpu_percent, c.memory_bytes
        if old is not None and cpu is not None and shown_cpu is not None \
                and abs(cpu - shown_cpu) < CPU_STEADY:
            cells = _with_cell(cells, self._cpu_column, old[self._cpu_column])
            cpu = shown_cpu
        if old is not None and memory is not None and shown_memory \
                and abs(memory - shown_memory) < max(MEMORY_STEADY * shown_memory,
                                                     MEMORY_STEADY_BYTES):
            cells = _with_cell(cells, self._mem_column, old[self._mem_column])
            memory = shown_memory
        self._shown[key] = (cpu, memory)
        return cells

    def drop_host(self, host: str) -> None:
        """Remove every row of ``host``."""
        self.update_host(host, [])

    @property
    def selected(self) -> ContainerRef | None:
        """The container under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._refs.get(key) if key else None

    def refs(self) -> list[ContainerRef]:
        """Every container shown."""
        return list(self._refs.values())


def _with_cell(cells: tuple[Text, ...], column: int, cell: Text) -> tuple[Text, ...]:
    return (*cells[:column], cell, *cells[column + 1:])
