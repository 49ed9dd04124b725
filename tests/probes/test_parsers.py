"""Pure parsers of the probes, fed with text captured from real hosts and engines."""

from __future__ import annotations

import datetime as dt
import json
import math
import struct

import pytest

from core.config import EndpointConfig
from core.probes.backups import backup_state
from core.probes.base import split_sections
from core.probes.certs import files_command, glob_quote, parse_files_output
from core.probes.disk import build_disk_state, disk_command, parse_du
from core.probes.dockerapi import negotiate
from core.probes.dockerdf import parse_system_df
from core.probes.dockerparse import (
    apply_event,
    container_from_inspect,
    cpu_percent,
    cpu_sample,
    event_action,
    list_signature,
    memory_usage,
    parse_time,
)
from core.probes.endpoints import check_json, judge, parse_host_output
from core.probes.logs import Demultiplexer, LineSplitter, LogBuffer, LogLine
from core.probes.postgres import backend_from_row, summarise
from core.probes.system import cpu_busy_percent, parse_cpu_times, parse_system

# -- disk ------------------------------------------------------------------------

DF_SIZES = """\
Filesystem              Type         1-blocks        Used   Available Capacity Mounted on
udev                    devtmpfs  12630519808           0 12630519808       0% /dev
tmpfs                   tmpfs     25276510208           0 25276510208       0% /dev/shm
/dev/vda                ext4     270553174016 24419516416 84524777472      23% /
overlay                 overlay  270553174016 24419516416 84524777472      23% /var/lib/docker/o/m
/dev/loop3              squashfs     58327040    58327040           0     100% /snap/core/1
/dev/loop0              ext4         59233280       24576    54431744       1% /mnt/warroom-lab-disk
/dev/vdb1               xfs        1073741824   536870912   536870912      50% /srv/my data
tmpfs                   tmpfs          4096           0        4096       0% /run/keep me
"""

DF_INODES = """\
Filesystem                Inodes  IUsed    IFree IUse% Mounted on
udev                     3083623    113  3083510    1% /dev
tmpfs                    3085511      1  3085510    1% /dev/shm
/dev/vda                16777216 436728 16340488    3% /
/dev/loop0                 16384     11    16373    1% /mnt/warroom-lab-disk
/dev/vdb1                      -      -        -     - /srv/my data
tmpfs                    3085511      1  3085510    1% /run/keep me
"""


def test_df_keeps_real_filesystems_only() -> None:
    state = build_disk_state(DF_SIZES, DF_INODES)
    points = [m.mountpoint for m in state.mounts]
    assert points == ["/", "/mnt/warroom-lab-disk", "/srv/my data"]
    lab = next(m for m in state.mounts if m.mountpoint == "/mnt/warroom-lab-disk")
    assert (lab.device, lab.fstype) == ("/dev/loop0", "ext4")
    assert (lab.size_bytes, lab.used_bytes, lab.free_bytes) == (59233280, 24576, 54431744)
    assert (lab.inodes_total, lab.inodes_used) == (16384, 11)
    spaced = next(m for m in state.mounts if m.mountpoint == "/srv/my data")
    assert spaced.inodes_total is None and spaced.inode_percent is None
    assert spaced.used_percent == pytest.approx(50.0)


def test_df_keeps_configured_tmpfs() -> None:
    named_sizes = (
        "Filesystem Type 1-blocks Used Available Capacity Mounted on\n"
        "tmpfs tmpfs 4096 0 4096 0% /run/keep me\n"
    )
    named_inodes = "Filesystem Inodes IUsed IFree IUse% Mounted on\ntmpfs 10 1 9 10% /run/keep me\n"
    state = build_disk_state(DF_SIZES, DF_INODES, named_sizes, named_inodes)
    kept = next(m for m in state.mounts if m.mountpoint == "/run/keep me")
    assert kept.fstype == "tmpfs" and kept.inodes_total == 10


def test_disk_command_quotes_paths() -> None:
    command = disk_command(("/mnt/a b", "/x;rm -rf /"))
    assert "'/mnt/a b'" in command and "'/x;rm -rf /'" in command
    assert command.count("df ") == 4


def test_du_parsing_largest_first_without_the_root() -> None:
    text = (
        "4096\t/var/log/apt\n1048576\t/var/log/journal\n12288\t/var/log/nginx\n"
        "1064960\t/var/log\n"
    )
    rows = parse_du(text, "/var/log/", 2)
    assert [(r.path, r.bytes) for r in rows] == [
        ("/var/log/journal", 1048576),
        ("/var/log/nginx", 12288),
    ]


