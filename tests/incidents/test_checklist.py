"""Guided checklist: navigation, decisions, back, notes, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.incidents.checklist import END, Checklist, StepStatus
from core.incidents.journal import JournalStore
from core.incidents.model import Finding
from core.incidents.replay import replay
from core.incidents.tracker import IncidentTracker

from .helpers import RUNBOOK_STEPS

ROOT = Path(__file__).resolve().parents[2]


def play(checklist: Checklist, event):
    """Stamp and apply an event the way the journal would."""
    checklist.apply({"ts": 0.0, "operator": "alice", **event})
    return event


def test_linear_run_skip_done_and_finish():
    c = Checklist(RUNBOOK_STEPS, runbook="api-down")
    assert (c.index, c.total, c.current.id) == (0, 5, "logs")
    play(c, c.start(command="docker logs --tail 200 shop-api-1", host="web1"))
    assert c.record("logs").status is StepStatus.RUNNING
    play(c, c.finish(0, 1.25, "boom"))
    rec = c.record("logs")
    assert (rec.status, rec.exit_status, rec.duration, rec.output) == (
        StepStatus.PASSED, 0, 1.25, "boom")
    assert c.current.id == "restart"
    play(c, c.start("docker restart shop-api-1", "web1"))
    play(c, c.finish(1, 3.0, "Error: No such container"))
    assert c.current.id == "restart"  # a failed step stays put
    assert c.record("restart").status is StepStatus.FAILED
    play(c, c.skip("restarted from the provider console"))
    assert c.record("restart").reason == "restarted from the provider console"
    assert c.current.id == "fixed"
    with pytest.raises(ValueError, match="decision"):
        c.start()


def test_decision_picks_the_next_step_and_back_returns():
    c = Checklist(RUNBOOK_STEPS)
    for _ in range(2):
        play(c, c.done())
    assert c.choices() == [("yes", "verify"), ("no", "escalate")]
    play(c, c.decide("No"))
    assert c.current.id == "escalate" and c.record("fixed").choice == "no"
    play(c, c.back())
    assert c.current.id == "fixed"
    play(c, c.decide(0))
    assert c.current.id == "verify"
    play(c, c.back())
    assert c.current.id == "fixed"
    play(c, c.back())
    assert c.current.id == "restart"
    with pytest.raises(ValueError, match="has no choices"):
        c.decide("yes")
    play(c, c.done())
    with pytest.raises(ValueError, match="not one of"):
        c.decide("maybe")


def test_manual_done_with_note_and_finishing():
    c = Checklist(RUNBOOK_STEPS)
    play(c, c.done())
    play(c, c.done())
    play(c, c.decide("no"))
    play(c, c.done(note="paged the DBA"))
    assert c.record("escalate").notes[0].text == "paged the DBA"
    play(c, c.note("verify by hand"))
    play(c, c.start("curl -fsS http://localhost/health", "web1"))
    play(c, c.finish(0, 0.2, "ok"))
    assert c.finished and c.current is None and c.progress.position == END
    assert [r.status for _, r in c.overview()] == [
        StepStatus.DONE, StepStatus.DONE, StepStatus.ANSWERED, StepStatus.DONE,
        StepStatus.PASSED]
    with pytest.raises(ValueError, match="finished"):
        c.skip("x")


def test_first_step_has_no_back():
    assert Checklist(RUNBOOK_STEPS).back() is None


def finding() -> Finding:
    return Finding(rule="container.exited", host="web1", subject="shop-api-1", severity=1,
                   title="api container exited on web1", summary="exit code 1",
                   services=("api",), slug="api-exited", since=1_795_000_000.0)


def test_replay_restores_the_checklist_exactly(tmp_path):
    tracker = IncidentTracker(JournalStore(tmp_path, "alice"), runbook_for=lambda f: "api-down")
    inc = tracker.observe([finding()], now=1_795_000_000.0)[0]["incident"]
    c = tracker.checklist(inc, RUNBOOK_STEPS)
    tracker.record(inc, c.start("docker logs shop-api-1", "web1"))
    tracker.record(inc, c.finish(0, 0.5, "PASSWORD=hunter2 in the env"))
    tracker.record(inc, c.skip("no need"))
    tracker.record(inc, c.decide("no"))
    tracker.record(inc, c.note("asked in #ops"))
    tracker.record(inc, c.back())
    live = tracker.view(inc).checklist
    assert live.records["logs"].output == "PASSWORD=[REDACTED] in the env"  # as written
    replayed = replay(tracker.store.read(inc)).checklist
    assert replayed == live
    assert Checklist(RUNBOOK_STEPS, replayed).current.id == "fixed"


CONSOLE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from core.incidents.journal import JournalStore
    from core.incidents.tracker import IncidentTracker
    from tests.incidents.helpers import RUNBOOK_STEPS
    from tests.incidents.test_checklist import finding
    tracker = IncidentTracker(JournalStore(sys.argv[1], "alice"), runbook_for=lambda f: "api-down")
    inc = tracker.observe([finding()], now=1_795_000_000.0)[0]["incident"]
    c = tracker.checklist(inc, RUNBOOK_STEPS)
    tracker.record(inc, c.start("docker logs shop-api-1", "web1"))
    tracker.record(inc, c.finish(0, 0.4, "panic: db connection refused"))
    tracker.note(inc, "db looked fine", step="logs")
    tracker.record(inc, c.start("docker restart shop-api-1", "web1"))
    print(inc, flush=True)
    time.sleep(60)
""")


def test_sigkill_mid_checklist_resumes_on_the_same_step(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CONSOLE, str(tmp_path), str(ROOT)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        inc = proc.stdout.readline().strip()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert inc
    restarted = IncidentTracker(JournalStore(tmp_path, "alice"))
    restarted.load()
    assert [i.id for i in restarted.incidents()] == [inc]
    c = restarted.checklist(inc, RUNBOOK_STEPS)
    assert c.current.id == "restart" and c.index == 1
    logs = c.record("logs")
    assert logs.status is StepStatus.PASSED and logs.output == "panic: db connection refused"
    assert [n.text for n in logs.notes] == ["db looked fine"]
    restart = c.record("restart")
    assert restart.status is StepStatus.RUNNING and restart.command == "docker restart shop-api-1"
    # and it goes on from there
    restarted.record(inc, c.finish(0, 2.0, "shop-api-1"))
    assert c.current.id == "fixed"


def test_works_with_the_runbook_model_steps():
    from core.runbooks.model import Choice, Step

    steps = (
        Step(id="logs", kind="check", command="docker logs {container}"),
        Step(id="restart", kind="action", command="docker restart {container}", next="fixed"),
        Step(id="skipped-by-next", kind="manual"),
        Step(id="fixed", kind="decision", question="Fixed?",
             choices=(Choice("yes", "end"), Choice("no", "logs"))),
    )
    c = Checklist(steps, runbook="api-down")
    play(c, c.start("docker logs shop-api-1", "web1"))
    play(c, c.finish(0, 0.1, ""))
    play(c, c.done())
    assert c.current.id == "fixed"  # the action's `next` jumped over the manual step
    play(c, c.decide("no"))
    assert c.current.id == "logs"
    play(c, c.skip("seen"))
    play(c, c.done())
    play(c, c.decide("yes"))
    assert c.finished
