"""The journal: append + fsync, torn and bad lines, SIGKILL mid-write, redaction, trimming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.incidents import journal as J
from core.incidents.journal import Journal, JournalStore, trim_output

ROOT = Path(__file__).resolve().parents[2]


def test_append_and_read_back(tmp_path):
    store = JournalStore(tmp_path, "alice", origin="console-a", clock=lambda: 1000.0)
    first = store.append("inc-1", "note", text="hello")
    second = store.append("inc-1", "acknowledged")
    assert store.read("inc-1") == [first, second]
    assert first["ts"] == 1000.0 and first["operator"] == "alice"
    assert first["incident"] == "inc-1" and first["origin"] == "console-a"
    assert first["v"] == 1 and first["eid"] != second["eid"]
    lines = (tmp_path / "inc-1" / "journal.jsonl").read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""  # one object per line
    assert store.incident_ids() == ["inc-1"]


def test_every_append_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    journal = Journal(tmp_path / "x" / "journal.jsonl")
    for n in range(3):
        journal.append({"type": "note", "n": n})
    assert len(synced) == 3


def test_torn_last_line_is_ignored_and_nothing_earlier_lost(tmp_path):
    store = JournalStore(tmp_path, "alice")
    events = [store.append("inc-1", "note", text=f"n{n}") for n in range(5)]
    path = tmp_path / "inc-1" / "journal.jsonl"
    line = json.dumps(store.event("inc-1", "note", text="torn")).encode()
    with path.open("ab") as fh:
        fh.write(line[: len(line) // 2])  # the writer died half-way
    assert store.read("inc-1") == events
    # the next writer ends the torn line first: its own event stays whole
    after = store.append("inc-1", "note", text="after the crash")
    assert store.read("inc-1") == [*events, after]


def test_undecodable_lines_are_skipped(tmp_path):
    path = tmp_path / "inc-1" / "journal.jsonl"
    journal = Journal(path)
    a = journal.append({"type": "note", "text": "a"})
    with path.open("ab") as fh:
        fh.write(b"\xff\xfe garbage\n{not json}\n[1, 2]\n\n")
    b = journal.append({"type": "note", "text": "b"})
    assert journal.read() == [a, b]


def test_events_of_the_wrong_shape_are_skipped(tmp_path):
    """A hand-edited or damaged journal must not stop the console that reads it."""
    path = tmp_path / "inc-1" / "journal.jsonl"
    journal = Journal(path)
    good = journal.append({"type": "detected", "ts": 1000.0, "severity": 1, "rule": "disk.full",
                           "services": ["api"]})
    damaged = [
        {"type": "detected", "ts": 1000.0, "severity": "sev2"},
        {"type": "note", "ts": "yesterday", "text": "x"},
        {"type": "note", "ts": float("nan"), "text": "x"},  # json.dumps writes NaN
        {"type": "note", "ts": 1e300, "text": "x"},
        {"type": "note", "ts": True, "text": "x"},
        {"type": "severity_changed", "ts": 1001.0, "from": 1, "to": "P0"},
        {"type": "detected", "ts": 1000.0, "services": "api"},
        {"type": "step_finished", "ts": 1002.0, "step": "s", "duration": "3s"},
        {"type": "step_finished", "ts": 1002.0, "step": "s", "exit_status": 0.5},
        # readers take .get(key, default): a present null would reach float() or int()
        {"type": "detected", "ts": None, "severity": 1},
        {"type": "detected", "ts": 1000.0, "severity": None},
        {"type": "detected", "ts": 1000.0, "detected_at": None},
        {"type": "severity_changed", "ts": 1001.0, "from": 1, "to": None},
        {"type": "step_finished", "ts": 1002.0, "step": "s", "output_trimmed": None},
    ]
    with path.open("a") as fh:
        fh.writelines(json.dumps(event) + "\n" for event in damaged)
    back = journal.append({"type": "step_back", "ts": 1003.0, "step": "b", "to": "a"})
    timed_out = journal.append({"type": "step_finished", "ts": 1004.0, "step": "b",
                                "exit_status": None, "duration": None})
    # "to" names a step outside severity_changed; a step that timed out has no status
    assert journal.read() == [good, back, timed_out]


def test_invalid_incident_ids_cannot_escape_the_directory(tmp_path):
    store = JournalStore(tmp_path, "alice")
    for bad in ("../evil", "a/b", "..", ""):
        with pytest.raises(ValueError):
            store.append(bad, "note")


def test_create_is_exclusive(tmp_path):
    store = JournalStore(tmp_path, "alice")
    assert store.create("inc-1", "detected", rule="disk.full") is not None
    assert store.create("inc-1", "detected", rule="disk.full") is None
    assert len(store.read("inc-1")) == 1


def test_output_is_trimmed_to_the_bound():
    text = "".join(f"line {n}\n" for n in range(5000))
    trimmed, dropped = trim_output(text)
    assert len(trimmed.encode()) < J.OUTPUT_LIMIT + 100 and dropped > 0
    assert trimmed.startswith("line 0\n") and trimmed.endswith("line 4999\n")
    assert f"[{dropped} bytes trimmed]" in trimmed
    assert trim_output("short") == ("short", 0)


def test_journal_redacts_before_writing(tmp_path):
    store = JournalStore(tmp_path, "alice")
    output = "DATABASE_URL=postgres://app:hunter2@db/app\n" + "x" * 20000 + "\nSECRET=tail-secret"
    event = store.append("inc-1", "step_finished", step="env", output=output,
                         command="curl -H 'Authorization: Bearer abcdefgh12345678'")
    raw = (tmp_path / "inc-1" / "journal.jsonl").read_text()
    for secret in ("hunter2", "abcdefgh12345678", "tail-secret"):
        assert secret not in raw
    assert event["output_trimmed"] > 0 and "[REDACTED]" in event["output"]
    assert store.read("inc-1") == [event]


WRITER = textwrap.dedent("""
    import sys
    from core.incidents.journal import JournalStore
    store = JournalStore(sys.argv[1], "writer", origin="writer")
    n = 0
    while True:
        store.append("inc-kill", "note", n=n, text="x" * 3000)
        n += 1