# -- system ----------------------------------------------------------------------

PROC_SAMPLE = """\
0.19 0.20 0.17 1/128 11321
@@warroom@@
839.07 1410.60
@@warroom@@
MemTotal:       24684092 kB
MemFree:        23996296 kB
MemAvailable:   24180288 kB
Buffers:            3340 kB
Cached:           340976 kB
SwapTotal:       2097148 kB
SwapFree:        1048574 kB
HugePages_Total:       0
@@warroom@@
2
@@warroom@@
cpu  15854 0 3527 107293 3317 0 157 118 0 0
"""


def test_system_parse() -> None:
    state, times = parse_system(PROC_SAMPLE)
    assert (state.load1, state.load5, state.load15) == (0.19, 0.20, 0.17)
    assert state.cpus == 2
    assert state.memory_total == 24684092 * 1024
    assert state.memory_available == 24180288 * 1024
    assert state.swap_total == 2097148 * 1024 and state.swap_free == 1048574 * 1024
    assert state.uptime_seconds == pytest.approx(839.07)
    assert state.cpu_percent is None  # first sample
    assert times is not None
    assert times.total == 15854 + 3527 + 107293 + 3317 + 157 + 118
    assert times.busy == times.total - 107293 - 3317


def test_system_cpu_percent_across_samples() -> None:
    first = parse_cpu_times("cpu  100 0 100 700 100 0 0 0 0 0")
    second = parse_cpu_times("cpu  150 0 150 1500 100 0 0 0 0 0")
    assert first is not None and second is not None
    # 100 busy ticks out of 900
    assert cpu_busy_percent(second, first) == pytest.approx(100 * 100 / 900)
    _, times = parse_system(PROC_SAMPLE)
    state, _ = parse_system(PROC_SAMPLE.replace("cpu  15854", "cpu  15954"), times)
    assert state.cpu_percent == pytest.approx(100.0)


def test_system_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_system("sh: 1: cat: not found\n")


def test_meminfo_without_memavailable_falls_back() -> None:
    text = PROC_SAMPLE.replace("MemAvailable:   24180288 kB\n", "")
    state, _ = parse_system(text)
    assert state.memory_available == (23996296 + 3340 + 340976) * 1024


def test_split_sections_ignores_trailing_space() -> None:
    assert split_sections("a\n@@warroom@@ \nb\nc") == ["a", "b\nc"]


# -- docker ----------------------------------------------------------------------

# A one-shot stats answer from Docker 20.10 (cgroup v2), trimmed to what is read.
STATS_ONE_SHOT = {
    "read": "2026-11-22T14:50:01.123456789Z",
    "cpu_stats": {
        "cpu_usage": {"total_usage": 2_500_000_000, "usage_in_kernelmode": 1},
        "system_cpu_usage": 1_000_000_000_000,
        "online_cpus": 2,
    },
    "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "memory_stats": {
        "usage": 10_485_760,
        "limit": 25_276_510_208,
        "stats": {"inactive_file": 2_097_152, "active_file": 0},
    },
}


def test_docker_cpu_percent_math() -> None:
    current = cpu_sample(STATS_ONE_SHOT)
    assert current is not None and current.online == 2
    assert cpu_sample(STATS_ONE_SHOT, "precpu_stats") is None  # one-shot has no precpu
    assert cpu_percent(current, None) is None
    later = dict(STATS_ONE_SHOT)
    later["cpu_stats"] = {
        "cpu_usage": {"total_usage": 2_500_000_000 + 500_000_000},
        "system_cpu_usage": 1_000_000_000_000 + 2_000_000_000,
        "online_cpus": 2,
    }
    after = cpu_sample(later)
    assert after is not None
    # 0.5 s of CPU in 2 s of system time (which counts both CPUs): 25 % of the machine → 50 %
    assert cpu_percent(after, current) == pytest.approx(50.0)
    assert cpu_percent(current, after) is None  # counters went backwards (restart)


def test_docker_memory_excludes_page_cache() -> None:
    assert memory_usage(STATS_ONE_SHOT) == (10_485_760 - 2_097_152, 25_276_510_208)
    v1 = {"memory_stats": {"usage": 1000, "limit": 5000, "stats": {"total_inactive_file": 300}}}
    assert memory_usage(v1) == (700, 5000)
    assert memory_usage({"memory_stats": {}}) == (None, None)


