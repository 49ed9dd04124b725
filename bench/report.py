"""Turn one bench run's results into bench/RESULTS.md (Markdown), and profiles into hot spots."""

from __future__ import annotations

import math
import pstats
from typing import Any

from bench.common import median, p95, ratio

TARGETS = {
    "launch": 1.0,  # s, 10 hosts
    "kill_p95": 1.0,  # s
    "idle_cpu": 3.0,  # % of one core
    "ingest": 50_000.0,  # lines/s
    "key_p95": 0.100,  # s
}


def _s(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f} s"


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 1000:.0f} ms"


def _x(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}×"


def _pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.2f} %"


def _mib(value: float | None) -> str:
    return "–" if not value else f"{value / 2**20:.0f} MiB"


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def _values(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in runs if r.get(key) is not None]


def hot_spots(path: str, top: int = 20) -> list[dict[str, Any]]:
    """The functions with the most own CPU time in a cProfile dump."""
    stats = pstats.Stats(path)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    rows = []
    for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        short = file.split("site-packages/")[-1].split("/work/main/")[-1]
        rows.append({"function": f"{short}:{line}({name})", "calls": ncalls,
                     "own": tottime, "cum": cumtime, "share": 100 * tottime / total})
    rows.sort(key=lambda r: r["own"], reverse=True)
    return rows[:top]


CATEGORIES = (
    ("containers: one-shot stats", "ContainersProbe._fetch_stats"),
    ("containers: inspect", "ContainersProbe._refresh_one"),
    ("containers: list", "ContainersProbe._sync"),
    ("containers: events", "ContainersProbe.watch"),
    ("docker system df", "DockerDfProbe"),
    ("certs (TLS handshakes, files)", "CertsProbe"),
    ("endpoints (HTTP)", "EndpointsProbe"),
    ("backups (S3, thread)", "BackupsProbe"),
    ("disk", "DiskProbe"),
    ("system", "SystemProbe"),
    ("postgres", "PostgresProbe"),
    ("SSH packets (asyncssh)", "asyncssh/connection.py"),
    ("UI: state → widgets (on_host_state_changed)", "on_host_state_changed"),
    ("UI: incidents", "show_incidents"),
    ("UI: Textual render/compositor", "textual/_compositor.py"),
)
"""(label, substring of a py-spy frame) groups for the idle profile."""


