"""Start-up against a long incident history (run by bench/run.py in a fresh process).

Writes ``--incidents`` resolved incidents with the real tracker (each one
detected, acknowledged, noted 14 times, given a report field, recovered and
resolved: 19 events), then times, ``--repeats`` times each:

* ``empty``: the console's incident desk (``IncidentDesk(config)``) over an
  empty journal directory: the baseline;
* ``history``: the same desk over the history;
* ``replay``: replaying that whole history (``incidents(include_resolved=True)``
  on a fresh desk): what every start paid before resolved incidents were left
  unreplayed until asked for.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from core.config import Config, parse_config
from core.incidents.desk import IncidentDesk
from core.incidents.journal import JournalStore
from core.incidents.model import Finding
from core.incidents.tracker import IncidentTracker

T0 = 1_790_000_000.0


def write_history(root: Path, count: int) -> int:
    """``count`` resolved incidents under ``root``; the bytes written."""
    tracker = IncidentTracker(JournalStore(root, "bench"))
    at = T0
    for n in range(count):
        finding = Finding(rule="disk.full", host=f"web{n % 10 + 1}", subject=f"/data{n}",
                          severity=1, title=f"/data{n} full", summary="95 % used",
                          evidence={"used_percent": 95.0}, signal="disk.full",
                          slug=f"disk-data{n}", since=at)
        incident = tracker.observe([finding], now=at)[0]["incident"]
        tracker.acknowledge(incident)
        for k in range(8):
            tracker.note(incident, f"looked at the volume, pass {k}: " + "details " * 25)
        for k in range(6):
            tracker.note(incident, f"step note {k}", step=f"step-{k}")
        tracker.set_report_fields(incident, impact="none")
        tracker.observe([], recovered=[finding.key], now=at + 60)
        tracker.resolve(incident)
        at += 3600
    return sum(p.stat().st_size for p in root.glob("*/journal.jsonl"))


def desk_config(work: Path, journals: Path) -> Config:
    return parse_config(f'[settings]\ndata_dir = "{work / "data"}"\n'
                        f'journal_dir = "{journals}"\n'
                        '[[hosts]]\nname = "web1"\ntransport = "local"\n')


def timed(action: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warroom-history-") as scratch:
        work = Path(scratch)
        empty, history = work / "empty", work / "history"
        empty.mkdir()
        size = write_history(history, args.incidents)
        empty_config, history_config = desk_config(work, empty), desk_config(work, history)
        result = {
            "incidents": args.incidents,
            "events_per_incident": len(  # (each incident writes the same story)
                next(history.glob("*/journal.jsonl")).read_bytes().splitlines()),
            "bytes": size,
            "empty": timed(lambda: IncidentDesk(empty_config), args.repeats),
            "history": timed(lambda: IncidentDesk(history_config), args.repeats),
            "replay": timed(
                lambda: IncidentDesk(history_config).incidents(include_resolved=True),
                args.repeats),
        }
        result["medians"] = {k: statistics.median(result[k])
                             for k in ("empty", "history", "replay")}
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
