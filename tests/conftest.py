"""Shared fixtures: the lab (real sshd, Docker, PostgreSQL, S3, TLS) and its config."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config, HostConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "lab"
LAB_CONFIG = LAB / "warroom.toml"


def lab_sh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``lab/lab.sh ARGS`` (e.g. ``host-kill web2``) and fail the test if it fails."""
    proc = subprocess.run(
        ["bash", str(LAB / "lab.sh"), *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"lab.sh {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def _load_lab_env() -> None:
    env_file = LAB / ".state" / "env"
    if not env_file.is_file():
        return
    for line in env_file.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            os.environ.setdefault(key, value.strip().strip("'\""))


@pytest.fixture(scope="session")
def lab_config() -> Config:
    """The config lab-up wrote; the session fails loudly if the lab is not up."""
    if not LAB_CONFIG.is_file():
        pytest.fail("lab/warroom.toml is missing: run `make lab-up` (make test does it)")
    _load_lab_env()
    return load_config(LAB_CONFIG)


@pytest.fixture
def lab_host(lab_config: Config) -> HostConfig:
    """Lab host web1, reached over SSH."""
    return lab_config.host("web1")


def host_variant(host: HostConfig, **changes: object) -> HostConfig:
    """A copy of ``host`` with some settings changed (e.g. another known_hosts)."""
    return dataclasses.replace(host, **changes)  # type: ignore[arg-type]


@pytest.fixture
def restore_lab_host() -> Iterator[list[str]]:
    """Hosts a test stops or freezes; they are started again afterwards, whatever happens."""
    touched: list[str] = []
    yield touched
    for name in touched:
        lab_sh("host-start", name)