def pyspy_summary(raw: str, seconds: float, top: int = 25) -> dict[str, Any]:
    """Own (leaf) and inclusive samples per function from py-spy's raw (collapsed) output.

    py-spy leaves out samples of threads it sees idle; ``main`` counts the
    samples of the console's main thread (the event loop), whose stacks start
    at ``tui.cli``.
    """
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    categories: dict[str, int] = {label: 0 for label, _ in CATEGORIES}
    total = main = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        if "cmd_console" in stack:
            main += n
        frames = [f.replace("/work/main/", "").split("site-packages/")[-1]
                  for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        for label, needle in CATEGORIES:
            if needle in stack:
                categories[label] += n
    ours = {f: n for f, n in inclusive.items()
            if any(f"({p}" in f for p in ("core/", "widgets/", "tui/"))}
    return {
        "samples": total,
        "main": main,
        "seconds": seconds,
        "categories": sorted(categories.items(), key=lambda kv: kv[1], reverse=True),
        "own": sorted(own.items(), key=lambda kv: kv[1], reverse=True)[:top],
        "ours": sorted(ours.items(), key=lambda kv: kv[1], reverse=True)[:top],
        "inclusive": sorted(inclusive.items(), key=lambda kv: kv[1], reverse=True)[:top],
    }


# -- sections -----------------------------------------------------------------------


def _launch(results: dict[str, Any], summary: list[str], lines: list[str]) -> float:
    launch = results.get("launch")
    if not launch:
        return math.nan
    lines += [
        "## 1. Launch → every pane of every host filled",
        "",
        "Each launch is a fresh process (`python -m bench.launch_child`). *from start*: from "
        "the moment the Fleet/App is created (imports done) until every probe field of every "
        "host's HostState is non-None — for the App, as the dashboard received it, up to the "
        "next screen refresh. *from process start*: the same end, counted from spawning the "
        "interpreter (imports included): what a user who starts `warroom` waits. *first "
        "paint*: the App's first screen, from process start. *all OK*: until every probe "
        "also reported OK. *CPU*: the process's CPU time (every thread) from start to filled: "
        "near *from start*, the launch is bound by this process's one core (the GIL). "
        "*helpers' CPU*: the CPU time of its helper processes (the console-checks worker, which "
        "makes the S3, HTTP and TLS checks and the PostgreSQL queries, and imports boto3, httpx "
        "and psycopg) from their start to the same moment; it runs on the other core.",
        "",
        "| hosts | path | runs | from start, median | p95 | from process start, median "
        "| p95 | first paint, median | all OK, median | CPU, median | helpers' CPU, median "
        "| imports | probes not OK at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    app10 = math.nan
    for key, entry in launch.items():
        if "/" not in key:
            continue
        mode, n = key.split("/")
        runs = entry["runs"]
        painted = _values(runs, "painted")
        bad = sorted({b for r in runs for b in r["not_ok"]})
        path = "Monitor (core)" if mode == "monitor" else "App headless"
        if n.endswith(" RSA"):
            n, path = n.removesuffix(" RSA"), path + ", RSA-3072 key"
        lines.append(
            f"| {n} | {path} | {len(runs)}"
            + (f" ({len(entry['errors'])} failed)" if entry["errors"] else "")
            + f" | {_s(median(painted))} | {_s(p95(painted))} "
            f"| {_s(median(_values(runs, 'process')))} | {_s(p95(_values(runs, 'process')))} "
            f"| {_s(median(_values(runs, 'first_paint_process')))} "
            f"| {_s(median(_values(runs, 'all_ok')))} "
            f"| {_s(median(_values(runs, 'cpu_filled')))} "
            f"| {_s(median(_values(runs, 'helpers_cpu')))} "
            f"| {_s(median(_values(runs, 'imports')))} | {', '.join(bad[:6]) or '–'} |"
        )
        if key == "app/10":
            app10 = median(painted)
            ok = None if math.isnan(app10) else app10 <= TARGETS["launch"]
            summary.append(
                f"| launch → all panes filled, 10 hosts (App, headless) | {_s(app10)} "
                f"| {_s(p95(painted))} | ≤ 1 s | {_met(ok)} |")
            process = _values(runs, "process")
            summary.append(
                f"| the same from process start (interpreter and imports included) "
                f"| {_s(median(process))} | {_s(p95(process))} | ≤ 1 s | "
                f"{_met(None if not process else median(process) <= TARGETS['launch'])} |")
        if key == "monitor/10":
            summary.append(
                f"| launch → all probes filled, 10 hosts (Monitor only) | {_s(median(painted))} "
                f"| {_s(p95(painted))} | ≤ 1 s | "
                f"{_met(None if not painted else median(painted) <= TARGETS['launch'])} |")
    lines += _answered(launch)
    errors = [e for key, entry in launch.items() if "/" in key for e in entry["errors"]]
    if errors:
        lines += ["", f"Failed launches ({len(errors)}): "
                  + "; ".join(e.splitlines()[-1][:200] for e in errors[:4])]
    teardown = launch.get("teardown", [])
    if teardown:
        runs = sum(len(e["runs"]) + len(e["errors"]) for k, e in launch.items() if "/" in k)
        lines += ["", f"Shutdown problems after measuring ({len(teardown)} of {runs} launches; "
                  "the measurement itself is kept): "
                  + "; ".join(sorted(set(t[:160] for t in teardown)))]
    lines.append("")
    return app10


def _answered(launch: dict[str, Any]) -> list[str]:
    """When each probe's last host answered, median over the runs of the largest launch."""
    keys = [k for k in launch if "/" in k and launch[k]["runs"] and k.split("/")[1].isdigit()]
    if not keys:
        return []
    largest = max(int(k.split("/")[1]) for k in keys)
    columns = [f"{mode}/{largest}" for mode in ("monitor", "app") if f"{mode}/{largest}" in keys]
    def answered(run: dict[str, Any]) -> dict[str, float]:
        return run.get("answered") or {}  # results.json written before it was measured

    probes = sorted({p for k in columns for r in launch[k]["runs"] for p in answered(r)},
                    key=lambda p: -median([answered(r).get(p, 0.0)
                                           for r in launch[columns[-1]]["runs"]]))
    if not probes:
        return []
    out = ["", f"When each probe's last host answered ({largest} hosts, s from start, median "
           "of the runs; from the results' own timestamps, the slowest first):", "",
           "| probe | " + " | ".join("Monitor" if c.startswith("monitor") else "App"
                                    for c in columns) + " |",
           "|---|" + "---|" * len(columns)]
    for probe in probes:
        cells = [_s(median([answered(r)[probe] for r in launch[c]["runs"]
                            if probe in answered(r)])) for c in columns]
        out.append(f"| {probe} | " + " | ".join(cells) + " |")
    return out


def _byhand(results: dict[str, Any], lines: list[str], app10: float) -> None:
    hand = results.get("byhand")
    if not hand:
        return
    loop = median(hand["loops"])
    lines += [
        "## 5a. Baseline: the runbooks by hand",
        "",
        f"`ssh -i lab/.state/id_lab -o UserKnownHostsFile=lab/.state/known_hosts root@HOST "
        f"'{hand['command']}'` (for engine-B hosts with `DOCKER_HOST` set to its socket). "
        "`docker compose` is not installed in the lab, so `docker ps -a` stands in for "
        "`docker compose ps`. Command time only: no typing, no reading. This gathers "
        "containers, stats and disk; warroom's launch also fills PostgreSQL, TLS, "
        "certificate files, endpoints, backups, system and `docker system df`.",
        "",
        "| what | n | median | p95 |",
        "|---|---|---|---|",
        f"| one host | {len(hand['per_host'])} | {_s(median(hand['per_host']))} "
        f"| {_s(p95(hand['per_host']))} |",
        f"| {hand['hosts']} hosts, one after another | {len(hand['loops'])} | {_s(loop)} "
        f"| {_s(max(hand['loops']) if hand['loops'] else None)} (max) |",
        "",
        f"Ratio, by hand ({hand['hosts']} hosts serially) ÷ warroom launch → filled "
        f"({hand['hosts']} hosts, App): **{_x(ratio(loop, app10))}**."
        + (f" ({hand['failures']} ssh commands failed.)" if hand["failures"] else ""),
        "",
    ]


def _kill(results: dict[str, Any], summary: list[str], lines: list[str]) -> None:
    kill = results.get("kill")
    if not kill:
        return
    kills = kill.get("kills", [])
    painted = [k["painted"] for k in kills if k.get("painted") is not None]
    shown = [k["shown"] for k in kills if k.get("shown") is not None]
    after_api = [k["shown"] - k["api"] for k in kills if k.get("shown") is not None]
    api = [k["api"] for k in kills]
    missed = len(kills) - len(shown)
    ok = None if not painted else p95(painted) <= TARGETS["kill_p95"]
    summary.append(f"| container killed → `exited` on screen (p95 over {len(painted)}) "
                   f"| {_s(median(painted))} | {_s(p95(painted))} | p95 ≤ 1 s | {_met(ok)} |")
    lines += [
        "## 2. Container killed → shown",
        "",
        f"A bench container (`bench-killme-1`, compose project `bench`, restart policy no) on "
        f"engine A is killed through the Engine API {len(kills)} times, at random points of "
        f"the refresh cycle, while the real App runs headless with {kill.get('hosts')} hosts "
        "(web1 on screen). Clock starts when the kill request leaves; *in the table*: the "
        "ContainersTable's state cell reads `exited…`; *on screen*: the next screen refresh "
        "after that.",
        "",
        "| what | n | median | p95 | max |",
        "|---|---|---|---|---|",
        f"| kill → in the table | {len(shown)} | {_s(median(shown))} | {_s(p95(shown))} "
        f"| {_s(max(shown) if shown else None)} |",
        f"| kill → on screen | {len(painted)} | {_s(median(painted))} | {_s(p95(painted))} "
        f"| {_s(max(painted) if painted else None)} |",
        f"| kill API answered → in the table | {len(after_api)} | {_s(median(after_api))} "
        f"| {_s(p95(after_api))} | |",
        f"| the kill API call itself | {len(api)} | {_s(median(api))} | {_s(p95(api))} | |",
        f"| start → `running` in the table | {len(kill.get('starts', []))} "
        f"| {_s(median(kill.get('starts', [])))} | {_s(p95(kill.get('starts', [])))} | |",
        "",
    ]
    if missed or kill.get("error"):
        lines += [f"Not shown: {missed}. {kill.get('error', '')}", ""]


def _ingest(results: dict[str, Any], summary: list[str], lines: list[str]) -> None:
    ingest = results.get("ingest")
    if not ingest:
        return
    lines += [
        "## 4. Log pane ingest",
        "",
        "A container (`bench-firehose-1`, busybox `yes`, json-file log driver) prints as fast "
        "as it can. *raw*: the Engine API log stream read straight from the Docker socket "
        "in 64 KiB reads (no SSH, no parsing beyond the HTTP chunk framing): what Docker "
        "itself delivers. *core*: "
        "`HostProbes.container_log_batches` over SSH, no UI. *App live*: the real App "
        "headless, LogScreen following the container; lines/s folded into the LogView. "
        "*App replay*: the same App and LogScreen fed from an in-memory Docker multiplexed "
        "stream as fast as the event loop takes it — warroom's own ceiling (Demultiplexer, "
        "LogScreen worker, LogView), without dockerd and SSH. Key presses: `space` (follow/"
        "pause) injected as terminal input while lines pour in; *handled*: the LogView's "
        "follow state changed; *on screen*: the next screen refresh after that.",
        "",
        "| path | lines/s | key handled, p95 | key on screen, median | p95 | presses answered "
        "| LogView lines kept / cap | RSS before → max (after) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label in (("raw", "raw Docker API (ceiling of the source)"),
                       ("core", "core over SSH"), ("app", "App live"),
                       ("replay", "App replay (in-memory)")):
        entry = ingest.get(key)
        if not entry:
            continue
        if "error" in entry:
            lines.append(f"| {label} | failed: {entry['error'][:120]} | | | | | | |")
            continue
        presses = entry.get("presses", [])
        handled = [p["handled"] for p in presses if p.get("handled") is not None]
        painted = [p["painted"] for p in presses if p.get("painted") is not None]
        kept = f"{entry['kept']:,} / {entry['max_lines']:,}" if "kept" in entry else "–"
        memory = (f"{_mib(entry.get('rss_before'))} → {_mib(entry.get('rss_max'))} "
                  f"({_mib(entry.get('rss_after'))})") if "rss_before" in entry else "–"
        answered = f"{len(painted)}/{len(presses)}" if presses else "–"
        lines.append(
            f"| {label} | {entry.get('rate', math.nan):,.0f} | {_ms(p95(handled))} "
            f"| {_ms(median(painted))} | {_ms(p95(painted))} | {answered} | {kept} | {memory} |")
        if key in ("app", "replay"):
            rate = entry.get("rate", math.nan)
            summary.append(
                f"| log ingest, {label} | {rate:,.0f} lines/s | | ≥ 50,000 lines/s "
                f"| {_met(rate >= TARGETS['ingest'])} |")
            if presses:
                worst = p95(painted) if len(painted) == len(presses) else math.inf
                shown = _ms(worst) if worst != math.inf else "some never"
                summary.append(
                    f"| key press answered on screen during {label} ingest "
                    f"| {_ms(median(painted))} | {shown} "
                    f"| ≤ 100 ms | {_met(worst <= TARGETS['key_p95'])} |")
    lines.append("")
    for key, label in (("app_hot", "App live"), ("replay_hot", "App replay")):
        hot = ingest.get(key)
        if not hot:
            continue
        lines += [f"Hot spots, {label} (cProfile on CPU time, own time):", "",
                  "| function | calls | own | share | cumulative |", "|---|---|---|---|---|"]
        for row in hot[:12]:
            lines.append(f"| `{row['function']}` | {row['calls']:,} | {row['own']:.3f} s "
                         f"| {row['share']:.1f} % | {row['cum']:.3f} s |")
        lines.append("")


def _idle(results: dict[str, Any], summary: list[str], lines: list[str]) -> None:
    idle = results.get("idle")
    if not idle or "warroom_cpu" not in idle:
        return
    w = idle["warroom_cpu"]
    percent = w["warroom"]["percent"]
    hosts = idle.get("hosts", 10)
    summary.append(f"| idle dashboard CPU, {hosts} hosts × {idle['per_engine']}+ containers, "
                   f"{w['seconds']:.0f} s | {_pct(percent)} | peak 5 s: "
                   f"{_pct(w['warroom']['peak_5s_percent'])} | ≤ 3 % of one core "
                   f"| {_met(percent <= TARGETS['idle_cpu'])} |")
    screens = idle.get("warroom_first_screen", [])
    lines += [
        "## 3. Idle live dashboard: CPU and first screen",
        "",
        f"{idle['per_engine']} idle busybox containers (`sh -c 'while :; do sleep 30; done'`, "
        f"compose project `bench`) on each engine, plus the lab's own (engine A: shop, 5; "
        f"engine B: blog, 3). The real `warroom --config …` ({hosts} hosts: web1..web{hosts} "
        "alternating between the two sshd hosts, each its own SSH connection) runs in a "
        "tmux session sized 160x48; after its screen shows the containers and no host is "
        "connecting, and a settle period, utime+stime from /proc/PID/stat (threads and "
        "children included) over the window. *First screen*: from `tmux new-session` until "
        "`capture-pane` shows a bench container's name.",
        "",
        "| process | CPU over the window (% of one core) | peak 5 s | RSS at the end |",
        "|---|---|---|---|",
        f"| warroom ({hosts} hosts) | {_pct(percent)} | {_pct(w['warroom']['peak_5s_percent'])} "
        f"| {_mib(idle.get('warroom_rss'))} "
        f"(+ {_mib(idle.get('warroom_helpers_rss'))} helpers) |",
        f"| context: both dockerds during the warroom window | {_pct(w['dockerd']['percent'])} "
        "| | |",
        f"| context: lab sshds and all their sessions during the warroom window "
        f"| {_pct(w['sshd']['percent'])} | | |",
    ]
    g = idle.get("glances_cpu")
    g_sum = math.nan
    if g:
        g_sum = g["glances_a"]["percent"] + g["glances_b"]["percent"]
        lines += [
            f"| Glances {idle.get('glances_version', '')} on engine A "
            f"| {_pct(g['glances_a']['percent'])} | {_pct(g['glances_a']['peak_5s_percent'])} "
            f"| {_mib(idle.get('glances_rss'))} (A+B) |",
            f"| Glances on engine B | {_pct(g['glances_b']['percent'])} "
            f"| {_pct(g['glances_b']['peak_5s_percent'])} | |",
            f"| Glances, both | {_pct(g_sum)} | | |",
            f"| context: both dockerds during the Glances window | {_pct(g['dockerd']['percent'])} "
            "| | |",
        ]
    lines += ["", "| first screen | n | median | p95 |", "|---|---|---|---|",
              f"| warroom ({hosts} hosts, over SSH) | {len(screens)} | {_s(median(screens))} "
              f"| {_s(p95(screens))} |"]
    g_screens = idle.get("glances_first_screen", [])
    if g_screens:
        lines.append(f"| Glances (local Docker socket) | {len(g_screens)} "
                     f"| {_s(median(g_screens))} | {_s(p95(g_screens))} |")
    lines.append("")
    if g:
        per_host_w = percent / hosts
        per_engine_g = g_sum / 2
        lines += [
            "Glances runs on the machine it watches and sees one Docker engine, so watching "
            "both engines takes two of them (one per engine, `DOCKER_HOST` for engine B; "
            "config `all=True` so stopped containers show too, update check off; default "
            "2 s refresh — warroom's lab config refreshes every 5 s and gets container "
            "changes pushed by `/events`). It also draws processes, network, disks and sensors.",
            "",
            "| ratio (Glances ÷ warroom) | value |",
            "|---|---|",
            f"| CPU, Glances on 2 engines ÷ warroom on {hosts} hosts "
            f"| {_x(ratio(g_sum, percent))} |",
            f"| CPU per watched engine/host: Glances per engine ÷ warroom per host "
            f"| {_x(ratio(per_engine_g, per_host_w))} |",
            f"| time to first screen | {_x(ratio(median(g_screens), median(screens)))} |",
            "",
        ]
    hot = idle.get("warroom_hot")
    if hot and "samples" in hot:
        main = max(1, hot.get("main", 0))
        lines += [f"py-spy (100 Hz, {hot['seconds']} s) on the idle console right after the "
                  f"window: {hot.get('main', 0)} samples of its event-loop thread "
                  f"({hot['samples']} in all threads). Share of the event-loop samples:", "",
                  "| where (stack contains) | share |", "|---|---|"]
        for label, n in hot.get("categories", []):
            if n:
                lines.append(f"| {label} | {100 * n / main:.1f} % |")
        lines += ["", "| busiest leaf functions, all threads (own samples) | share |",
                  "|---|---|"]
        for frame, n in hot["own"][:12]:
            lines.append(f"| `{frame}` | {100 * n / max(1, hot['samples']):.1f} % |")
        lines.append("")
    if idle.get("warroom_screen"):
        lines += ["<details><summary>warroom's screen at the end of the window</summary>", "",
                  "```", idle["warroom_screen"].rstrip(), "```", "", "</details>", ""]


# -- the document ---------------------------------------------------------------------


def _history(results: dict[str, Any], summary: list[str], lines: list[str]) -> None:
    history = results.get("history")
    if not history or "medians" not in history:
        return
    m = history["medians"]
    n = history["incidents"]
    summary.append(f"| start-up's incident desk over {n} resolved incidents (empty: "
                   f"{_ms(m['empty'])}; replaying them all: {_ms(m['replay'])}) "
                   f"| {_ms(m['history'])} | | – | |")
    lines += [
        "## 6. Start-up over a long incident history",
        "",
        f"{n} resolved incidents of {history['events_per_incident']} events each "
        f"({history['bytes'] / 2**20:.1f} MiB of journals), written by the real tracker "
        "(`bench/history_child.py`, a fresh process). Timed "
        f"{len(history['history'])} times each: the console's incident desk "
        "(`IncidentDesk(config)`, built before the first screen) over an empty journal "
        "directory and over that history, and the same desk replaying the whole history "
        "(`incidents(include_resolved=True)`): what every start paid when resolved "
        "incidents were replayed at start.",
        "",
        "| desk | median | min | max |",
        "|---|---|---|---|",
        *(f"| {label} | {_ms(m[key])} | {_ms(min(history[key]))} | {_ms(max(history[key]))} |"
          for key, label in (("empty", "empty journal directory"),
                             ("history", f"{n} resolved incidents"),
                             ("replay", f"{n} resolved incidents, all replayed"))),
        "",
        f"Ratio, replaying them all ÷ start-up over them: "
        f"**{_x(ratio(m['replay'], m['history']))}**.",
        "",
    ]


def render(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    summary: list[str] = [
        "| measurement | median / value | p95 | target | met |",
        "|---|---|---|---|---|",
    ]
    body: list[str] = []
    app10 = _launch(results, summary, body)
    _kill(results, summary, body)
    _idle(results, summary, body)
    _ingest(results, summary, body)
    _byhand(results, body, app10)
    _history(results, summary, body)
    total = results.get("total_seconds", math.nan)
    head = [
        "# warroom benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`) against the lab (`make lab-up`); every "
        "baseline and ratio below comes from the same run. Not a test: numbers depend on the "
        "machine and on what else runs on it.",
        "",
        f"Run: {machine.get('date', '?')}, whole bench {total / 60:.1f} min.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {machine.get('cpu', '?')}, nproc {machine.get('nproc', '?')} |",
        f"| RAM | {machine.get('ram', '?')} |",
        f"| kernel | {machine.get('kernel', '?')} |",
        f"| Python / Textual / Rich / asyncssh | {machine.get('python', '?')} / "
        f"{machine.get('textual', '?')} / {machine.get('rich', '?')} / "
        f"{machine.get('asyncssh', '?')} |",
        f"| Docker / tmux | {machine.get('docker', '?')} / {machine.get('tmux', '?')} |",
        f"| load average at start → end | {machine.get('load', '?')} → "
        f"{results.get('load_end', '?')} |",
        *([f"| waited for a quiet machine | {machine['quiet']['waited']:.0f} s, then "
           f"{machine['quiet']['idle']:.0%} idle over 2 s |"] if machine.get("quiet") else []),
        "",
        *([("1-min load average at the start → end of each section: " + ", ".join(
            f"{k} {a:.1f} → {b:.1f}" for k, (a, b) in results["loads"].items())
            + " (2 cores: above 2, processes wait for a CPU)."), ""]
          if results.get("loads") else []),
        *([f"Lab components not up at the start (a test was breaking them on purpose): "
           f"{'; '.join(' '.join(d.split()) for d in results['lab_down'])}.", ""]
          if results.get("lab_down") else []),
        "Hosts: the lab has two sshd hosts (127.0.0.2 → Docker engine A, project shop; "
        "127.0.0.3 → engine B, project blog). *N hosts* is a config of N entries web1..webN "
        "alternating between the two addresses, each its own SSH connection, each with the "
        "lab's PostgreSQL (through its tunnel), TLS endpoints, certificate files, backups "
        "bucket and disk — so every pane of every host has work to do.",
        "",
        "## Summary",
        "",
        *summary,
        "",
    ]
    return "\n".join(head + body) + "\n"
