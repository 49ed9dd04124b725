"""Probe libraries imported off the event loop (core/probes/libraries.py).

The start-up test runs a real interpreter; the others swap the list of
libraries for throwaway modules (pure logic: which waiter sees what).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.probes import libraries

HEAVY = ("psycopg", "boto3", "botocore", "httpx", "httpcore")


def test_the_console_starts_without_the_probe_libraries() -> None:
    code = (
        "import sys, tui.app, tui.cli, core.check\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == ""  # a top-level import of one would hold back the screen


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Libraries "slow" (its import ends once the returned function is called),
    "fine" and "missing"."""
    gate = tmp_path / "release"
    (tmp_path / "wr_fine_lib.py").write_text("VALUE = 1\n")
    (tmp_path / "wr_slow_lib.py").write_text(
        "import os, time\n"
        "deadline = time.monotonic() + 10\n"
        f"while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.005)\n"
        "DONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(libraries, "LIBRARIES", {
        "slow": ("wr_slow_lib",), "missing": ("wr_no_such_lib",), "fine": ("wr_fine_lib",),
    })
    monkeypatch.setattr(libraries, "_futures", {})
    yield gate.touch
    gate.touch()
    for name in ("wr_fine_lib", "wr_slow_lib"):
        sys.modules.pop(name, None)


async def test_a_waiter_returns_once_its_library_is_imported(
        modules: Callable[[], None]) -> None:
    waiter = asyncio.create_task(libraries.loaded("slow"))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # the worker is still in the import
    modules()
    await asyncio.wait_for(waiter, 5)
    assert sys.modules["wr_slow_lib"].DONE
    await libraries.loaded("fine")  # imported after it, by the same worker


async def test_a_missing_library_fails_only_its_own_waiters(modules: Callable[[], None]) -> None:
    modules()
    with pytest.raises(ImportError, match=r"cannot load missing: .*wr_no_such_lib") as first:
        await asyncio.wait_for(libraries.loaded("missing"), 5)
    await asyncio.wait_for(libraries.loaded("fine"), 5)
    with pytest.raises(ImportError) as again:  # and again for the next one to ask
        await libraries.loaded("missing")
    # a new error each time: probes ask on every refresh, and re-raising one stored
    # exception would grow its traceback for as long as the console runs
    assert again.value is not first.value and again.value.__traceback__ is not None
    assert len(traceback.extract_tb(again.value.__traceback__)) <= 2


async def test_no_thread_to_start_fails_the_waiters(monkeypatch: pytest.MonkeyPatch,
                                                    modules: Callable[[], None]) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(ImportError, match=r"can't start new thread"):
        await asyncio.wait_for(libraries.loaded("fine"), 5)


async def test_a_cancelled_waiter_does_not_stop_the_import(modules: Callable[[], None]) -> None:
    first = asyncio.create_task(libraries.loaded("slow"))
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    modules()
    await asyncio.wait_for(libraries.loaded("slow"), 5)
    assert sys.modules["wr_slow_lib"].DONE
