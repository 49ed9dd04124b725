"""The real console's start-up collector policy: off while start-up builds, then frozen."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.tui.fixtures import local_config
from tui.app import WarroomApp


async def test_collector_is_off_during_start_up_and_on_after_the_freeze(tmp_path: Path) -> None:
    assert gc.isenabled()
    try:
        app = WarroomApp(local_config(tmp_path), start_monitor=False, freeze_start_up=True)
        assert not gc.isenabled(), "full collections would stall start-up"
        frozen_before = gc.get_freeze_count()
        app._freeze_start_up_objects()
        assert gc.isenabled(), "the collector must come back after start-up"
        assert gc.get_freeze_count() > frozen_before
    finally:  # tests share one process: leave the collector as it was
        gc.unfreeze()
        gc.enable()


async def test_apps_in_tests_leave_the_collector_alone(tmp_path: Path) -> None:
    WarroomApp(local_config(tmp_path), start_monitor=False)
    assert gc.isenabled()
