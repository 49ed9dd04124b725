"""Pairing: two consoles on one journal directory see each other's events within 2 s."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core.incidents.journal import JournalStore
from core.incidents.watcher import JournalWatcher

ROOT = Path(__file__).resolve().parents[2]


def test_two_watchers_see_each_others_events_not_their_own(tmp_path):
    alice = JournalStore(tmp_path, "alice")
    bob = JournalStore(tmp_path, "bob")
    alice.append("inc-1", "detected", rule="disk.full")
    wa = JournalWatcher(tmp_path, origin=alice.origin)
    wb = JournalWatcher(tmp_path, origin=bob.origin)
    assert wa.poll() == [] and wb.poll() == []  # existing events are not "new"

    ack = alice.append("inc-1", "acknowledged")
    assert wb.poll() == [ack]
    assert wa.poll() == []
    note = bob.append("inc-1", "note", text="on it")
    step = bob.append("inc-1", "step_started", step="logs", command="docker logs api")
    assert wa.poll() == [note, step]
    assert wb.poll() == []
    assert wa.poll() == [] and wb.poll() == []  # offsets moved on


def test_new_incidents_are_read_from_their_start(tmp_path):
    watcher = JournalWatcher(tmp_path, origin="me")
    other = JournalStore(tmp_path, "bob")
    a = other.append("inc-2", "detected", rule="host.unreachable")
    b = other.append("inc-2", "note", text="x")
    assert watcher.poll() == [a, b]


def test_a_line_still_being_written_waits_for_its_newline(tmp_path):
    store = JournalStore(tmp_path, "bob")
    store.append("inc-1", "detected")
    watcher = JournalWatcher(tmp_path, origin="me")
    event = store.event("inc-1", "note", text="half")
    line = json.dumps(event).encode() + b"\n"
    path = tmp_path / "inc-1" / "journal.jsonl"
    with path.open("ab") as fh:
        fh.write(line[:20])
    assert watcher.poll() == []
    with path.open("ab") as fh:
        fh.write(line[20:])
    assert watcher.poll() == [event]


def test_a_line_half_written_when_the_watcher_starts_is_read_once_complete(tmp_path):
    store = JournalStore(tmp_path, "bob")
    store.append("inc-1", "detected")
    event = store.event("inc-1", "note", text="half")
    line = json.dumps(event).encode() + b"\n"
    path = tmp_path / "inc-1" / "journal.jsonl"
    with path.open("ab") as fh:
        fh.write(line[:20])
    watcher = JournalWatcher(tmp_path, origin="me")  # starts at the end of the complete lines
    assert watcher.poll() == []
    with path.open("ab") as fh:
        fh.write(line[20:])
    assert watcher.poll() == [event]


async def test_async_watch_yields_batches(tmp_path):
    store = JournalStore(tmp_path, "bob")
    watcher = JournalWatcher(tmp_path, origin="me", interval=0.05)

    async def first_batch():
        async for batch in watcher.watch():
            return batch
        return []

    task = asyncio.create_task(first_batch())
    await asyncio.sleep(0.1)
    event = store.append("inc-1", "note", text="hi")
    assert await asyncio.wait_for(task, 2) == [event]


PARTNER = textwrap.dedent("""
    import sys, time
    from core.incidents.journal import JournalStore
    from core.incidents.watcher import JournalWatcher
    store = JournalStore(sys.argv[1], "bob")
    watcher = JournalWatcher(sys.argv[1], origin=store.origin, interval=0.25)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for event in watcher.poll():
            if event["type"] == "step_finished":
                store.append(event["incident"], "note", text="saw " + event["step"])
                print("saw", event["step"], event["operator"], flush=True)
                sys.exit(0)
        time.sleep(0.25)
    sys.exit(1)
""")


def test_two_processes_see_each_other_within_two_seconds(tmp_path):
    alice = JournalStore(tmp_path, "alice")
    alice.append("inc-1", "detected", rule="container.exited")
    partner = subprocess.Popen([sys.executable, "-c", PARTNER, str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert partner.stdout is not None
        assert partner.stdout.readline().strip() == "ready"
        watcher = JournalWatcher(tmp_path, origin=alice.origin, interval=0.25)
        start = time.monotonic()
        alice.append("inc-1", "step_finished", step="logs", exit_status=0, output="ok")
        seen = []
        while time.monotonic() - start < 2.0 and not seen:
            seen = [e for e in watcher.poll() if e["type"] == "note"]
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        assert seen, "the partner's note did not arrive within 2 s"
        assert seen[0]["text"] == "saw logs" and seen[0]["operator"] == "bob"
        assert elapsed < 2.0
        assert partner.stdout.readline().strip() == "saw logs alice"
        assert partner.wait(5) == 0
    finally:
        if partner.poll() is None:
            partner.kill()
            partner.wait()


def test_journals_that_cannot_be_read_are_passed_over(tmp_path):
    store = JournalStore(tmp_path, "bob")
    (tmp_path / "inc-9").mkdir()
    os.mkfifo(tmp_path / "inc-9" / "journal.jsonl")
    (tmp_path / "inc-8" / "journal.jsonl").mkdir(parents=True)
    watcher = JournalWatcher(tmp_path, origin="me")  # neither hangs nor raises
    event = store.append("inc-1", "detected")
    assert watcher.poll() == [event]
