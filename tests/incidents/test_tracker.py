"""Incident lifecycle: open once, recover vs resolve, reopen, acknowledge, reclassify, merge."""

from __future__ import annotations

import json
import os
import re

import pytest

from core.config import Config, parse_config
from core.incidents.detector import Detector
from core.incidents.journal import JournalStore
from core.incidents.model import Finding, IncidentStatus, check_incident_id, incident_id
from core.incidents.replay import replay
from core.incidents.severity import SeverityScheme
from core.incidents.tracker import IncidentTracker
from core.state import DiskState

from .helpers import host, mount

T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def disk_finding(mountpoint: str = "/data", severity: int = 1, host_name: str = "web1") -> Finding:
    return Finding(rule="disk.full", host=host_name, subject=mountpoint, severity=severity,
                   title=f"{mountpoint} space at 95 % on {host_name}",
                   summary=f"{mountpoint} 95.0 % used", evidence={"used_percent": 95.0},
                   signal="disk.full", slug=f"disk-{mountpoint}", since=T0)


def api_finding(rule: str = "container.exited", service: str = "api") -> Finding:
    return Finding(rule=rule, host="web1", subject=f"shop-{service}-1", severity=1,
                   title=f"{service} container exited on web1", summary="exit code 1",
                   services=(service,), evidence={"exit_code": 1}, slug=f"{service}-exited",
                   since=T0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tracker(tmp_path, clock) -> IncidentTracker:
    store = JournalStore(tmp_path, "alice", clock=clock)
    return IncidentTracker(store, runbook_for=lambda f: f"rb-{f.rule}")


def types(tracker: IncidentTracker, incident: str) -> list[str]:
    return [e["type"] for e in tracker.store.read(incident)]


def test_incident_ids_are_short_typable_and_unique():
    assert incident_id(T0, "Web_1.prod", "api-down") == "20261118-1106-web-1-prod-api-down"
    taken = {"20261118-1106-web1-api-down"}
    again = incident_id(T0, "web1", "api-down", taken.__contains__)
    assert again == "20261118-1106-web1-api-down-2"
    for bad in ("../etc", "a/b", "", "UPPER", "x" * 81):
        with pytest.raises(ValueError):
            check_incident_id(bad)


def test_finding_opens_one_incident_and_updates_it(tracker):
    events = tracker.observe([disk_finding()], now=T0 + 60)
    assert [e["type"] for e in events] == ["detected"]
    [incident] = tracker.incidents()
    assert incident.id == "20261118-1106-web1-disk-data"
    assert incident.status is IncidentStatus.OPEN
    assert (incident.rule, incident.host, incident.severity) == ("disk.full", "web1", 1)
    assert incident.runbook == "rb-disk.full" and incident.detected_at == T0
    assert incident.evidence == {"used_percent": 95.0}
    assert tracker.observe([disk_finding()], now=T0 + 70) == []
    assert len(tracker.incidents()) == 1 and types(tracker, incident.id) == ["detected"]


def test_recovered_stays_until_resolved(tracker):
    [detected] = tracker.observe([disk_finding()], now=T0)
    inc = detected["incident"]
    tracker.observe([], recovered=["disk.full|web1|/data"], now=T0 + 300)
    assert tracker.incident(inc).status is IncidentStatus.RECOVERED
    assert [i.id for i in tracker.incidents()] == [inc]  # still on the panel
    tracker.resolve(inc, summary="cleaned /data/tmp")
    assert tracker.incidents() == []
    assert tracker.incident(inc).status is IncidentStatus.RESOLVED
    assert [i.id for i in tracker.incidents(include_resolved=True)] == [inc]
    assert types(tracker, inc) == ["detected", "recovered", "resolved"]


def test_a_recovered_condition_that_returns_reopens_the_same_incident(tracker):
    [detected] = tracker.observe([disk_finding()], now=T0)
    inc = detected["incident"]
    tracker.acknowledge(inc)
    tracker.observe([], recovered=["disk.full|web1|/data"], now=T0 + 100)
    tracker.observe([disk_finding()], now=T0 + 200)
    assert tracker.incident(inc).status is IncidentStatus.ACKNOWLEDGED
    assert len(tracker.incidents(include_resolved=True)) == 1
    assert types(tracker, inc)[-1] == "reopened"


def test_after_resolve_the_same_condition_opens_a_new_incident(tracker):
    [detected] = tracker.observe([disk_finding()], now=T0)
    tracker.resolve(detected["incident"])
    [again] = tracker.observe([disk_finding()], now=T0 + 10)
    assert again["incident"] == detected["incident"] + "-2"


def test_acknowledge_and_reclassify_are_journaled(tracker, clock):
    [detected] = tracker.observe([disk_finding()], now=T0)
    inc = detected["incident"]
    clock.now = T0 + 120
    assert tracker.acknowledge(inc)["operator"] == "alice"
    assert tracker.acknowledge(inc) is None
    incident = tracker.incident(inc)
    assert incident.status is IncidentStatus.ACKNOWLEDGED and incident.acknowledged_at == T0 + 120
    event = tracker.reclassify(inc, "P0", reason="payments are down")
    assert (event["from"], event["to"]) == (1, 0)
    assert tracker.reclassify(inc, 0) is None
    assert tracker.incident(inc).severity == 0
    assert types(tracker, inc) == ["detected", "acknowledged", "severity_changed"]
    [change] = tracker.view(inc).severity_changes
    assert (change.before, change.after, change.reason, change.auto) == (
        1, 0, "payments are down", False)


def test_detector_escalates_until_the_operator_reclassifies(tracker):
    [detected] = tracker.observe([disk_finding(severity=1)], now=T0)
    inc = detected["incident"]
    [escalated] = tracker.observe([disk_finding(severity=0)], now=T0 + 60)
    assert escalated["type"] == "severity_changed" and escalated["auto"] is True
    assert tracker.incident(inc).severity == 0
    tracker.reclassify(inc, 2, reason="test box")
    assert tracker.observe([disk_finding(severity=0)], now=T0 + 120) == []
    assert tracker.incident(inc).severity == 2


def test_merge_a_duplicate(tracker):
    exited = tracker.observe([api_finding()], now=T0)[0]["incident"]
    down_finding = Finding(rule="endpoint.down", host="web1", subject="api", severity=0,
                           title="api down on web1", summary="HTTP 502", services=("api-http",),
                           slug="api-down", since=T0)
    down = tracker.observe([down_finding], now=T0 + 5)[0]["incident"]
    events = tracker.merge(exited, into=down)
    assert [e["type"] for e in events] == ["merged", "merged_from"]
    dup = tracker.incident(exited)
    assert dup.status is IncidentStatus.RESOLVED and dup.merged_into == down
    target = tracker.incident(down)
    assert target.services == ("api-http", "api")
    assert [i.id for i in tracker.incidents()] == [down]
    # the duplicate's condition now belongs to the target: no new incident
    assert tracker.observe([api_finding(), down_finding], now=T0 + 30) == []
    # the target recovers only when both conditions clear
    tracker.observe([api_finding()], recovered=[down_finding.key], now=T0 + 40)
    assert tracker.incident(down).status is IncidentStatus.OPEN
    tracker.observe([], recovered=[api_finding().key], now=T0 + 50)
    assert tracker.incident(down).status is IncidentStatus.RECOVERED
    with pytest.raises(ValueError):
        tracker.merge(down, into=down)
    with pytest.raises(ValueError):
        tracker.merge(exited, into=down)


def test_merging_a_worse_duplicate_raises_the_target(tracker):
    a = tracker.observe([disk_finding("/a", severity=2)], now=T0)[0]["incident"]
    b = tracker.observe([disk_finding("/b", severity=0)], now=T0)[0]["incident"]
    tracker.merge(b, into=a)
    assert tracker.incident(a).severity == 0


def test_notes_report_fields_and_runbook(tracker):
    inc = tracker.observe([disk_finding()], now=T0)[0]["incident"]
    tracker.note(inc, "looks like the log rotation broke")
    tracker.set_report_fields(inc, root_cause="logrotate config removed", impact="none")
    tracker.set_report_fields(inc, impact="uploads failed for 10 min")
    view = tracker.view(inc)
    assert [n.text for n in view.notes] == ["looks like the log rotation broke"]
    assert view.report_fields == {"root_cause": "logrotate config removed",
                                  "impact": "uploads failed for 10 min"}
    with pytest.raises(ValueError, match="unknown report fields"):
        tracker.set_report_fields(inc, mood="tired")
    tracker.set_runbook(inc, "disk-cleanup")
    assert tracker.incident(inc).runbook == "disk-cleanup"


def test_restart_resumes_without_duplicates_or_false_recovery(tmp_path):
    config = Config()
    full = {"web1": host(disk=DiskState(mounts=(mount("/data", 95.0),)))}
    fine = {"web1": host(disk=DiskState(mounts=(mount("/data", 50.0),)))}
    first = IncidentTracker(JournalStore(tmp_path, "alice"))
    detector = Detector(config)
    first.process(detector, full, T0)
    assert first.process(detector, full, T0 + 60)[0]["type"] == "detected"
    inc = first.incidents()[0].id

    second = IncidentTracker(JournalStore(tmp_path, "alice"))  # the console restarted
    second.load()
    fresh = Detector(config)
    assert second.process(fresh, full, T0 + 100) == []
    assert second.incident(inc).status is IncidentStatus.OPEN
    assert second.process(fresh, fine, T0 + 105) == []  # clear hold (10 s)
    [recovered] = second.process(fresh, fine, T0 + 116)
    assert recovered["type"] == "recovered" and second.incidents()[0].id == inc


def test_two_consoles_open_one_incident(tmp_path):
    a = IncidentTracker(JournalStore(tmp_path, "alice"))
    b = IncidentTracker(JournalStore(tmp_path, "bob"))
    a.observe([disk_finding()], now=T0)
    assert b.observe([disk_finding()], now=T0 + 1) == []
    assert [i.id for i in b.incidents()] == [i.id for i in a.incidents()]
    assert len(list(tmp_path.iterdir())) == 2  # the incident and the lock file


def test_ingest_applies_the_partners_events(tmp_path):
    a = IncidentTracker(JournalStore(tmp_path, "alice"))
    b = IncidentTracker(JournalStore(tmp_path, "bob"))
    inc = a.observe([disk_finding()], now=T0)[0]["incident"]
    b.load()
    ack = a.acknowledge(inc)
    assert b.ingest([ack]) == {inc}
    assert b.incident(inc).acknowledged_by == "alice"
    assert b.ingest([ack]) == set()  # the same event twice changes nothing


def test_replay_equals_the_live_view(tracker):
    inc = tracker.observe([disk_finding()], now=T0)[0]["incident"]
    tracker.acknowledge(inc)
    tracker.reclassify(inc, 2)
    tracker.observe([], recovered=[disk_finding().key], now=T0 + 10)
    tracker.resolve(inc)
    replayed = replay(tracker.store.read(inc))
    assert replayed.incident == tracker.incident(inc)
    assert re.fullmatch(r"\d{8}-\d{4}-web1-disk-data", inc)


def test_severity_labels_in_a_custom_scheme(tmp_path):
    scheme = SeverityScheme(("SEV1", "SEV2", "SEV3", "SEV4"), (15, 60, 240, 1440))
    t = IncidentTracker(JournalStore(tmp_path, "alice"), scheme)
    inc = t.observe([disk_finding()], now=T0)[0]["incident"]
    t.reclassify(inc, "sev1")
    assert t.incident(inc).severity == 0


def test_two_consoles_write_each_detector_event_once(tmp_path):
    a = IncidentTracker(JournalStore(tmp_path, "alice"))
    b = IncidentTracker(JournalStore(tmp_path, "bob"))
    inc = a.observe([disk_finding()], now=T0)[0]["incident"]
    b.observe([disk_finding()], now=T0)
    assert len(a.observe([disk_finding(severity=0)], now=T0 + 5)) == 1
    assert b.observe([disk_finding(severity=0)], now=T0 + 6) == []  # alice already escalated
    assert len(a.observe([], recovered=[disk_finding().key], now=T0 + 20)) == 1
    assert b.observe([], recovered=[disk_finding().key], now=T0 + 21) == []
    assert types(a, inc) == ["detected", "severity_changed", "recovered"]
    assert b.incident(inc).status is IncidentStatus.RECOVERED


def test_a_damaged_journal_loads_from_its_readable_events(tmp_path):
    store = JournalStore(tmp_path, "alice")
    store.append("inc-1", "detected", rule="disk.full", host="web1", severity=1,
                 key="disk.full:web1:/", title="disk full")
    with (tmp_path / "inc-1" / "journal.jsonl").open("a") as fh:
        fh.write('{"type": "severity_changed", "ts": 5, "from": 1, "to": "sev9"}\n')
        fh.write('{"type": "detected", "ts": "x", "severity": "sev2"}\n')
    store.append("inc-1", "acknowledged")
    tracker = IncidentTracker(JournalStore(tmp_path, "bob"))
    tracker.load()
    incident = tracker.views["inc-1"].incident
    assert incident is not None and incident.severity == 1
    assert incident.status is IncidentStatus.ACKNOWLEDGED


def test_an_event_appended_while_the_console_starts_is_applied_once(tmp_path, monkeypatch):
    """The desk's watcher marks where each journal ends before the tracker reads them."""
    from core.incidents.desk import IncidentDesk

    other = JournalStore(tmp_path, "bob")
    other.append("inc-1", "detected", rule="disk.full", host="web1", severity=1,
                 key="disk.full:web1:/", title="disk full")
    real_load = IncidentTracker.load
    appended = []

    def load_while_bob_writes(self):
        appended.append(other.append("inc-1", "note", text="looking"))
        real_load(self)

    monkeypatch.setattr(IncidentTracker, "load", load_while_bob_writes)
    config = parse_config(f'[settings]\ndata_dir = "{tmp_path / "data"}"\n'
                          f'journal_dir = "{tmp_path}"\n[[hosts]]\nname = "a"\n'
                          'transport = "local"\n')
    desk = IncidentDesk(config)
    assert desk.watcher is not None
    assert desk.watcher.poll() == appended  # seen by the watcher too ...
    desk.tracker.ingest(appended)
    notes = [n.text for n in desk.tracker.views["inc-1"].notes]
    assert notes == ["looking"]  # ... and applied once


def test_unreadable_journals_are_left_out_and_named(tmp_path):
    store = JournalStore(tmp_path, "alice")
    store.append("inc-1", "detected", rule="disk.full", host="web1", severity=1,
                 key="disk.full:web1:/", title="disk full")
    (tmp_path / "inc-2").mkdir()
    os.mkfifo(tmp_path / "inc-2" / "journal.jsonl")
    tracker = IncidentTracker(JournalStore(tmp_path, "bob"))
    tracker.load()
    assert list(tracker.views) == ["inc-1"]
    assert tracker.unreadable == {"inc-2": "not a regular file"}


def test_a_journal_gone_bad_during_the_session_is_named_and_its_write_fails(tracker, tmp_path):
    tracker.observe([disk_finding()], now=T0 + 60)
    [incident] = tracker.incidents()
    journal = tracker.store.incident_dir(incident.id) / "journal.jsonl"
    journal.unlink()
    journal.mkdir()  # neither readable as a journal nor writable as one
    with pytest.raises(OSError):  # writing the escalation fails, and says so ...
        tracker.observe([disk_finding(severity=0)], now=T0 + 120)
    assert tracker.unreadable == {incident.id: "not a regular file"}  # ... past the read


def test_a_journal_directory_that_cannot_be_listed_is_named(tmp_path, monkeypatch):
    store = JournalStore(tmp_path, "alice")

    def refused() -> list[str]:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(store, "incident_ids", refused)
    tracker = IncidentTracker(store)
    tracker.load()  # as root, a real EACCES cannot be made here
    assert tracker.root_error == "Permission denied" and tracker.views == {}


def _snapshot(tracker: IncidentTracker) -> list[tuple]:
    """What a user can see of every incident, resolved ones included."""
    return [(i.id, i.status, i.severity, i.merged_into, i.resolved_by, i.hosts, i.title)
            for i in tracker.incidents(include_resolved=True)]


def _history(tmp_path, clock) -> tuple[IncidentTracker, str, str, str]:
    """Three incidents: one resolved, one merged into an open one, one open."""
    tracker = IncidentTracker(JournalStore(tmp_path, "alice", clock=clock))
    resolved = tracker.observe([disk_finding("/old")], now=T0)[0]["incident"]
    tracker.note(resolved, "freed the old logs")
    tracker.resolve(resolved)
    merged = tracker.observe([api_finding()], now=T0 + 5)[0]["incident"]
    open_one = tracker.observe([api_finding("endpoint.down", "api-http")], now=T0 + 6)[0][
        "incident"]
    tracker.merge(merged, into=open_one)
    return tracker, resolved, merged, open_one


def test_start_up_leaves_resolved_history_unreplayed_until_asked(tmp_path, clock):
    live, resolved, merged, open_one = _history(tmp_path, clock)
    tracker = IncidentTracker(JournalStore(tmp_path, "bob", clock=clock))
    tracker.load()
    assert set(tracker.views) == {merged, open_one}  # a merged one still routes its keys
    assert [i.id for i in tracker.incidents()] == [open_one]
    assert tracker.find(api_finding().key) == open_one
    assert _snapshot(tracker) == _snapshot(live)  # asked for: the same as a full replay
    assert tracker.view(resolved).notes[0].text == "freed the old logs"


@pytest.mark.parametrize("ask", ["knows", "incident", "write", "partner"])
def test_a_dormant_incident_is_replayed_for_a_query_a_write_or_a_partner(tmp_path, clock, ask):
    _, resolved, _, _ = _history(tmp_path, clock)
    tracker = IncidentTracker(JournalStore(tmp_path, "bob", clock=clock))
    tracker.load()
    assert resolved not in tracker.views
    if ask == "knows":
        assert tracker.knows(resolved) and not tracker.knows("20990101-0000-none")
    elif ask == "incident":
        assert tracker.incident(resolved).status is IncidentStatus.RESOLVED
    elif ask == "write":
        tracker.set_report_fields(resolved, impact="none")
        assert tracker.view(resolved).report_fields["impact"] == "none"
    else:  # a partner adds to it: its watcher hands the event over
        event = JournalStore(tmp_path, "carol", clock=clock).append(
            resolved, "note", text="post-mortem on Monday")
        assert tracker.ingest([event, event]) == {resolved}
        assert [n.text for n in tracker.view(resolved).notes] == [
            "freed the old logs", "post-mortem on Monday"]  # each once
    assert resolved in tracker.views


@pytest.mark.parametrize("damage", ["resolved first", "eid twice", "note after", "torn end",
                                    "merged by hand"])
def test_journals_not_plainly_resolved_are_replayed_at_start(tmp_path, clock, damage):
    store = JournalStore(tmp_path, "alice", clock=clock)
    detected = store.event("inc-1", "detected", rule="disk.full", host="web1", severity=1,
                           key="disk.full:web1:/", title="disk full")
    resolved = store.event("inc-1", "resolved")
    order = [resolved, detected] if damage == "resolved first" else [detected, resolved]
    if damage == "eid twice":  # the resolution is a copy of an event already applied
        resolved["eid"] = detected["eid"]
    for event in order:
        store.append_event("inc-1", event)
        if damage == "merged by hand" and event is detected:  # spaced, as an editor might
            with (tmp_path / "inc-1" / "journal.jsonl").open("a") as fh:
                fh.write(json.dumps(store.event("inc-1", "merged", into="inc-2")) + "\n")
    journal = tmp_path / "inc-1" / "journal.jsonl"
    if damage == "note after":
        store.append("inc-1", "note", text="written after the resolution")
    if damage == "torn end":
        with journal.open("a") as fh:
            fh.write('{"type":"reopened","ts":1')
    full = replay(store.read("inc-1"))
    tracker = IncidentTracker(JournalStore(tmp_path, "bob", clock=clock))
    tracker.load()
    if damage == "torn end":  # the torn line is not an event: plainly resolved still
        assert "inc-1" not in tracker.views
    else:
        assert "inc-1" in tracker.views
    assert full.incident is not None
    assert tracker.incident("inc-1").status is full.incident.status
    assert tracker.incident("inc-1").merged_into == full.incident.merged_into


def test_a_runbook_loader_that_fails_costs_the_runbooks_not_the_incidents(tmp_path, monkeypatch):
    import core.runbooks.library
    from core.incidents.desk import IncidentDesk

    def broken(*_args, **_kwargs):
        yield
        raise RuntimeError("a bug in the loader")

    monkeypatch.setattr(core.runbooks.library, "library_steps", broken)
    config = parse_config(f'[settings]\ndata_dir = "{tmp_path / "data"}"\n'
                          f'journal_dir = "{tmp_path}"\n[[hosts]]\nname = "web1"\n'
                          'transport = "local"\n')
    desk = IncidentDesk(config)
    assert not desk.runbooks_loaded
    library = desk.load_runbooks()
    assert desk.runbooks_loaded and len(library) == 0
    assert [str(e) for e in library.errors] == [
        "runbooks: could not be loaded: RuntimeError: a bug in the loader"]
    desk.tracker.observe([disk_finding()], now=T0 + 60)
    [incident] = desk.incidents()
    assert incident.runbook == ""
