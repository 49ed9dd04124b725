"""One launch, in a fresh process: start → every probe field of every host filled.

Run by bench/run.py as ``python -m bench.launch_child --mode app|monitor
--config PATH --out FILE``.  The parent notes the monotonic time before it
spawns this process (CLOCK_MONOTONIC is system-wide), so it can add
interpreter start-up and imports to what is measured here.

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
import time
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


def _settled(names: list[str], filled: dict[str, float], all_ok: dict[str, float]) -> bool:
    if len(all_ok) == len(names):
        return True
    return len(filled) == len(names) and time.monotonic() > max(filled.values()) + GRACE


async def run_monitor(config_path: str, timeout: float) -> dict[str, Any]:
    from core.config import load_config
    from core.hosts import Fleet
    from core.monitor import Monitor
    from core.probes.collect import PROBE_FIELDS

    t_imported = time.monotonic()
    config = load_config(config_path)
    names = [h.name for h in config.hosts]
    filled: dict[str, float] = {}
    all_ok: dict[str, float] = {}
    latest: dict[str, Any] = {}

    def on_state(state: Any) -> None:
        now = time.monotonic()
        latest[state.name] = state
        if _filled(state, PROBE_FIELDS):
            filled.setdefault(state.name, now)
        if _all_ok(state, PROBE_FIELDS):
            all_ok.setdefault(state.name, now)

    t0 = time.monotonic()
    fleet = Fleet(config)
    monitor = Monitor(config, fleet, on_state)
    teardown = ""
    try:
        await monitor.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _settled(names, filled, all_ok):
            await asyncio.sleep(0.01)
    finally:
        try:
            await asyncio.wait_for(monitor.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            teardown = f"Monitor.close() did not return within {CLOSE_TIMEOUT:g} s"
    result = _result(t_imported, t0, names, filled, all_ok, latest, PROBE_FIELDS)
    result["teardown_error"] = teardown
    return result


async def run_app(config_path: str, timeout: float) -> dict[str, Any]:
    from core.config import load_config
    from core.probes.collect import PROBE_FIELDS
    from tui.app import WarroomApp

    t_imported = time.monotonic()
    config = load_config(config_path)
    names = [h.name for h in config.hosts]
    filled: dict[str, float] = {}
    all_ok: dict[str, float] = {}
    t0 = time.monotonic()
    app = WarroomApp(config, freeze_start_up=True)  # as `warroom` runs it
    painted: list[float] = []
    first_paint: list[float] = []
    latest: dict[str, Any] = {}
    teardown = ""
    task = asyncio.create_task(
        _drive_app(app, names, filled, all_ok, painted, first_paint, latest, timeout))
    done, _ = await asyncio.wait({task}, timeout=timeout + CLOSE_TIMEOUT + 5)
    if not done:
        teardown = f"the App did not shut down within {CLOSE_TIMEOUT + 5:g} s"
    elif task.exception() is not None:  # the App's own exception, raised when run_test exits
        exc = task.exception()
        teardown = f"{type(exc).__name__}: {exc}"
    result = _result(t_imported, t0, names, filled, all_ok, latest, PROBE_FIELDS)
    result["painted"] = painted[0] if painted else None
    result["first_paint"] = first_paint[0] if first_paint else None
    result["teardown_error"] = teardown
    return result


async def _drive_app(app: Any, names: list[str], filled: dict[str, float],
                     all_ok: dict[str, float], painted: list[float], first_paint: list[float],
                     latest: dict[str, Any], timeout: float) -> None:
    from core.probes.collect import PROBE_FIELDS

    async with app.run_test(size=(160, 48)) as pilot:
        app.call_after_refresh(lambda: first_paint.append(time.monotonic()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            for name in names:
                state = app.states.get(name)
                if _filled(state, PROBE_FIELDS):
                    filled.setdefault(name, now)
                if _all_ok(state, PROBE_FIELDS):
                    all_ok.setdefault(name, now)
            if _settled(names, filled, all_ok):
                break
            if len(filled) == len(names) and not painted:
                app.call_after_refresh(lambda: painted.append(time.monotonic()))
            await asyncio.sleep(0.005)
        if len(filled) == len(names) and not painted:
            app.call_after_refresh(lambda: painted.append(time.monotonic()))
        end = time.monotonic() + 2
        while not painted and time.monotonic() < end:
            await asyncio.sleep(0.005)
        latest.update(app.states)
        await pilot.pause()


def _result(t_imported: float, t0: float, names: list[str], filled: dict[str, float],
            all_ok: dict[str, float], latest: dict[str, Any],
            fields: tuple[str, ...]) -> dict[str, Any]:
    complete = len(filled) == len(names)
    return {
        "process": T_PROCESS,
        "imported": t_imported,
        "t0": t0,
        "hosts": len(names),
        "filled": max(filled.values()) if complete else None,
        "all_ok": max(all_ok.values()) if len(all_ok) == len(names) else None,
        "per_host_filled": {n: filled[n] - t0 for n in filled},
        "probes": {n: _field_report(latest[n], fields) for n in latest},
        "missing": [n for n in names if n not in filled],
    }


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
