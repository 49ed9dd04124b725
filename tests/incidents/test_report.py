"""The post-incident report: content, fences, no secrets (one test per kind), atomic write."""

from __future__ import annotations

import os
import re
from datetime import UTC

import pytest

from core.incidents.journal import JournalStore
from core.incidents.model import Finding
from core.incidents.replay import replay
from core.incidents.report import (
    NOT_FILLED,
    code_span,
    fenced,
    render_report,
    write_incident_report,
    write_report,
)
from core.incidents.tracker import IncidentTracker

from .helpers import RUNBOOK_STEPS

T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def finding() -> Finding:
    return Finding(rule="container.exited", host="web1", subject="shop-api-1", severity=1,
                   title="api container exited on web1", summary="container shop-api-1 exited: "
                   "exit code 1", services=("api",), evidence={"exit_code": 1, "state": "exited"},
                   slug="api-exited", since=T0)


@pytest.fixture
def worked(tmp_path):
    """An incident worked through end to end, as the journal has it."""
    clock = Clock()
    tracker = IncidentTracker(JournalStore(tmp_path, "alice", clock=clock),
                              runbook_for=lambda f: "api-down")
    inc = tracker.observe([finding()], now=T0)[0]["incident"]
    clock.now = T0 + 60
    tracker.acknowledge(inc)
    tracker.reclassify(inc, "P0", reason="checkout is down")
    c = tracker.checklist(inc, RUNBOOK_STEPS)
    clock.now = T0 + 90
    tracker.record(inc, c.start("docker logs --tail 50 shop-api-1", "web1"))
    tracker.record(inc, c.finish(0, 0.8, "panic: boom\n```\n# Injected heading\n```\n"))
    clock.now = T0 + 120
    tracker.record(inc, c.start("docker restart shop-api-1", "web1"))
    tracker.record(inc, c.finish(1, 2.5, "Error response from daemon"))
    tracker.record(inc, c.skip("restarted by compose instead"))
    tracker.record(inc, c.decide("yes"))
    tracker.note(inc, "customers notified on the status page")
    clock.now = T0 + 600
    tracker.observe([], recovered=[finding().key], now=T0 + 600)
    tracker.set_report_fields(inc, root_cause="a bad migration", resolution="rolled back")
    clock.now = T0 + 3900
    tracker.resolve(inc)
    return tracker, inc


def test_report_has_the_facts_timeline_and_commands(worked):
    tracker, inc = worked
    text = render_report(tracker.view(inc), tz=UTC)
    assert text.startswith("# Incident report: api container exited on web1\n")
    assert f"- **Incident:** `{inc}`" in text
    assert "- **Date:** 2026-11-18 11:06:40 UTC" in text
    assert "- **Duration:** 1 h 05 min" in text
    assert "- **Severity:** P0 (initially P1)" in text
    assert "P1 → P0 (alice): checkout is down" in text
    assert "- **Hosts:** web1" in text and "- **Services:** api" in text
    for line in ("**11:06:40** Detected (P1): container shop-api-1 exited: exit code 1 — _detec",
                 "**11:07:40** Acknowledged — _alice_",
                 "**11:08:10** Step `logs` started on web1: `docker logs --tail 50 shop-api-1`",
                 "Step `logs` finished: exit status 0, 0.8 s, passed",
                 "Step `restart` finished: exit status 1, 2.5 s, failed",
                 "Step `restart` skipped: restarted by compose instead",
                 "Decision at `fixed`: yes",
                 "Note: customers notified on the status page",
                 "**11:16:40** Condition cleared: container.exited on web1 (shop-api-1)",
                 "**12:11:40** Resolved"):
        assert line in text, line
    assert "- **Exit status:** 0 (passed)" in text
    assert "- **Exit status:** 1 (failed)" in text
    assert "- **Command:** `docker restart shop-api-1`" in text
    assert "## Root cause\n\na bad migration" in text
    assert "## Resolution\n\nrolled back" in text
    assert f"## Impact\n\n{NOT_FILLED}" in text
    assert f"## Lessons learned\n\n{NOT_FILLED}" in text
    assert f"## Prevention and action items\n\n{NOT_FILLED}" in text


def outside_fences(markdown: str) -> list[str]:
    """The lines of ``markdown`` not inside a fenced block (CommonMark backtick fences)."""
    out, fence = [], ""
    for line in markdown.splitlines():
        run = re.match(r"^(`{3,})", line)
        if fence:
            if run and line.strip() == "`" * len(line.strip()) and len(run[1]) >= len(fence):
                fence = ""
        elif run:
            fence = run[1]
        else:
            out.append(line)
    return out


def test_step_titles_from_the_runbook(worked):
    tracker, inc = worked
    text = render_report(tracker.view(inc), tz=UTC, step_titles={"logs": "Read the API logs"})
    assert "### 1. Step `logs` (Read the API logs) on web1" in text


