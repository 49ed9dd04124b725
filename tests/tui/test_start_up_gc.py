"""The real console's start-up collector policy: off while start-up builds, then frozen."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.tui.fixtures import local_config
from tui.app import WarroomApp
from tui.cli import prepare_console


async def test_collector_is_off_during_start_up_and_on_after_the_freeze(tmp_path: Path) -> None:
    assert gc.isenabled()
    try:
        app = WarroomApp(local_config(tmp_path), start_monitor=False, freeze_start_up=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert not gc.isenabled(), "full collections would stall start-up"
            frozen_before = gc.get_freeze_count()
            app._freeze_start_up_objects()  # what the 10 s timer does
            assert gc.isenabled(), "the collector must come back after start-up"
            assert gc.get_freeze_count() > frozen_before
    finally:  # tests share one process: leave the collector as it was
        gc.unfreeze()
        gc.enable()


async def test_quitting_during_start_up_turns_the_collector_back_on(tmp_path: Path) -> None:
    try:
        app = WarroomApp(local_config(tmp_path), start_monitor=False, freeze_start_up=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert not gc.isenabled()
        assert gc.isenabled(), "quit before the freeze left the collector off"
    finally:
        gc.enable()


async def test_apps_in_tests_leave_the_collector_alone(tmp_path: Path) -> None:
    app = WarroomApp(local_config(tmp_path), start_monitor=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert gc.isenabled()


async def test_warroom_keeps_the_collector_off_from_before_its_imports(tmp_path: Path) -> None:
    config = local_config(tmp_path)
    try:
        prepare_console(config)  # what `warroom` runs before it imports Textual
        assert not gc.isenabled(), "the imports' objects would be walked by full collections"
        app = WarroomApp(config, start_monitor=False, freeze_start_up=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert not gc.isenabled()
            app._freeze_start_up_objects()
            assert gc.isenabled(), "the collector must come back after start-up"
    finally:
        gc.unfreeze()
        gc.enable()
