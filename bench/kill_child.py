"""Container killed → shown in the ContainersTable, in a fresh process (headless App).

Run by bench/run.py as ``python -m bench.kill_child --config PATH --socket SOCK
--container ID --host web1 --kills N --out FILE``.  The container belongs to
the parent (it makes and removes it); this process only kills and starts it
through the Engine API of ``--socket`` (directly, not over SSH: the clock
starts when the kill request leaves) and watches the dashboard of the real
WarroomApp (``run_test``, 160x48), whose first host is ``--host``.

Per kill: ``shown`` = the table cell of the container's ``state`` column reads
``exited…``; ``painted`` = the next screen refresh after that
(``call_after_refresh``).  Writes a JSON object to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx

POLL = 0.002


def _cell(app: Any, key: str) -> str:
    from widgets.containers_table import ContainersTable

    table = app.screen.query_one(ContainersTable)
    try:
        return str(table.get_cell(key, "state"))
    except Exception:  # row not there (yet)
        return ""


async def _wait_cell(app: Any, key: str, prefix: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _cell(app, key).startswith(prefix):
            return time.monotonic()
        await asyncio.sleep(POLL)
    return None


async def _after_refresh(app: Any, timeout: float = 2.0) -> float | None:
    marks: list[float] = []
    app.call_after_refresh(lambda: marks.append(time.monotonic()))
    deadline = time.monotonic() + timeout
    while not marks and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
    return marks[0] if marks else None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.config import load_config
    from tui.app import WarroomApp

    config = load_config(args.config)
    key = f"{args.host}/{args.container}"
    docker = httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=args.socket, verify=False),
        base_url="http://docker", timeout=30, verify=False,
    )
    kills: list[dict[str, float | None]] = []
    starts: list[float] = []
    rng = random.Random(args.seed)
    app = WarroomApp(config, freeze_start_up=True)  # as `warroom` runs it
    teardown = ""
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            if await _wait_cell(app, key, "running", args.timeout) is None:
                return {"error": f"{key} never showed as running", "kills": []}
            for _ in range(args.kills):
                t_start = time.monotonic()
                response = await docker.post(f"/containers/{args.container}/start")
                if response.status_code not in (204, 304):
                    return {"error": f"start: {response.status_code} {response.text}",
                            "kills": kills}
                shown = await _wait_cell(app, key, "running", args.timeout)
                if shown is None:
                    return {"error": "container never showed running again", "kills": kills}
                if response.status_code == 204:
                    starts.append(shown - t_start)
                # spread the kills over the refresh cycle (events must not depend on it)
                await asyncio.sleep(args.gap + rng.uniform(0, config.settings.refresh_seconds))
                t0 = time.monotonic()
                response = await docker.post(f"/containers/{args.container}/kill")
                t_api = time.monotonic()
                if response.status_code != 204:
                    return {"error": f"kill: {response.status_code} {response.text}",
                            "kills": kills}
                shown = await _wait_cell(app, key, "exited", args.timeout)
                painted = await _after_refresh(app) if shown is not None else None
                kills.append({
                    "api": t_api - t0,
                    "shown": None if shown is None else shown - t0,
                    "painted": None if painted is None else painted - t0,
                })
            await pilot.pause()
    except Exception as exc:  # the App's own exception, raised when run_test exits
        teardown = f"{type(exc).__name__}: {exc}"
    finally:
        await docker.aclose()
    return {"kills": kills, "starts": starts, "teardown_error": teardown}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--container", required=True)
    parser.add_argument("--host", default="web1")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    async def run_and_write() -> None:
        Path(args.out).write_text(json.dumps(await run(args)))  # before asyncio.run's shutdown

    asyncio.run(run_and_write())


if __name__ == "__main__":
    main()
