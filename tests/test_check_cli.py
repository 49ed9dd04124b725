"""`warroom check` against the lab: every probe, the rules, Nagios exit codes, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from tests.conftest import LAB, LAB_CONFIG, ROOT

pytestmark = pytest.mark.lab

STATE = LAB / ".state"


def _check(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--config", str(config), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=dict(os.environ),
    )


def _host(name: str, address: str, known_hosts: Path, body: str = "") -> str:
    return f"""
[[hosts]]
name = "{name}"
address = "{address}"
user = "wrlab"
identity_file = "{STATE / 'id_lab'}"
known_hosts = "{known_hosts}"
{body}
"""


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "check.toml"
    path.write_text(f'[settings]\ndata_dir = "{tmp_path}"\n' + text)
    return path


def test_lab_check_json_lists_hosts_probes_and_incidents(lab_config: Config) -> None:
    proc = _check(LAB_CONFIG, "--json")
    report = json.loads(proc.stdout)
    assert [h["name"] for h in report["hosts"]] == ["web1", "web2"]
    web1 = report["hosts"][0]
    assert web1["reachable"] is True
    for probe in ("containers", "disk", "system", "postgres", "certs", "endpoints", "backups"):
        assert web1[probe]["status"] == "ok", (probe, web1[probe])
    names = {c["name"] for c in web1["containers"]["data"]}
    assert "shop-api-1" in names and "blog-web-1" not in names
    rules = {(i["rule"], i["host"]) for i in report["incidents"]}
    assert ("cert.expired", "web1") in rules and ("cert.invalid", "web1") in rules
    expired = next(i for i in report["incidents"] if i["rule"] == "cert.expired")
    assert expired["severity"] == "P1" and expired["runbook"]
    assert set(expired) >= {"id", "rule", "severity", "host", "services", "runbook", "evidence"}
    assert proc.returncode == 2  # P1 is one of the two highest severities: CRITICAL
    assert os.environ["WARROOM_LAB_PG_PASSWORD"] not in proc.stdout


def test_healthy_host_is_ok(lab_config: Config, tmp_path: Path) -> None:
    body = '[hosts.docker]\nsocket = "/var/run/docker.sock"\n'
    body += '[[hosts.endpoints]]\nname = "proxy"\nurl = "http://127.0.0.1:18082/health"\n'
    config = _config(tmp_path, _host("web1", "127.0.0.2", STATE / "known_hosts", body))
    proc = _check(config)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().endswith("OK")


def test_expiring_certificate_is_a_warning(lab_config: Config, tmp_path: Path) -> None:
    body = (f'[[hosts.tls]]\nname = "soon"\naddress = "127.0.0.1"\nport = 18442\n'
            f'server_name = "soon.lab.test"\nca_file = "{STATE / "tls" / "ca.pem"}"\n')
    config = _config(tmp_path, _host("web1", "127.0.0.2", STATE / "known_hosts", body))
    proc = _check(config, "--json")
    report = json.loads(proc.stdout)
    assert [i["rule"] for i in report["incidents"]] == ["cert.expiring"]
    assert report["incidents"][0]["severity"] in ("P2", "P3")
    assert proc.returncode == 1


def test_unknown_host_key_names_the_fingerprint(lab_config: Config, tmp_path: Path) -> None:
    text = _host("web1", "127.0.0.2", STATE / "known_hosts")
    text += _host("web2", "127.0.0.3", STATE / "known_hosts.empty")
    proc = _check(_config(tmp_path, text))
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("web2"))
    assert "unknown host key" in line and "SHA256:" in line
    assert "host.unreachable" in proc.stdout
    assert proc.returncode == 2


def test_no_host_reachable_is_unknown(lab_config: Config, tmp_path: Path) -> None:
    text = _host("web1", "127.0.0.2", STATE / "known_hosts.empty")
    text += _host("web2", "127.0.0.3", STATE / "known_hosts.empty")
    proc = _check(_config(tmp_path, text))
    assert proc.returncode == 3
    assert proc.stdout.count("UNREACHABLE") == 2


def test_config_error_is_unknown(tmp_path: Path) -> None:
    proc = _check(_config(tmp_path, "[[hosts]]\nnmae = 'x'\n"))
    assert proc.returncode == 3 and "did you mean 'name'" in proc.stderr
