"""One launch, in a fresh process: start → every probe field of every host filled.

Run by bench/run.py as ``python -m bench.launch_child --mode app|monitor
--config PATH --out FILE``, and by bench/compare.py by its path with another
tree's packages first on PYTHONPATH.  The parent notes the monotonic time
before it spawns this process (CLOCK_MONOTONIC is system-wide), so it can add
interpreter start-up and imports to what is measured here
(``common.launch_measures``).

- ``monitor``: core only: Fleet + Monitor, until each host has published a
  HostState whose every probe field is non-None.
- ``app``: the real WarroomApp headless (``run_test``, 160x48) with its own
  monitor, until ``app.states`` (what the dashboard renders) is filled for
  every host, then until the next screen refresh (``call_after_refresh``).

Writes a JSON object to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

T_PROCESS = time.monotonic()


def _field_report(state: Any, fields: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in fields:
        result = getattr(state, name)
        out[name] = "-" if result is None else result.status.value
    return out


def _filled(state: Any, fields: tuple[str, ...]) -> bool:
    return state is not None and all(getattr(state, f) is not None for f in fields)


def _all_ok(state: Any, fields: tuple[str, ...]) -> bool:
    from core.state import ProbeStatus

    return _filled(state, fields) and all(
        getattr(state, f).status in (ProbeStatus.OK, ProbeStatus.NOT_CONFIGURED) for f in fields
    )


CLOSE_TIMEOUT = 15.0
"""How long Monitor.close() may take before the run notes that it hung."""

GRACE = 3.0
"""After every host is filled, how long to wait for probes still not OK."""


def children_cpu() -> float:
    """CPU seconds (utime + stime) of this process's live children: the console's
    helper processes.  Read here from /proc: importing bench.common would load
    httpx into the very process being measured."""
    total = 0
    me = os.getpid()
    for task in os.listdir(f"/proc/{me}/task"):
        try:
            children = Path(f"/proc/{me}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                stat = Path(f"/proc/{child}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Progress:
    """What a launch has shown so far, host by host."""

    names: list[str]
    fields: tuple[str, ...]
    t0: float = field(default_factory=time.monotonic)
    cpu0: float = field(default_factory=time.process_time)
    filled: dict[str, float] = field(default_factory=dict)
    all_ok: dict[str, float] = field(default_factory=dict)
    latest: dict[str, Any] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    cpu_filled: float | None = None
    helpers_cpu: float | None = None

    def see(self, state: Any) -> None:
        """Note a host's newest state (the App's, or the Monitor's callback)."""
        if state is None:
            return
        now = time.monotonic()
        self.latest[state.name] = state
        if _filled(state, self.fields):
            self.filled.setdefault(state.name, now)
        if _all_ok(state, self.fields):
            self.all_ok.setdefault(state.name, now)
        if self.complete and self.cpu_filled is None:
            self.cpu_filled = time.process_time() - self.cpu0
            self.helpers_cpu = children_cpu()
            self.answered = self._answered()

    @property
    def complete(self) -> bool:
        return len(self.filled) == len(self.names)

    def settled(self) -> bool:
        if len(self.all_ok) == len(self.names):
            return True
        return self.complete and time.monotonic() > max(self.filled.values()) + GRACE

    def _answered(self) -> dict[str, float]:
        """Per probe, when its last host's first answer came (s from ``t0``).

        From the results' own wall-clock stamps (``ProbeResult.at``), taken
        the moment every host is filled (later refreshes restamp them): which
        probe the launch waited for last.
        """
        offset = time.time() - time.monotonic()
        out: dict[str, float] = {}
        for name in self.fields:
            stamps = [r.at for s in self.latest.values()
                      if (r := getattr(s, name)) is not None and r.at]
            if stamps:
                out[name] = max(stamps) - offset - self.t0
        return out

    def result(self, t_imported: float) -> dict[str, Any]:
        return {
            "process": T_PROCESS,
            "imported": t_imported,
            "t0": self.t0,
            "hosts": len(self.names),
            "filled": max(self.filled.values()) if self.complete else None,
            "all_ok": (max(self.all_ok.values())
                       if len(self.all_ok) == len(self.names) else None),
            "per_host_filled": {n: t - self.t0 for n, t in self.filled.items()},
            "probes": {n: _field_report(s, self.fields) for n, s in self.latest.items()},
            "missing": [n for n in self.names if n not in self.filled],
            "cpu_filled": self.cpu_filled,
            "helpers_cpu": self.helpers_cpu,
            "answered": self.answered,
        }


