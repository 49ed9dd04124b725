"""Launch A/B: this tree against another revision, alternated, on the lab.

``python -m bench.compare --base REV`` checks REV out in a temporary git
worktree and launches the App (or the Monitor) of each tree in turn,
``--pairs`` times, each in a fresh process running this tree's
``bench/launch_child.py`` with the other tree's packages first on the path.
Alternating puts both under the same machine and load, which on a shared
machine moves more between minutes than most changes do.  Prints the
medians: from start, from process start, first paint, process CPU, and when
each probe's last host answered (which one the launch waited for).  Writes
nothing to RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import ROOT, median

CHILD = ROOT / "bench" / "launch_child.py"
MEASURES = ("from start", "from process start", "first paint", "CPU", "helpers' CPU")
ANSWERED = "answered: "
"""Prefix of the per-probe measures: when the last host's first answer came, from start."""


@contextlib.contextmanager
def worktree(revision: str, where: Path) -> Iterator[Path]:
    """``revision`` checked out at ``where`` (removed afterwards)."""
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(where), revision],
                   cwd=ROOT, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT,
                       check=False)


def launch(tree: Path, mode: str, config: Path, out: Path) -> dict[str, float | None]:
    """One launch of ``tree``'s code; the measures in seconds (None if not reached)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    spawned = time.monotonic()
    subprocess.run([str(common.PYTHON), str(CHILD), "--mode", mode, "--config", str(config),
                    "--out", str(out)], cwd=tree, env=env, timeout=120, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    measures: dict[str, float | None] = common.launch_measures(result, spawned)
    for probe, seconds in (result.get("answered") or {}).items():
        measures[f"{ANSWERED}{probe}"] = seconds
    return measures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="the revision to compare against")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--mode", choices=("app", "monitor"), default="app")
    args = parser.parse_args(argv)
    common.load_lab_env()
    up, missing = common.lab_status()
    if not up:
        print(f"the lab is not up (missing: {', '.join(missing)}): make lab-up", file=sys.stderr)
        return 2
    runs: dict[str, list[dict[str, float | None]]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="warroom-compare-") as scratch:
        work = Path(scratch)
        config = common.write_config(work / "hosts.toml",
                                     common.bench_config(args.hosts, work / "data"))
        with worktree(args.base, work / "base") as base:
            trees = {"base": base, "this": ROOT}
            for tree in trees.values():
                common.compile_bytecode(tree)
            for pair in range(args.pairs):
                order = ("base", "this") if pair % 2 == 0 else ("this", "base")
                for side in order:
                    runs[side].append(launch(trees[side], args.mode, config,
                                             work / f"{side}-{pair}.json"))
                print(f"pair {pair + 1}/{args.pairs}", file=sys.stderr)
    print(f"{args.mode}, {args.hosts} hosts, {args.pairs} alternated pairs, medians "
          f"(base = {args.base}):")
    print(f"{'':20} {'base':>8} {'this':>8} {'change':>8}")
    probes = sorted({m for side in runs.values() for r in side for m in r
                     if m.startswith(ANSWERED)})
    for measure in (*MEASURES, *probes):
        values = {side: [v for r in runs[side] if (v := r[measure]) is not None]
                  for side in runs}
        if not values["base"] or not values["this"]:
            print(f"{measure:20} {'–':>8} {'–':>8}")
            continue
        before, after = median(values["base"]), median(values["this"])
        print(f"{measure:20} {before:7.3f}s {after:7.3f}s {after - before:+7.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
