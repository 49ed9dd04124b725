"""The console as a person sees it: a real tmux session, send-keys and capture-pane."""

from __future__ import annotations

import contextlib
import os
import re
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


TMUX = ["tmux", "-L", "warroom-tests"]
"""The tests' own tmux server: an operator's tmux (or its prefix) never gets in the way."""


def _tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=check)


class Tmux:
    """One detached tmux session running a command at a fixed size."""

    def __init__(self, command: list[str], width: int = 120, height: int = 36) -> None:
        self.name = f"warroom-test-{uuid.uuid4().hex[:8]}"
        env_args: list[str] = []
        for key in ("WARROOM_LAB_PG_PASSWORD", "WARROOM_LAB_S3_ACCESS_KEY",
                    "WARROOM_LAB_S3_SECRET_KEY", "PATH", "HOME"):
            if key in os.environ:
                env_args += ["-e", f"{key}={os.environ[key]}"]
        for attempt in range(3):
            # a server whose last session just ended is still exiting for a moment and
            # refuses new sessions: start another one
            started = _tmux("new-session", "-d", "-s", self.name, "-x", str(width),
                            "-y", str(height), *env_args, "-c", str(ROOT), " ".join(command))
            if started.returncode == 0:
                break
            time.sleep(0.2 * (attempt + 1))
        else:
            raise AssertionError(f"tmux new-session failed: {started.stderr.strip()}")

    def keys(self, *keys: str) -> None:
        _tmux("send-keys", "-t", self.name, *keys, check=True)

    def screen(self) -> str:
        return _tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(self, *texts: str, timeout: float = 20) -> str:
        """The first screen that shows every one of ``texts`` (one frame may hold only some)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{texts!r} never appeared together; screen was:\n{screen}")

    def alive(self) -> bool:
        return _tmux("has-session", "-t", self.name).returncode == 0

    def kill(self) -> None:
        _tmux("kill-session", "-t", self.name)


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
    for name in ("shop-api-1", "shop-flaky-1", "shop-hostile-1", "shop-proxy-1", "shop-worker-1"):
        console.wait_for(name)
    time.sleep(1)
    console.keys("C-p")
    console.wait_for("Search")
    console.keys("hostile")
    console.wait_for("Container: shop-hostile-1 (web1)")
    time.sleep(0.5)
    console.keys("Enter")
    screen = console.wait_for("[bold]not bold[/bold]")
    assert "logs of shop-hostile-1" in screen
    assert "[@click=app.quit]click me[/]" in screen
    assert "␛]52;c;" in screen  # the OSC 52 clipboard write shows as text
    assert "␛[2J" in screen and "␍" in screen
    console.keys("/")
    console.wait_for("search: text, or re:REGEX")
    time.sleep(0.3)
    console.keys("click")
    time.sleep(0.3)
    console.keys("Enter")
    screen = console.wait_for("search ")
    assert re.search(r"search [1-9][0-9]*/[1-9][0-9]*: click", screen), screen
    assert console.alive()


def _warroom(config: Path, *extra: str) -> Tmux:
    return Tmux([sys.executable, "-m", "tui.cli", "--config", str(config), *extra])


def _wait_incident(journal: Path, suffix: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(p.name for p in journal.glob(f"*{suffix}") if p.is_dir())
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no incident *{suffix} in {journal}")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def _all_gone(pids: list[int], seconds: float = 3) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _console_pid(config: Path) -> int:
    """The console's own process (not the tmux server, whose command line names it too)."""
    out = subprocess.run(["pgrep", "-f", f"tui.cli --config {config}"],
                         capture_output=True, text=True).stdout.split()
    for pid in out:
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if argv[:3] == [sys.executable.encode(), b"-m", b"tui.cli"]:
                return int(pid)
    raise AssertionError(f"console process not found among {out}")


@pytest.fixture
def api_stopped() -> Iterator[None]:
    subprocess.run(["docker", "stop", "-t", "1", "shop-api-1"], check=True, capture_output=True)
    yield
    subprocess.run(["docker", "start", "shop-api-1"], check=True, capture_output=True)


def test_sigkill_mid_checklist_resumes_at_the_same_step(
    lab_config: Config, tmp_path: Path, api_stopped: None
) -> None:
    from tests.tui.test_incident_flow import fast_config

    config = fast_config(tmp_path, "alice")
    journal = tmp_path / "alice" / "incidents"
    first = _warroom(config)
    try:
        first.wait_for("web1")
        incident = _wait_incident(journal, "-web1-api-exited")
    finally:
        first.kill()
    console = _warroom(config, "--checklist", incident)
    try:
        console.wait_for("step 1 of")
        console.keys("x")
        console.wait_for("step 2 of")
        console.keys("x")
        console.wait_for("step 3 of")
        pid = _console_pid(config)
        helpers = _children(pid)
        assert helpers, "the console-checks worker is not running"
        os.kill(pid, 9)
        assert _all_gone(helpers), "a helper outlived the console"
    finally:
        console.kill()
    again = _warroom(config, "--checklist", incident)
    try:
        screen = again.wait_for("step 3 of")
        assert "Restart the container" in screen
        again.keys("o")
        screen = again.wait_for("passed")
        assert screen.count("passed") >= 2 and "alice" in screen
    finally:
        again.kill()
    events = [line for line in (journal / incident / "journal.jsonl").read_text().splitlines()]
    assert sum('"step_finished"' in e for e in events) == 2


def test_two_consoles_see_each_others_steps(
    lab_config: Config, tmp_path: Path, api_stopped: None
) -> None:
    from tests.tui.test_incident_flow import fast_config

    shared = tmp_path / "shared-journal"
    alice_cfg = fast_config(tmp_path, "alice", journal=shared)
    bob_cfg = fast_config(tmp_path, "bob", journal=shared)
    watcher = _warroom(bob_cfg)
    try:
        watcher.wait_for("web1")
        incident = _wait_incident(shared, "-web1-api-exited")
    finally:
        watcher.kill()
    alice = _warroom(alice_cfg, "--checklist", incident)
    bob = _warroom(bob_cfg, "--checklist", incident)
    try:
        alice.wait_for("step 1 of")
        bob.wait_for("step 1 of")
        bob.keys("o")
        alice.keys("x")
        alice.wait_for("step 2 of")
        started = time.monotonic()  # alice's console shows her step done: now bob's
        bob.wait_for("passed", "alice", timeout=10)  # the step and who ran it
        assert time.monotonic() - started <= 2.5
        bob.keys("n")
        bob.wait_for("Add a note")
        time.sleep(0.3)
        bob.keys("checked the proxy too")
        time.sleep(0.3)
        bob.keys("Enter")
        bob.wait_for("note by bob: checked the proxy too", timeout=10)  # recorded
        started = time.monotonic()
        alice.wait_for("checked the proxy too", "by bob", timeout=10)
        assert time.monotonic() - started <= 2.5  # and alice sees it, as she saw his step
    finally:
        alice.kill()
        bob.kill()