INSPECT_EXITED = {
    "Id": "f00d" * 16,
    "Name": "/shop-flaky-1",
    "RestartCount": 2,
    "State": {
        "Status": "exited",
        "Running": False,
        "OOMKilled": True,
        "ExitCode": 137,
        "StartedAt": "2026-11-22T14:00:00.123456789Z",
        "FinishedAt": "2026-11-22T14:05:00Z",
        "Health": {"Status": "unhealthy", "FailingStreak": 3},
    },
    "Config": {
        "Image": "warroom-lab/busybox:1",
        "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "flaky"},
    },
    "NetworkSettings": {
        "Ports": {
            "80/tcp": [
                {"HostIp": "127.0.0.1", "HostPort": "18083"},
                {"HostIp": "127.0.0.1", "HostPort": "18083"},
            ],
            "443/tcp": None,
        }
    },
}


def test_container_from_inspect() -> None:
    c = container_from_inspect(INSPECT_EXITED)
    assert (c.name, c.project, c.service, c.image) == (
        "shop-flaky-1", "shop", "flaky", "warroom-lab/busybox:1",
    )
    assert (c.state, c.health, c.exit_code, c.oom_killed, c.restart_count) == (
        "exited", "unhealthy", 137, True, 2,
    )
    assert c.started_at == dt.datetime(2026, 11, 22, 14, 0, 0, 123456, dt.UTC).timestamp()
    assert c.finished_at == dt.datetime(2026, 11, 22, 14, 5, tzinfo=dt.UTC).timestamp()
    assert [(p.container_port, p.host_port) for p in c.ports] == [(80, 18083), (443, None)]
    assert c.status_text == "Exited (137) (unhealthy) OOM-killed"


def test_running_container_has_no_exit_code() -> None:
    info = json.loads(json.dumps(INSPECT_EXITED))
    info["State"].update(Status="running", ExitCode=0, OOMKilled=False)
    c = container_from_inspect(info)
    assert c.exit_code is None and c.status_text == "Up (unhealthy)"


def test_zero_time_is_none() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None


def test_list_signature_ignores_durations() -> None:
    a = {"State": "running", "Status": "Up 5 minutes (healthy)", "Created": 1}
    b = {"State": "running", "Status": "Up 6 minutes (healthy)", "Created": 1}
    c = {"State": "running", "Status": "Up 6 minutes (unhealthy)", "Created": 1}
    assert list_signature(a) == list_signature(b) != list_signature(c)


def test_event_action() -> None:
    assert event_action({"Action": "health_status: unhealthy"}) == "health_status"
    assert event_action({"status": "die"}) == "die"
    assert event_action({"Action": "exec_start: sh -c test"}) == "exec_start"


def test_api_version_negotiation() -> None:
    assert negotiate("1.41") == "1.41"
    assert negotiate("1.99") == "1.47"
    assert negotiate("") == "1.47"


# Captured from Docker 20.10 (GET /v1.41/system/df), trimmed.
SYSTEM_DF = {
    "LayersSize": 3968399,
    "Images": [
        {"Containers": 5, "Size": 1986140, "SharedSize": 0},
        {"Containers": 0, "Size": 1982259, "SharedSize": 0},
    ],
    "Containers": [
        {"State": "running", "SizeRw": 100},
        {"State": "exited", "SizeRw": 40},
    ],
    "Volumes": [
        {"UsageData": {"Size": 1000, "RefCount": 1}},
        {"UsageData": {"Size": 500, "RefCount": 0}},
        {"UsageData": {"Size": -1, "RefCount": -1}},
    ],
    "BuildCache": [
        {"Size": 300, "InUse": False, "Shared": False},
        {"Size": 200, "InUse": True, "Shared": False},
        {"Size": 999, "InUse": False, "Shared": True},
    ],
}


def test_system_df_like_the_cli() -> None:
    usage = parse_system_df(SYSTEM_DF)
    assert usage.images_bytes == 3968399
    assert usage.images_reclaimable == 3968399 - 1986140
    assert (usage.containers_bytes, usage.containers_reclaimable) == (140, 40)
    assert (usage.volumes_bytes, usage.volumes_reclaimable) == (1500, 500)
    assert (usage.build_cache_bytes, usage.build_cache_reclaimable) == (500, 300)


# -- logs ------------------------------------------------------------------------


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


