"""Log pane ingest, in a fresh process: lines/s into the LogView, key latency, memory.

Run by bench/run.py as ``python -m bench.ingest_child --mode MODE ...``:

- ``raw``: the Engine API's log stream of ``--container`` read straight from
  ``--socket`` in 64 KiB reads (no SSH, no parsing beyond the HTTP chunk
  framing and counting newlines): what Docker itself can deliver, the
  ceiling of any console.
- ``core``: ``HostProbes.container_log_batches`` over SSH, lines counted, no UI.
- ``app``: the real WarroomApp headless (160x48), the LogScreen of
  ``--container`` following it live: lines/s folded into the LogView, key
  presses (``space`` toggles follow) timed while lines pour in, RSS, and the
  LogView's line count against its cap.
- ``replay``: the same App and LogScreen, but the container's log stream is
  replaced by an in-memory Docker multiplexed stream replayed as fast as the
  event loop takes it (``core.probes.collect.follow_container`` is swapped in
  this process only).  Everything from the Demultiplexer on is warroom's
  real code: this is the console's own ceiling, without dockerd and SSH.

With ``--profile FILE`` the measured window of ``app``/``replay`` also runs
under cProfile and the stats are dumped to FILE.  Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

LINE = "2026-11-22T15:00:00Z {level} firehose request={n} handled in 3ms path=/api/orders"


def rss() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# -- raw and core ------------------------------------------------------------------


async def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    from core.probes.httpstream import body_pieces, read_head, request_bytes

    reader, writer = await asyncio.open_unix_connection(args.socket)
    params = {"follow": "1", "stdout": "1", "stderr": "1", "tail": "0"}
    lines = 0
    nbytes = 0
    try:
        writer.write(request_bytes("GET", f"/containers/{args.container}/logs", params))
        head, first = await read_head(reader)
        start = time.monotonic()
        async for piece in body_pieces(reader, head, first):
            lines += piece.count(b"\n")
            nbytes += len(piece)
            if time.monotonic() - start >= args.seconds:
                break
        elapsed = time.monotonic() - start
    finally:
        writer.close()
    return {"lines": lines, "bytes": nbytes, "seconds": elapsed, "rate": lines / elapsed}


async def run_core(args: argparse.Namespace) -> dict[str, Any]:
    from core.config import load_config
    from core.hosts import Fleet
    from core.probes.collect import HostProbes

    config = load_config(args.config)
    fleet = Fleet(config)
    host = fleet[args.host]
    probes = HostProbes(host, config.host(args.host))
    lines = 0
    try:
        await fleet.start()
        await host.wait_up(15)
        stream = probes.container_log_batches(args.container, tail=0)
        start = time.monotonic()
        async for batch in stream:
            lines += len(batch)
            if time.monotonic() - start >= args.seconds:
                break
        elapsed = time.monotonic() - start
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await probes.close()
        await fleet.close()
    return {"lines": lines, "seconds": elapsed, "rate": lines / elapsed}


# -- the App -----------------------------------------------------------------------


def multiplexed_chunks(total_lines: int, chunk_size: int = 65536) -> list[bytes]:
    """Docker's multiplexed stdout frames (one per line), cut into chunks that split frames."""
    header = struct.Struct(">BxxxL")
    frames = bytearray()
    for n in range(total_lines):
        level = "ERROR" if n % 5 == 4 else "INFO"
        payload = (LINE.format(level=level, n=n) + "\n").encode()
        frames += header.pack(1, len(payload)) + payload
    return [bytes(frames[i : i + chunk_size]) for i in range(0, len(frames), chunk_size)]


def install_replay(chunks: list[bytes]) -> dict[str, int]:
    """Make HostProbes.container_log_batches read ``chunks`` (forever) instead of Docker."""
    import core.probes.collect as collect
    from core.probes.logs import Demultiplexer

    fed = {"chunks": 0}

    async def replay(*_args: Any, **_kwargs: Any) -> AsyncIterator[list[Any]]:
        parser = Demultiplexer()
        while True:
            for chunk in chunks:
                batch = parser.feed(chunk)
                fed["chunks"] += 1
                if batch:
                    yield batch
                await asyncio.sleep(0)  # a socket read would yield to the loop here

    collect.follow_container = replay
    return fed


