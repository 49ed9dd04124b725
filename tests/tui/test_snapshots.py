"""Snapshots of the main views at 80x24 and 160x48 (fixed data, so they are repeatable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.fixtures import alpha_state, beta_state, local_config
from tui.app import HostStateChanged, WarroomApp


def _app(tmp_path: Path) -> WarroomApp:
    return WarroomApp(local_config(tmp_path), start_monitor=False)


async def _feed(pilot: Any) -> None:
    app = pilot.app
    await app.fleet.start()
    app.post_message(HostStateChanged(alpha_state()))
    app.post_message(HostStateChanged(beta_state()))
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
@pytest.mark.parametrize("keys", [(), ("2",), ("4",), ("5",), ("right_square_bracket", "a")],
                         ids=["containers", "disk", "postgres", "certs", "all-hosts"])
def test_dashboard_snapshot(snap_compare: Any, tmp_path: Path, size: tuple[int, int],
                            keys: tuple[str, ...]) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_feed, press=keys)
