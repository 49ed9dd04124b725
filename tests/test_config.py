"""Config loading: the example is valid, discovery order, and every kind of bad file."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import (
    Config,
    ConfigError,
    HostConfig,
    default_config,
    find_config,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_is_valid_and_complete() -> None:
    config = load_config(ROOT / "config.example.toml")
    host = config.host("web1")
    assert host.docker is not None and host.docker.project == "shop"
    assert host.postgres is not None and host.postgres.password_env == "WARROOM_PG_PASSWORD"
    assert host.backup is not None and host.backup.bucket == "backups"
    assert host.endpoints[0].side == "both"


def _all_keys(cls: type, prefix: str = "") -> set[str]:
    keys = set()
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        keys.add(f.name)
    return keys


@pytest.mark.parametrize(
    "cls",
    [
        "SettingsConfig", "ThresholdsConfig", "SeverityConfig", "HostConfig", "DockerConfig",
        "PostgresConfig", "EndpointConfig", "TlsEndpointConfig", "CertFilesConfig",
        "BackupConfig", "DiskConfig", "LogFileConfig", "RuleConfig",
    ],
)
def test_example_documents_every_key(cls: str) -> None:
    import core.config as module

    text = (ROOT / "config.example.toml").read_text()
    documented = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line}
    documented |= {line.strip("[] \n").split(".")[-1] for line in text.splitlines()
                   if line.startswith("[")}
    missing = _all_keys(getattr(module, cls)) - documented
    assert not missing, f"config.example.toml does not document {sorted(missing)}"


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.toml")
    return info.value


def test_unknown_key_suggests_the_right_one() -> None:
    err = _error('[[hosts]]\nname = "a"\naddres = "x"\n')
    assert err.key == "hosts[0].addres"
    assert "did you mean 'address'" in str(err)
    assert str(err).startswith("cfg.toml: hosts[0].addres:")


def test_wrong_type_names_path_and_expectation() -> None:
    err = _error('[[hosts]]\nname = "a"\nport = "twenty-two"\n')
    assert err.key == "hosts[0].port"
    assert "expected an integer, found a string" in str(err)


def test_nested_wrong_type() -> None:
    err = _error('[[hosts]]\nname = "a"\n[hosts.docker]\nsocket = 5\n')
    assert err.key == "hosts[0].docker.socket"
    assert "expected a string" in err.message


def test_missing_required_key() -> None:
    err = _error('[[hosts]]\naddress = "10.0.0.1"\n')
    assert err.key == "hosts[0].name"
    assert "missing required key" in err.message


def test_syntax_error_has_line() -> None:
    err = _error('[settings]\ntheme = "dark"\nread_only = yes\n')
    assert err.line == 3
    assert str(err).startswith("cfg.toml:3: TOML syntax error")


def test_literal_password_is_refused() -> None:
    err = _error('[[hosts]]\nname = "a"\n[hosts.postgres]\npassword = "hunter2"\n')
    assert err.key == "hosts[0].postgres.password"
    assert "password_env" in err.message
    assert "hunter2" not in str(err)


def test_bad_literal_value_and_duplicate_hosts() -> None:
    err = _error('[[hosts]]\nname = "a"\ntransport = "telnet"\n')
    assert "one of 'ssh', 'local'" in err.message
    err = _error('[[hosts]]\nname = "a"\n[[hosts]]\nname = "a"\n')
    assert "two hosts are named 'a'" in err.message


def test_severity_scheme_must_have_four_labels() -> None:
    err = _error('[severity]\nlabels = ["SEV1", "SEV2"]\n')
    assert err.key == "severity"
    for labels in (["SEV1", "SEV2", "SEV3", "SEV4"], ["Critical", "High", "Medium", "Low"]):
        quoted = ", ".join(f'"{x}"' for x in labels)
        assert parse_config(f"[severity]\nlabels = [{quoted}]\n").severity.labels == tuple(labels)


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit.toml"
    from_env = tmp_path / "env.toml"
    home = tmp_path / "xdg" / "warroom" / "config.toml"
    for p in (explicit, from_env, home):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config(str(explicit), {"WARROOM_CONFIG": str(from_env)}) == explicit
    assert find_config(None, {"WARROOM_CONFIG": str(from_env)}) == from_env
    assert find_config(None, {}) == home
    home.unlink()
    assert find_config(None, {}) is None
    with pytest.raises(ConfigError, match="no such config file"):
        find_config(str(tmp_path / "nope.toml"), {})


def test_default_config_watches_this_machine() -> None:
    config = default_config()
    assert [h.transport for h in config.hosts] == ["local"]
    assert isinstance(config, Config) and isinstance(config.hosts[0], HostConfig)


def test_config_is_immutable() -> None:
    config = parse_config('[keymap]\nrefresh = "f5"\n[[hosts]]\nname = "a"\ntags = ["x"]\n')
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hosts[0].name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.keymap["refresh"] = "f6"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[hosts]]\nname = "a"\naddres = "x"\n',
            "hosts[0].addres: unknown key (did you mean 'address'?)",
        ),
        ('[[hosts]]\nname = "a"\nport = "22"\n', "hosts[0].port: expected an integer"),
        ('[[hosts]]\nport = 22\n', "hosts[0].name: missing required key"),
        ('[settings\n', ":1: TOML syntax error"),
        ("[settings]\nrefresh_seconds = nan\n", "settings.refresh_seconds: expected a finite"),
        ("[settings]\nrefresh_seconds = 0.001\n", "refresh_seconds must be at least 0.5"),
        ("[thresholds]\ndisk_percent = inf\n", "thresholds.disk_percent: expected a finite"),
        ('[settings]\ndata_dir = "/tmp/a\\u0000b"\n', "cannot contain a NUL character"),
        ("[severity]\nresponse_minutes = [0, 60, 240, 1e307]\n",
         "response_minutes must be between 0 and"),
        ("a = " + "[" * 600 + "]" * 600 + "\n", "TOML nested too deeply"),
        ("[thresholds]\ndisk_percent = 1" + "0" * 400 + "\n", "found one too large"),
    ],
)
def test_cli_reports_config_errors_with_status_3(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for args in (["check", "--config", str(path)], ["--config", str(path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
            env={**os.environ, "WARROOM_CONFIG": ""},
        )
        assert proc.returncode == 3, proc.stderr
        assert expected in proc.stderr
        assert str(path) in proc.stderr
        assert "Traceback" not in proc.stderr