def test_demux_splits_streams_and_lines_across_frames() -> None:
    data = (
        frame(1, b"hello\nwor")
        + frame(2, b"oops\n")
        + frame(1, b"ld\nprogress 10%\rprogress 100%\n")
        + frame(2, b"\xff\xfe bad utf8\n\x1b]52;c;aGVsbG8=\x07\n")
        + frame(1, b"no newline at end")
    )
    for cut in (1, 3, 7, 8, 9, 20, len(data)):
        demux = Demultiplexer()
        out: list[LogLine] = []
        for start in range(0, len(data), cut):
            out.extend(demux.feed(data[start : start + cut]))
        out.extend(demux.flush())
        assert out == [
            LogLine("stdout", "hello"),
            LogLine("stderr", "oops"),
            LogLine("stdout", "world"),
            LogLine("stdout", "progress 10%\rprogress 100%"),
            LogLine("stderr", "\ufffd\ufffd bad utf8"),
            LogLine("stderr", "\x1b]52;c;aGVsbG8=\x07"),
            LogLine("stdout", "no newline at end"),
        ], cut


def test_line_splitter_bounds_long_lines() -> None:
    splitter = LineSplitter("stdout", max_line=10)
    out = splitter.feed(b"a" * 25)
    assert [len(line.text) for line in out] == [10, 10]
    out += splitter.feed(b"\nshort\n")
    assert [line.text for line in out][-2:] == ["aaaaa", "short"]


def test_log_buffer_is_bounded_and_counts() -> None:
    buffer = LogBuffer(maxlen=3)
    buffer.extend(LogLine("stdout", str(i)) for i in range(5))
    assert [line.text for line in buffer.lines()] == ["2", "3", "4"]
    assert buffer.total == 5
    seen = buffer.total
    buffer.append(LogLine("stderr", "5"))
    assert buffer.since(seen) == [LogLine("stderr", "5")]
    assert len(buffer.since(0)) == 3


# -- postgres --------------------------------------------------------------------


def test_postgres_summary_excludes_own_connection() -> None:
    rows = [
        (10, "shop", "app", "web", "10.0.0.2", "active", "SELECT pg_sleep(60)", 42.5, "", []),
        (11, "shop", "app", "web", "10.0.0.2", "idle", "COMMIT", 3.0, "Client: ClientRead", []),
        (12, "shop", "app", "job", "10.0.0.3", "idle in transaction", "UPDATE t", 90.0, "", []),
        (13, "shop", "app", "job", "10.0.0.3", "active", "UPDATE t", 5.0, "Lock: tuple", [12]),
        (99, "shop", "warroom", "warroom", "127.0.0.1", "active", "SELECT …", 0.0, "", []),
    ]
    backends = [backend_from_row(r) for r in rows]
    state = summarise(backends, 100, own_pid=99, sizes={"shop": 8_000_000})
    assert state.total == 4
    assert state.by_state == {"active": 2, "idle": 1, "idle in transaction": 1}
    assert state.by_user == {"app": 4}
    assert [b.pid for b in state.longest] == [10, 13]
    assert [(b.pid, b.blocked_by) for b in state.blocked] == [(13, (12,))]
    assert state.used_percent == pytest.approx(4.0)


# -- endpoints -------------------------------------------------------------------


def test_expect_json_paths() -> None:
    body = b'{"status": "ok", "checks": [{"db": true}], "lag": 0.5}'
    assert check_json(body, "status=ok") == ""
    assert check_json(body, "checks.0.db=true") == ""
    assert check_json(body, "checks.0.db") == ""
    assert check_json(body, "lag=0.50") == ""
    assert "expected 'fine'" in check_json(body, "status=fine")
    assert "no field" in check_json(body, "missing.x=1")
    assert check_json(b"<html>", "status=ok") == "body is not JSON"


def test_judge_status_and_body() -> None:
    config = EndpointConfig(name="api", url="http://x/health", expect_body="ok")
    assert judge(config, 200, b"ok\n") == (True, "")
    assert judge(config, 503, b"ok") == (False, "HTTP 503 (expected 200)")
    assert judge(config, 200, b"nope")[0] is False


def test_host_side_curl_output() -> None:
    config = EndpointConfig(name="api", url="http://127.0.0.1:3000/health", side="host")
    up = parse_host_output(config, "@@warroom-tool@@ curl\n\n@@warroom@@ 200 0.001234\n", "", 0.1)
    assert up.up and up.status_code == 200 and up.latency_ms == pytest.approx(1.234)
    down = parse_host_output(
        config,
        "@@warroom-tool@@ curl\n\n@@warroom@@ 000 0.000300\n",
        "curl: (7) Failed to connect to 127.0.0.1 port 3000: Connection refused\n",
        0.1,
    )
    assert not down.up and down.status_code is None and "Connection refused" in down.reason
    body = EndpointConfig(name="j", url="http://h/", side="host", expect_json="status=ok")
    good = parse_host_output(body, '@@warroom-tool@@ curl\n{"status":"ok"}\n@@warroom@@ 200 0.01\n',
                             "", 0.1)
    assert good.up, good.reason


