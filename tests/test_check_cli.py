"""`warroom check` against the lab: Nagios exit codes and reasons a person can act on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from tests.conftest import LAB, LAB_CONFIG, ROOT

pytestmark = pytest.mark.lab


def _check(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--config", str(config), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=dict(os.environ),
    )


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = LAB_CONFIG.read_text()
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new))
    return path


def test_all_hosts_reachable(lab_config: Config) -> None:
    proc = _check(LAB_CONFIG)
    assert "web1" in proc.stdout and "web2" in proc.stdout
    assert "UNREACHABLE" not in proc.stdout, proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unknown_host_key_names_the_fingerprint(lab_config: Config, tmp_path: Path) -> None:
    known = str(LAB / ".state" / "known_hosts")
    text = LAB_CONFIG.read_text()
    # Point only web2 at an empty known_hosts file.
    head, tail = text.split('name = "web2"', 1)
    tail = tail.replace(known, str(LAB / ".state" / "known_hosts.empty"), 1)
    path = tmp_path / "one-unknown.toml"
    path.write_text(head + 'name = "web2"' + tail)
    proc = _check(path)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("web2"))
    assert "unknown host key" in line and "SHA256:" in line
    assert proc.returncode == 2


def test_no_host_reachable_is_unknown(lab_config: Config, tmp_path: Path) -> None:
    path = _variant(
        tmp_path, str(LAB / ".state" / "known_hosts"), str(LAB / ".state" / "known_hosts.empty")
    )
    proc = _check(path)
    assert proc.returncode == 3
    assert proc.stdout.count("UNREACHABLE") == 2