def test_output_cannot_break_out_of_its_fence(worked):
    tracker, inc = worked
    text = render_report(tracker.view(inc), tz=UTC)
    assert "````text\npanic: boom\n```\n# Injected heading\n```\n````" in text
    assert "# Injected heading" not in outside_fences(text)
    assert fenced("a ````` b").startswith("``````text\n")
    assert code_span("x ` y") == "``x ` y``"


def test_terminal_escapes_are_stripped():
    assert fenced("\x1b[31mred\x1b[0m \x1b]52;c;Zm9v\x07done\r\n") == "```text\nred done\n```"


def test_unresolved_incident_reports_ongoing(tmp_path):
    store = JournalStore(tmp_path / "other", "bob")
    t = IncidentTracker(store)
    inc = t.observe([finding()], now=T0)[0]["incident"]
    text = render_report(t.view(inc), tz=UTC, now=T0 + 125)
    assert "- **Duration:** 2 min (ongoing)" in text
    assert "_(no command was run)_" in text


SECRETS = {
    "url_password": ("postgres://app:Pa55w0rd-url@db.internal:5432/shop", "Pa55w0rd-url"),
    "password_assignment": ("POSTGRES_PASSWORD=s3cr3t-assign", "s3cr3t-assign"),
    "aws_key": ("aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    "stripe_sk_live": ("charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    "stripe_rk_live": ("key rk_live_51HabcdEFGHijklMNOP", "51HabcdEFGHijklMNOP"),
    "jwt": ("cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZw",
            "eyJzdWIiOiJhZG1pbiJ9"),
    "private_key": ("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n"
                    "-----END RSA PRIVATE KEY-----", "MIIBOgIBAAJBAKj34GkxFhD9"),
    "bearer_token": ("curl -H 'Authorization: Bearer tok_9f8e7d6c5b4a3210'",
                     "tok_9f8e7d6c5b4a3210"),
}


def raw_events(secret: str) -> list[dict]:
    """Events with the secret everywhere the report quotes, written without the journal."""
    base = {"incident": "inc-1", "operator": "alice", "ts": T0}
    return [
        {**base, "type": "detected", "rule": "container.exited", "title": f"api down {secret}",
         "summary": f"exited {secret}", "host": "web1", "services": ["api"], "severity": 1,
         "evidence": {"env": secret}, "key": "k", "detected_at": T0},
        {**base, "type": "step_started", "step": "env", "command": f"echo {secret}",
         "host": "web1"},
        {**base, "type": "step_finished", "step": "env", "exit_status": 0, "duration": 0.1,
         "passed": True, "output": f"line1\n{secret}\nline3"},
        {**base, "type": "step_skipped", "step": "next", "reason": f"because {secret}"},
        {**base, "type": "note", "text": f"found {secret}"},
        {**base, "type": "report_fields", "fields": {"root_cause": f"leaked {secret}",
                                                     "lessons_learned": secret}},
        {**base, "type": "resolved", "summary": secret},
    ]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_report_redacts_every_secret_kind(kind):
    secret, fragment = SECRETS[kind]
    text = render_report(replay(raw_events(secret)), tz=UTC)
    assert fragment not in text
    assert "[REDACTED]" in text


def test_secrets_never_reach_the_journal_or_the_report(tmp_path):
    tracker = IncidentTracker(JournalStore(tmp_path, "alice"))
    inc = tracker.observe([finding()], now=T0)[0]["incident"]
    c = tracker.checklist(inc, RUNBOOK_STEPS)
    everything = "\n".join(s for s, _ in SECRETS.values())
    tracker.record(inc, c.start(f"env | grep {SECRETS['password_assignment'][0]}", "web1"))
    tracker.record(inc, c.finish(0, 0.1, everything))
    tracker.note(inc, everything)
    tracker.set_report_fields(inc, root_cause=everything)
    path = write_incident_report(tracker.store, inc, tz=UTC)
    journal = (tmp_path / inc / "journal.jsonl").read_text()
    report = path.read_text()
    for _, fragment in SECRETS.values():
        assert fragment not in journal and fragment not in report


def test_write_report_is_atomic(tmp_path, monkeypatch):
    target = write_report(tmp_path, "# first\n")
    assert target == tmp_path / "report.md" and target.read_text() == "# first\n"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    write_report(tmp_path, "# second\n")
    assert target.read_text() == "# second\n" and len(synced) == 2  # the file, then the dir

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, "# third, never seen\n")
    assert target.read_text() == "# second\n"  # the old report is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temp file left


def test_write_incident_report_replays_the_journal(worked):
    tracker, inc = worked
    path = write_incident_report(tracker.store, inc, tz=UTC)
    assert path == tracker.store.incident_dir(inc) / "report.md"
    assert path.read_text() == render_report(tracker.view(inc), tz=UTC)
