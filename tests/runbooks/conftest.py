"""Shared paths for the runbook tests (pure logic: no lab needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "runbooks"
SAMPLES = REPO.parent / "shared" / "examples" / "runbooks"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def sample_files() -> list[Path]:
    """The sample Markdown runbooks shipped next to the repository (may be absent)."""
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.iterdir() if p.suffix == ".txt")