def test_host_side_wget_output() -> None:
    config = EndpointConfig(name="api", url="http://127.0.0.1/x", side="host")
    check = parse_host_output(
        config, "@@warroom-tool@@ wget\n", "  HTTP/1.1 503 Service Unavailable\n", 0.05
    )
    assert not check.up and check.status_code == 503 and check.latency_ms == pytest.approx(50)


# -- certs and backups -----------------------------------------------------------

def make_cert(name: str, not_before: dt.datetime, not_after: dt.datetime) -> str:
    """A self-signed PEM certificate for ``name`` (generated, not a lab file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_cert_file_parsing_days_left_and_expiry() -> None:
    now = dt.datetime.now(dt.UTC)
    fresh = make_cert("fresh.test", now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    old = make_cert("old.test", now - dt.timedelta(days=90), now - dt.timedelta(days=2))
    text = f"@@warroom-file@@ /a.pem\n{fresh}{old}\n@@warroom-file@@ /b.pem\n{old}\n"
    a, b = parse_files_output(text)
    assert (a.source, a.subject, a.issuer, a.names, a.error) == (
        "/a.pem", "fresh.test", "fresh.test", ("fresh.test",), "",
    )
    assert a.days_left == pytest.approx(30, abs=0.01)  # the first certificate of the file
    assert b.error == "expired" and b.days_left == pytest.approx(-2, abs=0.01)


def test_cert_files_command_and_markers() -> None:
    command = files_command(["/etc/letsencrypt/live/*/fullchain.pem", "/a b.pem"])
    assert "/etc/letsencrypt/live/*/fullchain.pem" in command and "'/a b.pem'" in command
    assert glob_quote("/x/$(id)/*.pem") == "'/x/$(id)/'*.pem"
    out = parse_files_output(
        "@@warroom-file@@ /missing.pem\n@@warroom-missing@@\n"
        "@@warroom-file@@ /secret.pem\n@@warroom-denied@@\n"
        "@@warroom-file@@ /junk.pem\nnot a certificate\n\n"
    )
    assert [(c.source, c.error) for c in out] == [
        ("/missing.pem", "no such file"),
        ("/secret.pem", "permission denied"),
        ("/junk.pem", "no PEM certificate"),
    ]


def test_backup_state_newest_and_previous() -> None:
    now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
    objects = [
        {"Key": "db/a.sql.gz", "Size": 100, "LastModified": now - dt.timedelta(days=2)},
        {"Key": "db/c.sql.gz", "Size": 40, "LastModified": now - dt.timedelta(hours=1)},
        {"Key": "db/b.sql.gz", "Size": 120, "LastModified": now - dt.timedelta(days=1)},
    ]
    state = backup_state("backups", "db/", objects, now=now.timestamp())
    assert (state.newest_key, state.newest_size, state.previous_size) == ("db/c.sql.gz", 40, 120)
    assert state.newest_age_seconds == pytest.approx(3600)
    assert state.object_count == 3
    assert state.size_change_percent == pytest.approx(-100 * 80 / 120)
    empty = backup_state("backups", "db/", [], now=now.timestamp())
    assert empty.object_count == 0 and math.isinf(empty.newest_age_seconds)


def test_events_update_a_container_before_it_is_inspected() -> None:
    info = json.loads(json.dumps(INSPECT_EXITED))
    info["State"].update(Status="running", OOMKilled=False)
    running = container_from_inspect(info)
    die = {
        "Type": "container", "Action": "die", "timeNano": 1_795_359_000_500_000_000,
        "Actor": {"ID": running.id, "Attributes": {"exitCode": "137", "name": running.name}},
    }
    dead = apply_event(running, die)
    assert (dead.state, dead.exit_code, dead.finished_at) == ("exited", 137, 1_795_359_000.5)
    assert dead.status_text.startswith("Exited (137)")
    healthy = apply_event(running, {"Action": "health_status: healthy", "Actor": {}})
    assert healthy.health == "healthy" and healthy.status_text == "Up (healthy)"
    assert apply_event(dead, {"Action": "start", "time": 5}).state == "running"
    assert apply_event(running, {"Action": "oom"}).oom_killed
    assert apply_event(running, {"Action": "exec_start: sh"}) == running