async def run_app(args: argparse.Namespace) -> dict[str, Any]:

    from core.config import load_config
    from tui.app import WarroomApp

    replay = args.mode == "replay"
    fed: dict[str, int] = {}
    if replay:
        fed = install_replay(multiplexed_chunks(20_000))
    config = load_config(args.config)
    app = WarroomApp(config, start_monitor=not replay, freeze_start_up=True)  # as `warroom` runs
    out: dict[str, Any] = {"rss_start": rss()}
    try:
        await _drive_app(app, args, out, replay, fed)
    except Exception as exc:  # the App's own exception, raised when run_test exits
        out["teardown_error"] = f"{type(exc).__name__}: {exc}"
    return out


async def _drive_app(app: Any, args: argparse.Namespace, out: dict[str, Any], replay: bool,
                     fed: dict[str, int]) -> None:
    from textual import events

    from core.probes.collect import HostProbes
    from tui.screens.logs import LogScreen
    from widgets.log_view import LogView

    config = app.config
    async with app.run_test(size=(160, 48)) as pilot:
        if replay:
            await app.fleet.start()
            host = app.fleet[args.host]
            app.monitor.probes[args.host] = HostProbes(host, config.host(args.host))
        else:  # wait for the dashboard to know the container (as a person would)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                state = app.states.get(args.host)
                if state and state.containers and state.containers.data and any(
                    c.id == args.container for c in state.containers.data
                ):
                    break
                await asyncio.sleep(0.05)
        await pilot.pause()
        out["rss_before"] = rss()
        screen = LogScreen(args.host, args.container, "bench-firehose-1")
        await app.push_screen(screen)
        view = screen.query_one(LogView)
        out["max_lines"] = view.max_lines

        handled: list[float] = []
        painted: list[float] = []
        original = view.set_following

        def timed_set_following(following: bool) -> None:
            handled.append(time.monotonic())
            original(following)
            app.call_after_refresh(lambda: painted.append(time.monotonic()))

        view.set_following = timed_set_following  # type: ignore[method-assign]

        await asyncio.sleep(args.warmup)
        samples: list[dict[str, float]] = []
        presses: list[dict[str, float | None]] = []
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        start = time.monotonic()
        received0 = view.received
        fed0 = fed.get("chunks", 0)
        next_press = start + 0.25
        press_gap = args.seconds / max(1, args.presses)
        pending_max = 0
        cpu0 = time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            while time.monotonic() - start < args.seconds:
                now = time.monotonic()
                pending_max = max(pending_max, len(view._pending))
                samples.append({"t": now - start, "received": view.received - received0,
                                "rss": rss(), "kept": len(view._all)})
                if now >= next_press and len(presses) < args.presses:
                    next_press = now + press_gap
                    n_handled, n_painted = len(handled), len(painted)
                    t0 = time.monotonic()
                    app._driver.send_message(events.Key("space", " "))  # as the terminal would
                    deadline = t0 + 2.0
                    while len(painted) <= n_painted and time.monotonic() < deadline:
                        await asyncio.sleep(0.001)
                    presses.append({
                        "handled": handled[n_handled] - t0 if len(handled) > n_handled else None,
                        "painted": painted[n_painted] - t0 if len(painted) > n_painted else None,
                    })
                await asyncio.sleep(0.05)
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
        elapsed = time.monotonic() - start
        received = view.received - received0
        out["cpu_percent"] = 100 * (time.process_time() - cpu0) / elapsed
        out["load"] = os.getloadavg()[0]
        out.update({
            "seconds": elapsed,
            "received": received,
            "rate": received / elapsed,
            "kept": len(view._all),
            "pending_max": pending_max,
            "rss_after": rss(),
            "rss_max": max(s["rss"] for s in samples),
            "presses": presses,
            "following_end": view.following,
            "source_error": screen.source_error,
            "replayed_chunks": fed.get("chunks", 0) - fed0,
        })
        app.pop_screen()
        await pilot.pause()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("raw", "core", "app", "replay"), required=True)
    parser.add_argument("--config", default="")
    parser.add_argument("--socket", default="")
    parser.add_argument("--container", default="")
    parser.add_argument("--host", default="web1")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--profile", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    runner = {"raw": run_raw, "core": run_core, "app": run_app, "replay": run_app}[args.mode]

    async def run_and_write() -> None:
        Path(args.out).write_text(json.dumps(await runner(args)))  # before asyncio.run's shutdown

    asyncio.run(run_and_write())


if __name__ == "__main__":
    main()
