"""warroom's benchmark against the lab: ``make bench`` (or ``python bench/run.py``).

Measures, in one run, with baselines measured in the same run:

1. launch → every probe field of every host filled (1, 5, 10 hosts), through
   core's Monitor and through the real App headless, each in a fresh process;
2. container killed → ``exited`` in the ContainersTable (headless App, 10 hosts);
3. CPU of the idle live console (real ``warroom`` in tmux, 160x48) over 60 s
   with 10 hosts × 20 idle containers, and time to first screen;
4. log pane ingest from a container printing as fast as it can;
5. baselines: the runbooks' by-hand ``ssh host 'docker ps -a; docker stats
   --no-stream; df -h'`` (10 hosts, serially) and Glances (bench/.venv)
   watching the same containers: its CPU and time to first screen;
6. start-up over a long incident history: the incident desk over 500
   resolved incidents against an empty one, and what replaying them all costs.

Prints the results and, after a full run, rewrites bench/RESULTS.md.
Everything it starts (containers labelled ``warroom-bench=1``, tmux sessions
on a private ``tmux -L`` server, child processes) is removed on exit, Ctrl-C
included.  Traffic goes only to loopback.  ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, report
from bench.common import ENGINES, ROOT, Resources, median

SECTIONS = ("launch", "byhand", "kill", "ingest", "idle", "history")
FIREHOSE_LINE = "2026-11-22T15:00:00Z INFO firehose request handled in 3ms path=/api/orders"
IDLE_CMD = ["sh", "-c", "while :; do sleep 30; done"]
GLANCES_CONF = """[global]
check_update=false
[containers]
disable=False
all=True
max_name_size=20
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Bench:
    """One run: options, scratch dir, what it made, and results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.res = Resources()
        self.work = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
        self.results: dict[str, Any] = {}
        self.env = {k: v for k, v in os.environ.items() if k.startswith("WARROOM_LAB_")}
        self.env["PATH"] = os.environ.get("PATH", "")
        self.env["HOME"] = os.environ.get("HOME", "/root")

    def config(self, n_hosts: int, identity_file: Path | None = None) -> Path:
        path = self.work / f"hosts{n_hosts}{'-' + identity_file.name if identity_file else ''}.toml"
        if not path.exists():
            config = common.bench_config(n_hosts, self.work / "data")
            if identity_file is not None:
                config = common.with_identity(config, identity_file)
            common.write_config(path, config)
        return path

    def child(self, module: str, *args: str, timeout: float = 300) -> dict[str, Any]:
        """Run ``python -m bench.MODULE ARGS --out FILE`` in its own session; its JSON."""
        out = self.work / f"{module}-{time.monotonic_ns()}.json"
        errors = self.work / f"{module}.stderr"
        with errors.open("a") as stderr:
            process = self.res.spawn(
                [str(common.PYTHON), "-m", f"bench.{module}", *args, "--out", str(out)],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
            )
            hung = False
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                hung = True
            finally:
                self.res.stop_process(process)
        if hung and not out.exists():
            return {"error": f"{module} timed out after {timeout:g} s"}
        if not out.exists():
            tail = errors.read_text(errors="replace").strip().splitlines()[-5:]
            return {"error": f"{module} exited {process.returncode}: " + " | ".join(tail)}
        result: dict[str, Any] = json.loads(out.read_text())
        if hung:  # it wrote its results, then did not exit
            result["hung_at_exit"] = True
        return result

    def close(self) -> None:
        self.res.close()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


# -- 1. launch ---------------------------------------------------------------------


RSA_LAUNCH = "app/10 RSA"
"""The launch entry of 10 hosts whose identity is the lab's RSA key (App)."""


