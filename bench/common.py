"""Shared pieces of the benchmarks: lab paths, bench configs, Docker, tmux, /proc, statistics.

Everything here talks only to loopback: the lab's sshd hosts (127.0.0.2/3),
its two Docker engines (unix sockets) and tmux.  Containers the bench makes
carry the label ``warroom-bench=1`` (and the compose labels of project
``bench``), so :func:`sweep_containers` can remove leftovers of a run that
was killed hard.
"""

from __future__ import annotations

import compileall
import contextlib
import copy
import json
import math
import os
import platform
import re
import shlex
import subprocess
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import tomli_w

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "lab"
STATE = LAB / ".state"
LAB_CONFIG = LAB / "warroom.toml"
PYTHON = ROOT / ".venv" / "bin" / "python"
WARROOM = ROOT / ".venv" / "bin" / "warroom"
BENCH_VENV = ROOT / "bench" / ".venv"

IMAGE = "warroom-lab/busybox:1"
ENGINES = {"A": "/var/run/docker.sock", "B": "/run/warroom-lab/docker-b.sock"}
SSH_ADDRESS = {"A": "127.0.0.2", "B": "127.0.0.3"}
BENCH_LABEL = "warroom-bench"
BENCH_PROJECT = "bench"
SHARED_PROBES = ("postgres", "tls", "certs", "backup", "disks")
"""Probe settings of lab host web1 that every bench host gets, so every pane has work."""


# -- lab ---------------------------------------------------------------------------


PACKAGES = ("core", "tui", "widgets", "themes")


def compile_bytecode(tree: Path = ROOT) -> None:
    """Compile ``tree``'s packages to bytecode, as an install leaves them.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, a launch would otherwise compile
    every module from source and the bench would time the compiler.
    """
    for package in PACKAGES:
        compileall.compile_dir(str(tree / package), quiet=1)


def load_lab_env() -> None:
    """Put lab/.state/env's variables (the lab's secrets) into os.environ if missing."""
    env_file = STATE / "env"
    if not env_file.is_file():
        return
    for line in env_file.read_text().splitlines():
        match = re.match(r"\s*export\s+([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match and match.group(1) not in os.environ:
            value = shlex.split(match.group(2))
            os.environ[match.group(1)] = value[0] if value else ""


def ssh_port() -> int:
    """The lab sshd port (22, or 2222 when :22 was taken)."""
    try:
        return int((STATE / "ssh" / "port").read_text().strip())
    except (OSError, ValueError):
        return 22


ESSENTIAL = ("docker-a", "docker-b", "web1", "web2", "postgres", "s3")
"""Lab components the bench cannot run without (a lab container a test has just
stopped is only noted: the bench's numbers do not depend on it)."""


def lab_status() -> tuple[bool, list[str]]:
    """(every essential component up, the lines of ``lab/lab.sh status`` not up)."""
    proc = subprocess.run(
        ["bash", str(LAB / "lab.sh"), "status"], capture_output=True, text=True, timeout=60
    )
    down = [line for line in proc.stdout.splitlines() if line.split()[1:2] != ["up"]]
    essential_down = [line for line in down if line.split()[0] in ESSENTIAL]
    return not essential_down and bool(proc.stdout.strip()), down


def bench_config(
    n_hosts: int, data_dir: Path, refresh_seconds: float | None = None
) -> dict[str, Any]:
    """A config of ``n_hosts`` hosts alternating between the lab's two sshd hosts.

    Host i (web1..webN) is a separate SSH connection to 127.0.0.2 (engine A,
    project shop) when i is odd and 127.0.0.3 (engine B, project blog) when
    even.  Every host gets web1's PostgreSQL, TLS, certificate-file, backup
    and disk settings, so every pane of every host does real work.
    """
    lab = tomllib.loads(LAB_CONFIG.read_text())
    hosts = {h["name"]: h for h in lab["hosts"]}
    web1, web2 = hosts["web1"], hosts["web2"]
    shared = {k: v for k, v in web1.items() if k in SHARED_PROBES}
    entries = []
    for i in range(n_hosts):
        entry = copy.deepcopy(web1 if i % 2 == 0 else web2)
        entry["name"] = f"web{i + 1}"
        for key, value in shared.items():
            entry.setdefault(key, copy.deepcopy(value))
        entries.append(entry)
    settings = dict(lab.get("settings", {}))
    settings["data_dir"] = str(data_dir)
    if refresh_seconds is not None:
        settings["refresh_seconds"] = refresh_seconds
    return {"settings": settings, "hosts": entries}


def cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU ticks since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def wait_until_quiet(idle_share: float = 0.85, window: float = 2.0,
                     longest: float = 90.0) -> tuple[float, float]:
    """Wait until the machine was at least ``idle_share`` idle over a ``window``-second
    sample (what ``make lab-up`` and ``make install`` just started has settled), for
    at most ``longest`` seconds; returns (seconds waited, idle share of the last sample)."""
    started = time.monotonic()
    while True:
        busy0, total0 = cpu_times()
        time.sleep(window)
        busy1, total1 = cpu_times()
        idle = 1 - (busy1 - busy0) / max(1, total1 - total0)
        waited = time.monotonic() - started
        if idle >= idle_share or waited >= longest:
            return waited, idle


RSA_KEY = STATE / "id_lab_rsa"
"""The lab's RSA-3072 client key (the lab authorizes it besides its ed25519 key)."""


def with_identity(config: dict[str, Any], identity_file: Path) -> dict[str, Any]:
    """``config`` (from :func:`bench_config`) with every host authenticating with
    ``identity_file``."""
    hosts = [{**host, "identity_file": str(identity_file)} for host in config["hosts"]]
    return {**config, "hosts": hosts}


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a config dict as TOML; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by bench/run.py\n" + tomli_w.dumps(config))
    return path


# -- launches ----------------------------------------------------------------------


def launch_measures(result: dict[str, Any], spawned: float) -> dict[str, Any]:
    """Seconds of one ``launch_child`` run: ``from start`` (App or Monitor created →
    filled, up to the next screen refresh for the App), ``from process start``
    (from ``spawned``, the parent's monotonic time before it started the
    child), ``first paint`` (App, from process start), ``CPU`` (the child's,
    from start to filled), ``helpers' CPU`` (its helper processes' at that
    moment, from their start), and ``imports``; None where not reached."""
    end = result.get("painted") or result.get("filled")
    paint = result.get("first_paint")
    return {
        "from start": None if end is None else end - result["t0"],
        "from process start": None if end is None else end - spawned,
        "first paint": None if paint is None else paint - spawned,
        "CPU": result.get("cpu_filled"),
        "helpers' CPU": result.get("helpers_cpu"),
        "imports": result["imported"] - result["process"],
    }


# -- statistics --------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is missing or b is 0."""
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


# -- machine -----------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    model = "-"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    docker = "-"
    with contextlib.suppress(Exception), Docker(ENGINES["A"]) as engine:
        info = engine.get("/version")
        docker = f"{info.get('Version', '?')} (API {info.get('ApiVersion', '?')})"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": nproc,
        "cpu": model,
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "textual": _version("textual"),
        "rich": _version("rich"),
        "asyncssh": _version("asyncssh"),
        "docker": docker,
        "tmux": subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip(),
        "load": load,
    }