def _start_helpers(config: Any) -> None:
    """Start the console's helper processes (a tree from before them has none:
    bench.compare runs this child on older revisions too)."""
    try:
        from core.probes import workers
    except ImportError:
        return
    getattr(workers, "prefetch", workers.start_for)(config)  # (older trees: no prefetch)


async def run_monitor(config_path: str, timeout: float) -> dict[str, Any]:
    from core.config import load_config

    config = load_config(config_path)
    _start_helpers(config)  # as `warroom check` does, before its heavy imports
    from core.hosts import Fleet
    from core.monitor import Monitor
    from core.probes.collect import PROBE_FIELDS  # (where every tree, older ones too, has it)
    from core.timeouts import wait_for

    t_imported = time.monotonic()
    progress = Progress([h.name for h in config.hosts], PROBE_FIELDS)
    fleet = Fleet(config)
    monitor = Monitor(config, fleet, progress.see)
    teardown = ""
    try:
        await monitor.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not progress.settled():
            await asyncio.sleep(0.01)
    finally:
        try:
            await wait_for(monitor.close(), CLOSE_TIMEOUT)  # (3.11's own can hang)
        except TimeoutError:
            teardown = f"Monitor.close() did not return within {CLOSE_TIMEOUT:g} s"
    result = progress.result(t_imported)
    result["teardown_error"] = teardown
    return result


async def run_app(config_path: str, timeout: float) -> dict[str, Any]:
    from core.config import load_config

    config = load_config(config_path)
    try:
        from tui.cli import prepare_console
    except ImportError:  # (an older tree, run by bench.compare)
        _start_helpers(config)
    else:
        prepare_console(config)  # as `warroom` does, before its heavy imports
    from core.probes.collect import PROBE_FIELDS
    from tui.app import WarroomApp

    t_imported = time.monotonic()
    progress = Progress([h.name for h in config.hosts], PROBE_FIELDS)
    app = WarroomApp(config, freeze_start_up=True)  # as `warroom` runs it
    painted: list[float] = []
    first_paint: list[float] = []
    teardown = ""
    task = asyncio.create_task(_drive_app(app, progress, painted, first_paint, timeout))
    done, _ = await asyncio.wait({task}, timeout=timeout + CLOSE_TIMEOUT + 5)
    if not done:
        teardown = f"the App did not shut down within {CLOSE_TIMEOUT + 5:g} s"
    elif task.exception() is not None:  # the App's own exception, raised when run_test exits
        exc = task.exception()
        teardown = f"{type(exc).__name__}: {exc}"
    result = progress.result(t_imported)
    result["painted"] = painted[0] if painted else None
    result["first_paint"] = first_paint[0] if first_paint else None
    result["teardown_error"] = teardown
    return result


async def _drive_app(app: Any, progress: Progress, painted: list[float],
                     first_paint: list[float], timeout: float) -> None:
    def paint_now() -> None:
        app.call_after_refresh(lambda: painted.append(time.monotonic()))

    async with app.run_test(size=(160, 48)) as pilot:
        app.call_after_refresh(lambda: first_paint.append(time.monotonic()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in progress.names:
                progress.see(app.states.get(name))
            if progress.settled():
                break
            if progress.complete and not painted:
                paint_now()
            await asyncio.sleep(0.005)
        if progress.complete and not painted:
            paint_now()
        end = time.monotonic() + 2
        while not painted and time.monotonic() < end:
            await asyncio.sleep(0.005)
        progress.latest.update(app.states)
        await pilot.pause()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("app", "monitor"), required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    runner = run_app if args.mode == "app" else run_monitor

    async def run_and_write() -> None:
        result = await runner(args.config, args.timeout)
        result["exit"] = time.monotonic()
        Path(args.out).write_text(json.dumps(result))  # before asyncio.run's own shutdown

    asyncio.run(run_and_write())


if __name__ == "__main__":
    main()
