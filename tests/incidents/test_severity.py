"""Severity schemes: labels, parsing, response targets and timers."""

from __future__ import annotations

import pytest

from core.config import SeverityConfig
from core.incidents.severity import SeverityScheme, format_duration


def test_default_scheme_is_p0_to_p3_with_targets():
    s = SeverityScheme()
    assert [s.label(i) for i in range(4)] == ["P0", "P1", "P2", "P3"]
    assert [s.response_seconds(i) for i in range(4)] == [0, 3600, 4 * 3600, 24 * 3600]
    assert [s.describe_target(i) for i in range(4)] == ["immediate", "1 h", "4 h", "24 h"]
    assert s.is_critical(1) and not s.is_critical(2)


@pytest.mark.parametrize(
    ("labels", "minutes"),
    [
        (("SEV1", "SEV2", "SEV3", "SEV4"), (15, 60, 240, 1440)),
        (("Critical", "High", "Medium", "Low"), (0, 60, 480, 2880)),
        (("P1", "P2", "P3", "P4"), (15, 60, 240, 1440)),
    ],
)
def test_other_schemes_are_expressible(labels, minutes):
    s = SeverityScheme.from_config(SeverityConfig(labels=labels, response_minutes=minutes))
    assert s.label(0) == labels[0] and s.label(3) == labels[3]
    assert s.ordinal(labels[1].lower()) == 1
    assert s.ordinal(2) == 2
    assert s.response_seconds(0) == minutes[0] * 60
    with pytest.raises(ValueError, match="not one of the severity labels"):
        s.ordinal("P9")


def test_timer_counts_from_detection_and_stops_at_acknowledgement():
    s = SeverityScheme()
    t = s.timer(1, detected_at=1000.0, now=1000.0 + 1800)
    assert (t.elapsed, t.remaining, t.overdue, t.met) == (1800, 1800, False, None)
    t = s.timer(1, detected_at=1000.0, now=1000.0 + 4000)
    assert t.overdue and t.remaining == 0
    t = s.timer(1, detected_at=1000.0, now=1000.0 + 9000, acknowledged_at=1000.0 + 600)
    assert t.acknowledged and t.met is True and not t.overdue and t.elapsed == 600
    t = s.timer(0, detected_at=0.0, now=30.0)
    assert t.immediate and t.overdue


def test_bad_schemes_are_refused():
    with pytest.raises(ValueError):
        SeverityScheme(("A", "B", "C"), (1, 2, 3))
    with pytest.raises(ValueError):
        SeverityScheme(("A", "a", "C", "D"), (1, 2, 3, 4))


def test_format_duration():
    assert format_duration(0) == "0 s"
    assert format_duration(42) == "42 s"
    assert format_duration(125) == "2 min"
    assert format_duration(3600 + 300) == "1 h 05 min"
    assert format_duration(2 * 86400 + 3 * 3600) == "2 d 3 h"
