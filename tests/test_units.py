"""Human-readable numbers shown in the panes."""

from __future__ import annotations

import pytest

from core.units import human_age, human_duration


@pytest.mark.parametrize(
    ("seconds", "duration", "age"),
    [
        (None, "-", "-"),
        (12.7, "12s", "12s"),
        (59, "59s", "59s"),
        (60, "1m00s", "1m"),
        (3599, "59m59s", "59m"),
        (3725, "1h02m", "1h02m"),
        (90061, "1d01h", "1d01h"),
    ],
)
def test_durations_and_ages(seconds: float | None, duration: str, age: str) -> None:
    assert human_duration(seconds) == duration
    assert human_age(seconds) == age