""")


def test_sigkill_mid_write_loop_loses_nothing_before(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT)
    path = tmp_path / "inc-kill" / "journal.jsonl"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= 40:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the writer did not write 40 events")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    events = JournalStore(tmp_path, "reader").read("inc-kill")
    numbers = [e["n"] for e in events]
    assert len(numbers) >= 40
    assert numbers == list(range(len(numbers)))  # every event before the kill, in order
    complete_lines = path.read_bytes().count(b"\n")
    assert len(numbers) == complete_lines


def test_huge_output_is_cut_before_redaction_and_counted(tmp_path):
    store = JournalStore(tmp_path, "alice")
    body = "GET /a.b.c-d.e-f " * 400_000  # 6.8 MB of dotted, dashed log text
    output = "PASSWORD=head-secret\n" + body + "\nDB_PASSWORD=tail-secret\n"
    start = time.monotonic()
    event = store.append("inc-1", "step_finished", step="logs", output=output)
    assert time.monotonic() - start < 2.0
    assert "head-secret" not in event["output"] and "tail-secret" not in event["output"]
    assert event["output"].startswith("PASSWORD=[REDACTED]")
    assert event["output"].endswith("DB_PASSWORD=[REDACTED]\n")
    kept = len(event["output"].encode())
    assert kept < J.OUTPUT_LIMIT + 100
    assert abs(event["output_trimmed"] - (len(output.encode()) - J.OUTPUT_LIMIT)) < 64


def test_a_journal_that_is_not_a_file_is_an_error_not_a_hang(tmp_path):
    store = JournalStore(tmp_path, "alice")
    store.append("inc-1", "note", text="fine")
    (tmp_path / "inc-2").mkdir()
    os.mkfifo(tmp_path / "inc-2" / "journal.jsonl")  # reading a pipe would block for ever
    (tmp_path / "inc-3" / "journal.jsonl").mkdir(parents=True)
    assert store.incident_ids() == ["inc-1", "inc-2", "inc-3"]
    for incident_id in ("inc-2", "inc-3"):
        with pytest.raises(OSError, match="not a regular file"):
            store.read(incident_id)
    assert [e["text"] for e in store.read("inc-1")] == ["fine"]


def test_an_incident_whose_first_event_cannot_be_written_leaves_no_directory(
        tmp_path, monkeypatch):
    store = JournalStore(tmp_path, "alice")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(J, "append_line", full)
    with pytest.raises(OSError):
        store.create("inc-1", "detected", rule="disk.full")
    assert not (tmp_path / "inc-1").exists()  # the next attempt can use the same id
