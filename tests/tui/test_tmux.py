"""The console as a person sees it: a real tmux session, send-keys and capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from tests.conftest import LAB_CONFIG, ROOT

pytestmark = pytest.mark.lab


class Tmux:
    """One detached tmux session running a command at a fixed size."""

    def __init__(self, command: list[str], width: int = 120, height: int = 36) -> None:
        self.name = f"warroom-test-{uuid.uuid4().hex[:8]}"
        env_args: list[str] = []
        for key in ("WARROOM_LAB_PG_PASSWORD", "WARROOM_LAB_S3_ACCESS_KEY",
                    "WARROOM_LAB_S3_SECRET_KEY", "PATH", "HOME"):
            if key in os.environ:
                env_args += ["-e", f"{key}={os.environ[key]}"]
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
             *env_args, "-c", str(ROOT), " ".join(command)],
            check=True,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name],
                              capture_output=True).returncode == 0

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def console(lab_config: Config, tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (lab-up installs it)")
    data = tmp_path / "data"
    config = tmp_path / "console.toml"
    config.write_text(LAB_CONFIG.read_text().replace(
        str(ROOT / "lab" / ".state" / "data"), str(data)))
    tmux = Tmux([sys.executable, "-m", "tui.cli", "--config", str(config)])
    try:
        yield tmux
    finally:
        tmux.kill()


def test_console_in_tmux_shows_hosts_and_switches(console: Tmux) -> None:
    screen = console.wait_for("shop-api-1")
    assert "web1" in screen and "web2" in screen
    console.keys("]")
    screen = console.wait_for("blog-web-1")
    assert "web2 (2/2)" in screen
    console.keys("3")  # System tab
    console.wait_for("load 1/5/15")
    console.keys("q")
    deadline = time.monotonic() + 10
    while console.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not console.alive(), "q did not quit"


def test_hostile_log_lines_in_a_real_terminal(console: Tmux) -> None:
    console.wait_for("shop-hostile-1")
    console.keys("/")  # nothing bound on the dashboard: harmless
    for _ in range(10):  # move the cursor to the hostile container's row
        if "shop-hostile-1" in console.screen().split("\n")[0]:
            break
        console.keys("Down")
    console.keys("ctrl+p")
    console.wait_for("Search")
    console.keys("Container: shop-hostile-1")
    time.sleep(0.5)
    console.keys("Enter")
    screen = console.wait_for("[bold]not bold[/bold]")
    assert "[@click=app.quit]click me[/]" in screen
    assert "␛]52;c;" in screen  # the OSC 52 clipboard write shows as text
    assert console.alive()