# -- docker ------------------------------------------------------------------------


class Docker:
    """A small synchronous Engine API client over a unix socket (the bench's own containers)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket
        self.client = httpx.Client(
            transport=httpx.HTTPTransport(uds=socket), base_url="http://docker", timeout=60
        )

    def __enter__(self) -> Docker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
        response = self.client.post(path, params=params, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"docker {path}: {response.status_code} {response.text.strip()}")
        return response.json() if response.content else None

    def create(
        self,
        name: str,
        service: str,
        cmd: Sequence[str],
        *,
        log_max_size: str = "5m",
        start: bool = True,
    ) -> str:
        """Create (and start) a container of project ``bench``; returns its full id."""
        labels = {
            BENCH_LABEL: "1",
            "com.docker.compose.project": BENCH_PROJECT,
            "com.docker.compose.service": service,
            "com.docker.compose.oneoff": "False",
            "com.docker.compose.container-number": "1",
            "com.docker.compose.project.working_dir": f"/srv/{BENCH_PROJECT}",
            "com.docker.compose.project.config_files": f"/srv/{BENCH_PROJECT}/docker-compose.yml",
        }
        body = {
            "Image": IMAGE,
            "Cmd": list(cmd),
            "Labels": labels,
            "HostConfig": {
                "NetworkMode": "none",
                "RestartPolicy": {"Name": "no"},
                "LogConfig": {
                    "Type": "json-file",
                    "Config": {"max-size": log_max_size, "max-file": "2"},
                },
            },
        }
        created = self.post("/containers/create", {"name": name}, body)
        cid = str(created["Id"])
        if start:
            self.start(cid)
        return cid

    def start(self, cid: str) -> None:
        self.post(f"/containers/{cid}/start")

    def kill(self, cid: str) -> None:
        self.post(f"/containers/{cid}/kill")

    def remove(self, cid: str) -> None:
        response = self.client.delete(f"/containers/{cid}", params={"force": "1", "v": "1"})
        if response.status_code not in (204, 404):
            raise RuntimeError(f"docker rm {cid[:12]}: {response.status_code} {response.text}")

    def bench_containers(self) -> list[str]:
        filters = json.dumps({"label": [f"{BENCH_LABEL}=1"]})
        listing = self.get("/containers/json", {"all": "1", "filters": filters})
        return [str(c["Id"]) for c in listing]

    def state(self, cid: str) -> str:
        return str(self.get(f"/containers/{cid}/json")["State"]["Status"])


def sweep_containers() -> int:
    """Remove every container labelled ``warroom-bench=1`` on both engines; returns how many."""
    removed = 0
    for socket in ENGINES.values():
        with contextlib.suppress(Exception), Docker(socket) as engine:
            for cid in engine.bench_containers():
                with contextlib.suppress(Exception):
                    engine.remove(cid)
                    removed += 1
    return removed


# -- tmux --------------------------------------------------------------------------


TMUX_SOCKET = f"warroom-bench-{os.getpid()}"
"""A private tmux server (``tmux -L``), so the bench never touches anyone else's sessions."""


def tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", TMUX_SOCKET, *args], capture_output=True, text=True, check=check, timeout=20
    )


class TmuxSession:
    """One detached session on the bench's private tmux server, running one command."""

    def __init__(self, name: str, command: Sequence[str], width: int = 160, height: int = 48,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        env_args: list[str] = []
        for key, value in (env or {}).items():
            env_args += ["-e", f"{key}={value}"]
        tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
             *env_args, "-c", str(ROOT), "exec " + shlex.join(command), check=True)
        self.started = time.monotonic()
        pane = tmux("display-message", "-p", "-t", name, "#{pane_pid}").stdout.strip()
        self.pid = int(pane) if pane.isdigit() else 0

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def alive(self) -> bool:
        return tmux("has-session", "-t", self.name).returncode == 0

    def wait_for(self, predicate: Any, timeout: float, interval: float = 0.02) -> float | None:
        """Poll the screen until ``predicate(screen)``; the monotonic time it held, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.screen()):
                return time.monotonic()
            time.sleep(interval)
        return None

    def kill(self) -> None:
        tmux("kill-session", "-t", self.name)


def tmux_server_down() -> None:
    """Stop the bench's private tmux server (only ours: ``-L`` with this run's name)."""
    tmux("kill-server")
    with contextlib.suppress(OSError):
        (Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / TMUX_SOCKET).unlink()


# -- /proc -------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from "state" (field 3) on


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (every thread), plus what its reaped children used."""
    fields = _stat_fields(pid)
    if fields is None:
        return math.nan
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / CLK_TCK


def children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree = children_of()
    out: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(tree.get(child, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant."""
    total = cpu_seconds(pid)
    for child in descendants(pid):
        value = cpu_seconds(child)
        if not math.isnan(value):
            total += value
    return total


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (default: this one)."""
    status = Path(f"/proc/{pid or os.getpid()}/status")
    with contextlib.suppress(OSError):
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pids_named(name: str, cmd_contains: str = "") -> list[int]:
    """Processes whose comm is ``name`` (and whose command line contains ``cmd_contains``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != name:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if cmd_contains in cmdline:
                found.append(int(entry.name))
    return found


# -- resources ---------------------------------------------------------------------


@dataclass
class Resources:
    """What a bench run made and must undo: containers, tmux sessions, child processes."""

    containers: list[tuple[str, str]] = field(default_factory=list)  # (socket, id)
    sessions: list[TmuxSession] = field(default_factory=list)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def container(self, socket: str, name: str, service: str, cmd: Sequence[str],
                  **kwargs: Any) -> str:
        with Docker(socket) as engine:
            with contextlib.suppress(Exception):
                engine.remove(name)  # a leftover of the same name
            cid = engine.create(name, service, cmd, **kwargs)
        self.containers.append((socket, cid))
        return cid

    def remove_containers(self, ids: Iterable[str] | None = None) -> None:
        wanted = set(ids) if ids is not None else None
        keep = []
        by_socket: dict[str, list[str]] = {}
        for socket, cid in self.containers:
            if wanted is None or cid in wanted:
                by_socket.setdefault(socket, []).append(cid)
            else:
                keep.append((socket, cid))
        for socket, cids in by_socket.items():
            with contextlib.suppress(Exception), Docker(socket) as engine:
                for cid in cids:
                    with contextlib.suppress(Exception):
                        engine.remove(cid)
        self.containers = keep

    def session(self, *args: Any, **kwargs: Any) -> TmuxSession:
        session = TmuxSession(*args, **kwargs)
        self.sessions.append(session)
        return session

    def end_session(self, session: TmuxSession, timeout: float = 5.0) -> None:
        """Kill the session and wait (bounded) for its process to be gone."""
        session.kill()
        deadline = time.monotonic() + timeout
        while session.pid and _stat_fields(session.pid) is not None:
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.kill(session.pid, 9)
                break
            time.sleep(0.05)
        if session in self.sessions:
            self.sessions.remove(session)

    def spawn(self, command: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(list(command), start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def stop_process(self, process: subprocess.Popen[Any]) -> None:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        if process in self.processes:
            self.processes.remove(process)

    def close(self) -> None:
        for process in list(self.processes):
            self.stop_process(process)
        for session in list(self.sessions):
            self.end_session(session)
        tmux_server_down()
        self.remove_containers()
        sweep_containers()


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    start = time.monotonic()
    try:
        yield out
    finally:
        out.append(time.monotonic() - start)
