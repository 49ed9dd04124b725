"""Durations, the clear hold against flapping, unknown scopes, restore, and rule settings."""

from __future__ import annotations

import tomllib
from types import MappingProxyType

import pytest

from core.config import Config, SeverityConfig
from core.incidents.detector import Detector
from core.incidents.rules_config import (
    RULE_SPECS,
    RuleConfig,
    check_rules,
    effective_rules,
)
from core.runbooks import signals as sig
from core.schema import SchemaError, build
from core.state import DiskState, ProbeStatus

from .helpers import container, failed, host, mount

FULL = DiskState(mounts=(mount("/data", 95.0),))
FINE = DiskState(mounts=(mount("/data", 50.0),))
KEY = "disk.full|web1|/data"


class RulesConfig(Config):
    """``Config`` with the ``rules`` table the lead adds (until it exists)."""

    def __init__(self, rules: dict[str, RuleConfig], **kw):
        super().__init__(**kw)
        object.__setattr__(self, "rules", MappingProxyType(rules))


def disk_detector(**rule: object) -> Detector:
    return Detector(RulesConfig({"disk.full": RuleConfig(**rule)}))  # type: ignore[arg-type]


def run(detector: Detector, disk: DiskState, now: float) -> list[str]:
    return [f.key for f in detector.evaluate({"web1": host(disk=disk)}, now)]


def test_every_signal_has_a_rule():
    assert set(RULE_SPECS) == set(sig.ALL_SIGNALS)


def test_condition_must_hold_for_seconds():
    d = disk_detector(for_seconds=60)
    assert run(d, FULL, 0) == []
    assert d.state_of(KEY) == "pending"
    assert run(d, FULL, 59) == []
    assert run(d, FULL, 60) == [KEY]
    [f] = d.evaluate({"web1": host(disk=FULL)}, 61)
    assert f.since == 0  # when it was first seen


def test_a_clear_before_the_duration_starts_again():
    d = disk_detector(for_seconds=60)
    run(d, FULL, 0)
    run(d, FULL, 50)
    assert run(d, FINE, 55) == []
    assert d.state_of(KEY) is None
    assert run(d, FULL, 70) == []  # 0..50 does not count any more
    assert run(d, FULL, 129) == []
    assert run(d, FULL, 130) == [KEY]


def test_flapping_does_not_recover_within_the_clear_hold():
    d = disk_detector(for_seconds=0, clear_seconds=10)
    assert run(d, FULL, 0) == [KEY]
    assert run(d, FINE, 5) == [KEY]  # still reported while clearing
    assert d.state_of(KEY) == "clearing" and d.recovered == []
    assert run(d, FULL, 8) == [KEY]  # back: same condition, nothing recovered
    assert d.state_of(KEY) == "active"
    assert run(d, FINE, 12) == [KEY]
    assert run(d, FINE, 21) == [KEY] and d.recovered == []
    assert run(d, FINE, 22) == [] and d.recovered == [KEY]
    assert run(d, FINE, 30) == [] and d.recovered == []


def test_durations_off_reports_and_forgets_at_once():
    d = Detector(Config(), durations=False)
    assert run(d, FULL, 0) == [KEY]
    assert run(d, FINE, 1) == [] and d.recovered == [KEY]


def test_unknown_probe_freezes_conditions():
    d = disk_detector(for_seconds=0, clear_seconds=0)
    assert run(d, FULL, 0) == [KEY]
    failed_disk = failed("disk", ProbeStatus.TIMEOUT, "df timed out")
    state = host(disk=failed_disk)
    assert [f.key for f in d.evaluate({"web1": state}, 10)] == [KEY]
    assert d.recovered == []
    unreachable = host(reachable=False, disk=FINE)
    keys = [f.key for f in d.evaluate({"web1": unreachable}, 20)]
    assert KEY in keys and d.recovered == []
    assert d.evaluate({}, 30) and d.recovered == []  # host missing from the states: unknown


def test_restore_keeps_an_open_incident_active_after_restart():
    d = disk_detector(for_seconds=600, clear_seconds=10)
    d.restore([(KEY, 100.0)])
    [f] = d.evaluate({"web1": host(disk=FULL)}, 1000)
    assert f.since == 100.0  # no new 600 s wait
    d2 = disk_detector(for_seconds=600, clear_seconds=10)
    d2.restore([(KEY, 100.0)])
    assert run(d2, FINE, 1000) == [] and d2.recovered == []
    assert run(d2, FINE, 1010) == [] and d2.recovered == [KEY]


def test_rule_settings_threshold_severity_label_and_disable():
    d = Detector(RulesConfig(
        {"disk.full": RuleConfig(threshold=70, severity="sev2", critical_threshold=99,
                                 for_seconds=0),
         "system.cpu_high": RuleConfig(enabled=False)},
        severity=SeverityConfig(labels=("SEV1", "SEV2", "SEV3", "SEV4"))))
    [f] = d.evaluate({"web1": host(disk=DiskState(mounts=(mount("/", 75.0),)))}, 0)
    assert f.severity == 1 and f.evidence["threshold_percent"] == 70.0
    assert "system.cpu_high" not in d.rules
    assert d.rule("system.cpu_high").enabled is False


def test_rule_ignore_globs():
    d = Detector(RulesConfig({"container.exited": RuleConfig(ignore=("*migrate*",),
                                                             for_seconds=0)}))
    state = host(containers=(container("shop-migrate-1", "exited", exit_code=1),
                             container("shop-api-1", "exited", exit_code=1)))
    assert [f.subject for f in d.evaluate({"web1": state}, 0)] == ["shop-api-1"]


def test_defaults_without_any_config():
    rules = effective_rules({})
    assert rules["disk.full"].threshold == 90.0 and rules["disk.full"].for_seconds == 60.0
    assert rules["cert.expiring"].threshold == 30.0
    assert rules["cert.expiring"].critical_threshold == 7.0
    assert rules["postgres.connections_high"].threshold == 80.0
    assert Detector().evaluate({"web1": host()}, 0) == []


def test_rules_table_from_toml():
    table = tomllib.loads("""
        [rules."disk.full"]
        severity = 1
        for_seconds = 60
        threshold = 90
        [rules."cert.expiring"]
        severity = "P2"
        ignore = ["*.internal*"]
    """)
    rules = {k: build(RuleConfig, v, f"rules.{k}") for k, v in table["rules"].items()}
    assert rules["disk.full"] == RuleConfig(severity=1, for_seconds=60.0, threshold=90.0)
    assert rules["cert.expiring"].severity == "P2"
    check_rules(rules, SeverityConfig())
    with pytest.raises(SchemaError, match=r"rules.disk.full.treshold: unknown key.*threshold"):
        build(RuleConfig, {"treshold": 90}, "rules.disk.full")
    with pytest.raises(SchemaError, match="for_seconds must be zero or more"):
        build(RuleConfig, {"for_seconds": -1}, "rules.disk.full")


def test_check_rules_names_the_bad_key():
    with pytest.raises(ValueError, match=r"rules.disk.ful: unknown rule \(did you mean 'disk.f"):
        check_rules({"disk.ful": RuleConfig()}, SeverityConfig())
    with pytest.raises(ValueError, match=r"rules.disk.full.severity: 'P9' is not one of"):
        check_rules({"disk.full": RuleConfig(severity="P9")}, SeverityConfig())
    with pytest.raises(ValueError, match="0 \\(worst\\) to 3"):
        RuleConfig(severity=7)