def section_launch(bench: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {"teardown": []}
    for n in bench.args.hosts:
        config = bench.config(n)
        for mode in ("monitor", "app"):
            out[f"{mode}/{n}"] = {"runs": [], "errors": []}
        for run in range(bench.args.runs):
            for mode in ("monitor", "app"):
                launch_once(bench, out, f"{mode}/{n}", config, run)
    if 10 in bench.args.hosts and common.RSA_KEY.is_file():
        # the same 10 hosts signing in with an RSA key: the type many operators still
        # use, and by far the slowest to load (over 100 ms of CPU each time)
        config = bench.config(10, common.RSA_KEY)
        out[RSA_LAUNCH] = {"runs": [], "errors": []}
        for run in range(bench.args.runs):
            launch_once(bench, out, RSA_LAUNCH, config, run)
    return out


def launch_once(bench: Bench, out: dict[str, Any], key: str, config: Path, run: int) -> None:
    """One launch of ``key``'s mode (``app/...`` or ``monitor/...``), noted in ``out[key]``."""
    mode = key.split("/")[0]
    spawned = time.monotonic()
    result = bench.child("launch_child", "--mode", mode, "--config", str(config),
                         "--timeout", "30", timeout=80)
    if result.get("teardown_error") or result.get("hung_at_exit"):
        out["teardown"].append(f"{key}: " + (result.get("teardown_error")
                               or "the process did not exit after writing"))
    entry = out[key]
    if "error" in result or result.get("filled") is None:
        entry["errors"].append(result.get("error") or f"not filled: {result}")
        log(f"launch {key} run {run + 1}: FAILED")
        return
    t0 = result["t0"]
    measures = common.launch_measures(result, spawned)
    bad = sorted({f"{h}.{p}={s}" for h, probes in result["probes"].items()
                  for p, s in probes.items() if s not in ("ok", "not configured")})
    entry["runs"].append({
        "filled": result["filled"] - t0,
        "painted": measures["from start"],
        "all_ok": None if result["all_ok"] is None else result["all_ok"] - t0,
        "process": measures["from process start"],
        "first_paint_process": measures["first paint"],
        "imports": measures["imports"],
        "cpu_filled": measures["CPU"],
        "helpers_cpu": measures["helpers' CPU"],
        "answered": result.get("answered") or {},
        "not_ok": bad,
    })
    log(f"launch {key:14} run {run + 1}: "
        f"filled {measures['from start']:.3f} s (process start → filled "
        f"{measures['from process start']:.3f} s)"
        + (f"  not ok: {', '.join(bad)}" if bad else ""))


# -- 5a. by hand -------------------------------------------------------------------


def byhand_command(engine: str) -> str:
    prefix = "" if engine == "A" else f"export DOCKER_HOST=unix://{ENGINES['B']}; "
    return prefix + "docker ps -a; docker stats --no-stream; df -h"


def ssh_once(engine: str) -> tuple[float, int, int]:
    """One by-hand look at a host; (seconds, exit status, output lines)."""
    command = [
        "ssh", "-i", str(common.STATE / "id_lab"),
        "-o", f"UserKnownHostsFile={common.STATE / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-p", str(common.ssh_port()), f"root@{common.SSH_ADDRESS[engine]}",
        byhand_command(engine),
    ]
    start = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return time.monotonic() - start, proc.returncode, len(proc.stdout.splitlines())


def section_byhand(bench: Bench) -> dict[str, Any]:
    per_host: list[float] = []
    loops: list[float] = []
    failures = 0
    n = max(bench.args.hosts)
    for loop in range(bench.args.hand_loops):
        start = time.monotonic()
        for i in range(n):
            seconds, status, _lines = ssh_once("A" if i % 2 == 0 else "B")
            per_host.append(seconds)
            failures += status != 0
        loops.append(time.monotonic() - start)
        log(f"by hand: {n} hosts serially, loop {loop + 1}: {loops[-1]:.2f} s")
    return {"hosts": n, "per_host": per_host, "loops": loops, "failures": failures,
            "command": byhand_command("A")}


# -- 2. kill -----------------------------------------------------------------------


def section_kill(bench: Bench) -> dict[str, Any]:
    n = max(bench.args.hosts)
    cid = bench.res.container(ENGINES["A"], "bench-killme-1", "killme", ["sleep", "1000000"])
    try:
        log(f"kill: {bench.args.kills} kills of bench-killme-1 on engine A, "
            f"console headless with {n} hosts")
        result = bench.child(
            "kill_child", "--config", str(bench.config(n)), "--socket", ENGINES["A"],
            "--container", cid, "--host", "web1", "--kills", str(bench.args.kills),
            timeout=60 + 12 * bench.args.kills,
        )
    finally:
        bench.res.remove_containers([cid])
    result["hosts"] = n
    kills = result.get("kills", [])
    shown = [k["painted"] or k["shown"] for k in kills if k.get("shown") is not None]
    if shown:
        log(f"kill → shown: median {median(shown):.3f} s, p95 {common.p95(shown):.3f} s "
            f"over {len(shown)} kills")
    if result.get("error"):
        log(f"kill: {result['error']}")
    return result


# -- 6. history --------------------------------------------------------------------


def section_history(bench: Bench) -> dict[str, Any]:
    log("history: the incident desk over 500 resolved incidents, against an empty one")
    result = bench.child("history_child", "--incidents", "500", timeout=600)
    if "medians" in result:
        m = result["medians"]
        log(f"history: desk {m['history'] * 1000:.0f} ms (empty {m['empty'] * 1000:.0f} ms, "
            f"replaying it all {m['replay'] * 1000:.0f} ms)")
    return result


# -- 4. ingest ---------------------------------------------------------------------


def section_ingest(bench: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    config = str(bench.config(1))
    seconds = str(bench.args.ingest_seconds)
    cid = bench.res.container(ENGINES["A"], "bench-firehose-1", "firehose",
                              ["yes", FIREHOSE_LINE], log_max_size="50m")
    try:
        time.sleep(1.0)
        common_args = ["--config", config, "--socket", ENGINES["A"], "--container", cid]
        out["raw"] = bench.child("ingest_child", "--mode", "raw", *common_args,
                                 "--seconds", "5", timeout=60)
        log(f"ingest raw (Docker API, no SSH): {out['raw'].get('rate', math.nan):,.0f} lines/s")
        out["core"] = bench.child("ingest_child", "--mode", "core", *common_args,
                                  "--seconds", "5", timeout=60)
        log(f"ingest core (container_log_batches over SSH): "
            f"{out['core'].get('rate', math.nan):,.0f} lines/s")
        out["app"] = bench.child("ingest_child", "--mode", "app", *common_args,
                                 "--seconds", seconds, "--presses", str(bench.args.presses),
                                 timeout=120)
        log(f"ingest app (live firehose → LogView): {out['app'].get('rate', math.nan):,.0f} "
            "lines/s")
        if bench.args.profile:
            out["app_profile"] = str(bench.work / "ingest-app.prof")
            bench.child("ingest_child", "--mode", "app", *common_args, "--seconds", seconds,
                        "--presses", "0", "--profile", out["app_profile"], timeout=120)
    finally:
        bench.res.remove_containers([cid])
    out["replay"] = bench.child("ingest_child", "--mode", "replay", "--config", config,
                                "--container", "replay", "--seconds", seconds,
                                "--presses", str(bench.args.presses), timeout=120)
    log(f"ingest replay (in-memory stream → LogView): "
        f"{out['replay'].get('rate', math.nan):,.0f} lines/s")
    if bench.args.profile:
        out["replay_profile"] = str(bench.work / "ingest-replay.prof")
        bench.child("ingest_child", "--mode", "replay", "--config", config, "--container",
                    "replay", "--seconds", seconds, "--presses", "0",
                    "--profile", out["replay_profile"], timeout=120)
        for key in ("app_profile", "replay_profile"):
            if Path(out[key]).exists():
                out[key.replace("_profile", "_hot")] = report.hot_spots(out[key])
    return out


# -- 3. idle CPU, first screen, and Glances ----------------------------------------


def start_idle_containers(bench: Bench, per_engine: int) -> list[str]:
    jobs = [(socket, f"bench-idle{i:02d}-1", f"idle{i:02d}")
            for socket in ENGINES.values() for i in range(1, per_engine + 1)]

    def start(job: tuple[str, str, str]) -> str:
        return bench.res.container(job[0], job[1], job[2], IDLE_CMD)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(start, jobs))


def window_cpu(groups: dict[str, tuple[list[int], bool]], seconds: float) -> dict[str, Any]:
    """CPU used by each named group of processes over ``seconds`` (``True``: whole trees)."""
    def sample() -> dict[str, float]:
        out = {}
        for name, (pids, tree) in groups.items():
            measure = common.tree_cpu_seconds if tree else common.cpu_seconds
            out[name] = sum(v for v in (measure(p) for p in pids) if not math.isnan(v))
        return out

    start, t0 = sample(), time.monotonic()
    peaks: dict[str, float] = dict.fromkeys(groups, 0.0)
    last, t_last = start, t0
    while time.monotonic() - t0 < seconds:
        time.sleep(max(0.0, min(5.0, seconds - (time.monotonic() - t0))))
        now, t_now = sample(), time.monotonic()
        for name in groups:
            if t_now > t_last:
                peaks[name] = max(peaks[name], (now[name] - last[name]) / (t_now - t_last))
        last, t_last = now, t_now
    elapsed = max(1e-9, t_last - t0)
    result: dict[str, Any] = {"seconds": elapsed}
    for name in groups:
        used = last[name] - start[name]
        result[name] = {"cpu_seconds": used, "percent": 100 * used / elapsed,
                        "peak_5s_percent": 100 * peaks[name]}
    return result


def context_pids() -> dict[str, tuple[list[int], bool]]:
    """The monitored side, for context: both dockerds, and the lab sshds with their sessions."""
    sshd = []
    for name in ("web1", "web2"):
        with contextlib.suppress(OSError, ValueError):
            sshd.append(int((common.STATE / f"sshd-{name}.pid").read_text().strip()))
    return {"dockerd": (common.pids_named("dockerd"), False), "sshd": (sshd, True)}


def first_screen(bench: Bench, name: str, command: list[str], env: dict[str, str],
                 timeout: float = 60) -> tuple[common.TmuxSession, float | None]:
    session = bench.res.session(name, command, 160, 48, env)
    seen = session.wait_for(lambda screen: "bench-idle" in screen, timeout)
    return session, None if seen is None else seen - session.started


def section_idle(bench: Bench) -> dict[str, Any]:
    n = max(bench.args.hosts)
    out: dict[str, Any] = {"per_engine": bench.args.idle_containers, "hosts": n}
    log(f"idle: starting {bench.args.idle_containers} idle containers on each engine")
    ids = start_idle_containers(bench, bench.args.idle_containers)
    try:
        env = dict(bench.env)
        warroom = [str(common.WARROOM), "--config", str(bench.config(n))]
        screens: list[float] = []
        session = None
        for i in range(bench.args.screen_runs):
            session, seen = first_screen(bench, f"warroom-{i}", warroom, env)
            if seen is not None:
                screens.append(seen)
            log(f"warroom first screen run {i + 1}: {seen if seen is None else round(seen, 3)} s")
            if i < bench.args.screen_runs - 1:
                bench.res.end_session(session)
        out["warroom_first_screen"] = screens
        assert session is not None
        filled = session.wait_for(lambda s: "bench-idle" in s and "connecting" not in s, 60)
        out["warroom_filled_screen"] = None if filled is None else filled - session.started
        time.sleep(bench.args.settle)
        cmdline = Path(f"/proc/{session.pid}/cmdline").read_bytes().decode(errors="replace")
        if "warroom" not in cmdline:
            raise RuntimeError(f"tmux pane pid {session.pid} is not warroom: {cmdline!r}")
        log(f"idle: measuring warroom (pid {session.pid}) for {bench.args.cpu_seconds:g} s")
        out["warroom_cpu"] = window_cpu({"warroom": ([session.pid], True), **context_pids()},
                                        bench.args.cpu_seconds)
        out["warroom_rss"] = common.rss_bytes(session.pid)
        out["warroom_helpers_rss"] = sum(common.rss_bytes(p)
                                         for p in common.descendants(session.pid))
        out["warroom_screen"] = session.screen()
        log(f"idle warroom: {out['warroom_cpu']['warroom']['percent']:.2f} % of one core")
        if bench.args.profile:
            out["warroom_hot"] = profile_idle(bench, session.pid)
        bench.res.end_session(session)
        if not bench.args.no_glances:
            out.update(measure_glances(bench))
    finally:
        bench.res.remove_containers(ids)
    return out


def profile_idle(bench: Bench, pid: int, seconds: int = 30) -> dict[str, Any]:
    """Sample the idle console with py-spy (bench/.venv) after the CPU window."""
    pyspy = common.BENCH_VENV / "bin" / "py-spy"
    if not pyspy.exists():
        ensure_bench_venv()
        subprocess.run([str(common.BENCH_VENV / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", "py-spy"], check=False)
    if not pyspy.exists():
        return {"error": "py-spy is not installed in bench/.venv"}
    path = bench.work / "idle.pyspy"
    log(f"idle: sampling warroom with py-spy for {seconds} s")
    proc = subprocess.run([str(pyspy), "record", "--pid", str(pid), "--duration", str(seconds),
                           "--rate", "100", "--format", "raw", "--output", str(path),
                           "--nonblocking"], capture_output=True, text=True, timeout=seconds + 60)
    if not path.exists():
        return {"error": (proc.stderr or proc.stdout).strip()[-300:]}
    return report.pyspy_summary(path.read_text(), seconds)


def ensure_bench_venv() -> None:
    """Create bench/.venv (the baselines' and profilers' own venv) if it is missing."""
    if not (common.BENCH_VENV / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(common.BENCH_VENV)], check=True)


def ensure_glances() -> Path:
    glances = common.BENCH_VENV / "bin" / "glances"
    if glances.exists():
        return glances
    log("creating bench/.venv with Glances (PyPI: glances, docker, python-dateutil)")
    ensure_bench_venv()
    subprocess.run([str(common.BENCH_VENV / "bin" / "pip"), "install", "--quiet",
                    "--disable-pip-version-check", "glances", "docker", "python-dateutil"],
                   check=True)
    return glances


def glances_version(glances: Path) -> str:
    proc = subprocess.run([str(glances), "-V"], capture_output=True, text=True, timeout=60)
    return proc.stdout.splitlines()[0].split()[-1] if proc.stdout else "?"


def measure_glances(bench: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    glances = ensure_glances()
    out["glances_version"] = glances_version(glances)
    conf = bench.work / "glances.conf"
    conf.write_text(GLANCES_CONF)
    command = [str(glances), "-C", str(conf), "--disable-check-update"]
    env_a = dict(bench.env)
    env_b = dict(bench.env, DOCKER_HOST=f"unix://{ENGINES['B']}")
    screens: list[float] = []
    for i in range(bench.args.screen_runs):
        session, seen = first_screen(bench, f"glances-{i}", command, env_a)
        if seen is not None:
            screens.append(seen)
        log(f"glances first screen run {i + 1}: {seen if seen is None else round(seen, 3)} s")
        bench.res.end_session(session)
    out["glances_first_screen"] = screens
    session_a, _ = first_screen(bench, "glances-a", command, env_a)
    session_b, _ = first_screen(bench, "glances-b", command, env_b)
    try:
        time.sleep(bench.args.settle)
        log(f"idle: measuring Glances ×2 (one per engine) for {bench.args.cpu_seconds:g} s")
        out["glances_cpu"] = window_cpu(
            {"glances_a": ([session_a.pid], True), "glances_b": ([session_b.pid], True),
             **context_pids()},
            bench.args.cpu_seconds)
        out["glances_rss"] = common.rss_bytes(session_a.pid) + common.rss_bytes(session_b.pid)
        out["glances_screen"] = session_a.screen()
        cpu = out["glances_cpu"]
        log(f"idle Glances: {cpu['glances_a']['percent']:.2f} % + "
            f"{cpu['glances_b']['percent']:.2f} % of one core")
    finally:
        bench.res.end_session(session_a)
        bench.res.end_session(session_b)
    return out


# -- main --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections ({', '.join(SECTIONS)}); "
                             "RESULTS.md is rewritten only after a full run")
    parser.add_argument("--runs", type=int, default=5, help="launches per host count and mode")
    parser.add_argument("--hosts", default="1,5,10", help="host counts for the launch")
    parser.add_argument("--kills", type=int, default=24, help="container kills (≥ 20 for p95)")
    parser.add_argument("--hand-loops", type=int, default=2, help="by-hand 10-host loops")
    parser.add_argument("--ingest-seconds", type=float, default=10.0)
    parser.add_argument("--presses", type=int, default=20, help="key presses during ingest")
    parser.add_argument("--idle-containers", type=int, default=20, help="per engine")
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds between filled and the CPU window")
    parser.add_argument("--screen-runs", type=int, default=3, help="first-screen launches")
    parser.add_argument("--no-glances", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the ingest path (cProfile, CPU time)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite RESULTS.md")
    args = parser.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    args.hosts = sorted({int(h) for h in args.hosts.split(",")})
    return args


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.load_lab_env()
    up, down = common.lab_status()
    deadline = time.monotonic() + 90
    while not up and time.monotonic() < deadline:  # a test may have broken it for a moment
        log("waiting for the lab: " + "; ".join(" ".join(d.split()[:2]) for d in down))
        time.sleep(5)
        up, down = common.lab_status()
    if not up:
        print("\n".join(down), file=sys.stderr)
        print("bench: the lab is not up (make lab-up)", file=sys.stderr)
        return 2
    for line in down:
        log(f"lab component not up (not needed by the bench, noted): {line}")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    common.compile_bytecode()
    waited, idle = common.wait_until_quiet()
    log(f"the machine was {idle:.0%} idle over 2 s after waiting {waited:.0f} s "
        "(the bench starts once it is at least 85 % idle, or after 90 s)")
    bench = Bench(args)
    started = time.monotonic()
    interrupted = False
    try:
        swept = common.sweep_containers()
        if swept:
            log(f"removed {swept} leftover bench containers")
        bench.results["machine"] = common.machine_info()
        bench.results["machine"]["quiet"] = {"waited": waited, "idle": idle}
        bench.results["lab_down"] = down
        runners = {"launch": section_launch, "byhand": section_byhand, "kill": section_kill,
                   "history": section_history,
                   "ingest": section_ingest, "idle": section_idle}
        for name in SECTIONS:
            if name in args.sections:
                log(f"== {name}")
                load = os.getloadavg()[0]
                bench.results[name] = runners[name](bench)
                bench.results.setdefault("loads", {})[name] = (load, os.getloadavg()[0])
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up")
    finally:
        bench.close()
    bench.results["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    bench.results["total_seconds"] = time.monotonic() - started
    bench.results["options"] = {k: v for k, v in vars(args).items() if k != "sections"}
    text = report.render(bench.results)
    print(text)
    full = set(args.sections) == set(SECTIONS) and not interrupted
    if full and not args.no_write:
        (ROOT / "bench" / "RESULTS.md").write_text(text)
        (ROOT / "bench" / "results.json").write_text(
            json.dumps(bench.results, indent=1, default=str) + "\n")
        log("wrote bench/RESULTS.md and bench/results.json")
    elif not args.no_write:
        log("partial run: bench/RESULTS.md left as it was")
    log(f"total {bench.results['total_seconds']:.0f} s")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
