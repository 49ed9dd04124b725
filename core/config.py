"""The warroom configuration: frozen dataclasses read from TOML.

:func:`find_config` decides which file to read (``--config``, then
``$WARROOM_CONFIG``, then ``~/.config/warroom/config.toml``); :func:`load_config`
reads it and raises :class:`ConfigError` naming the file, the key path (and
the line, for syntax errors) and what was expected.  With no file at all,
:func:`default_config` watches the local machine.

Secrets never live in the file: the PostgreSQL password and the backup
credentials are named by environment variable (``password_env``,
``access_key_env``, ``secret_key_env``).
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

from core.incidents.rules_config import RuleConfig, check_rules
from core.schema import SchemaError, TomlError, build, parse_toml

NO_LITERAL_SECRET = (
    "literal secrets are not allowed in the config; "
    "name an environment variable with {key}_env instead"
)


def _secret_keys(*names: str) -> Mapping[str, str]:
    return {n: NO_LITERAL_SECRET.format(key=n) for n in names}


@dataclass(frozen=True)
class DockerConfig:
    """Where a host's Docker Engine and compose project live."""

    socket: str = "/var/run/docker.sock"
    project: str = ""
    project_dir: str = ""
    compose: str = "docker compose"


@dataclass(frozen=True)
class PostgresConfig:
    """A PostgreSQL server as seen from the host (reached through the SSH tunnel)."""

    FORBIDDEN_KEYS: ClassVar[Mapping[str, str]] = _secret_keys("password")

    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "postgres"
    user: str = "postgres"
    password_env: str = ""
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class EndpointConfig:
    """An HTTP health endpoint, checked from the console, the host, or both."""

    name: str
    url: str
    expect_status: int = 200
    expect_body: str = ""
    expect_json: str = ""
    side: Literal["console", "host", "both"] = "console"
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.url):
            raise ValueError(f"endpoint {self.name!r}: url must start with http:// or https://")


@dataclass(frozen=True)
class TlsEndpointConfig:
    """A TLS endpoint whose certificate is checked by a real handshake (with SNI)."""

    name: str
    address: str
    port: int = 443
    server_name: str = ""
    ca_file: str = ""


@dataclass(frozen=True)
class CertFilesConfig:
    """Certificate files on the host (e.g. Let's Encrypt ``live/*/fullchain.pem``)."""

    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupConfig:
    """An S3-compatible bucket (S3, R2, MinIO, SeaweedFS) holding the host's backups."""

    FORBIDDEN_KEYS: ClassVar[Mapping[str, str]] = _secret_keys("access_key", "secret_key")

    endpoint_url: str
    bucket: str
    prefix: str = ""
    max_age_hours: float = 26.0
    region: str = "auto"
    access_key_env: str = ""
    secret_key_env: str = ""


@dataclass(frozen=True)
class DiskConfig:
    """A path whose filesystem is watched closely (and searched for large directories)."""

    path: str


@dataclass(frozen=True)
class LogFileConfig:
    """A log file on the host to follow (e.g. a web server's access log)."""

    name: str
    path: str


@dataclass(frozen=True)
class HostConfig:
    """One host: how to reach it and what runs on it."""

    name: str
    address: str = ""
    port: int = 0
    user: str = ""
    identity_file: str = ""
    known_hosts: str = ""
    jump_host: str = ""
    tags: tuple[str, ...] = ()
    transport: Literal["ssh", "local"] = "ssh"
    trust_on_first_use: bool = False
    keepalive_seconds: float = 3.0
    keepalive_count: int = 3
    connect_timeout: float = 10.0
    max_sessions: int = 8
    docker: DockerConfig | None = None
    postgres: PostgresConfig | None = None
    endpoints: tuple[EndpointConfig, ...] = ()
    tls: tuple[TlsEndpointConfig, ...] = ()
    certs: CertFilesConfig | None = None
    backup: BackupConfig | None = None
    disks: tuple[DiskConfig, ...] = ()
    logs: tuple[LogFileConfig, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise ValueError(
                f"host name {self.name!r} must be letters, digits, '.', '_' or '-'"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not a TCP port (0 means the default)")
        if not 1 <= self.max_sessions <= 64:
            raise ValueError("max_sessions must be between 1 and 64")

    @property
    def ssh_target(self) -> str:
        """The name given to SSH: the address, or the name as a ``~/.ssh/config`` alias."""
        return self.address or self.name


MIN_REFRESH_SECONDS = 0.5
"""Faster refreshes would spend the hosts' and the console's CPU on nothing a person sees."""

MAX_RESPONSE_MINUTES = 525_600


@dataclass(frozen=True)
class SettingsConfig:
    """Global settings."""

    operator: str = ""
    read_only: bool = False
    theme: str = "warroom-dark"
    data_dir: str = "~/.local/share/warroom"
    journal_dir: str = ""
    audit_log: str = ""
    runbook_dirs: tuple[str, ...] = ()
    refresh_seconds: float = 5.0
    background_refresh_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.refresh_seconds < MIN_REFRESH_SECONDS:
            raise ValueError(f"refresh_seconds must be at least {MIN_REFRESH_SECONDS:g}")
        if self.background_refresh_seconds < MIN_REFRESH_SECONDS:
            raise ValueError(
                f"background_refresh_seconds must be at least {MIN_REFRESH_SECONDS:g}")


@dataclass(frozen=True)
class ThresholdsConfig:
    """Limits past which a signal counts as bad."""

    disk_percent: float = 90.0
    inode_percent: float = 90.0
    pg_connections_percent: float = 80.0
    pg_idle_in_transaction: int = 5
    cpu_percent: float = 90.0
    memory_percent: float = 90.0
    endpoint_slow_ms: float = 2000.0
    cert_warning_days: int = 30
    cert_critical_days: int = 7
    backup_shrink_percent: float = 50.0
    restart_loop_count: int = 3


@dataclass(frozen=True)
class SeverityConfig:
    """The severity scheme: four labels, worst first, with response targets."""

    labels: tuple[str, ...] = ("P0", "P1", "P2", "P3")
    response_minutes: tuple[float, ...] = (0.0, 60.0, 240.0, 1440.0)

    def __post_init__(self) -> None:
        if len(self.labels) != 4 or len(self.response_minutes) != 4:
            raise ValueError("labels and response_minutes must each have four entries, worst first")
        if len(set(self.labels)) != 4:
            raise ValueError("severity labels must be distinct")
        if not all(0 <= m <= MAX_RESPONSE_MINUTES for m in self.response_minutes):
            raise ValueError(
                f"response_minutes must be between 0 and {MAX_RESPONSE_MINUTES} (a year)")


@dataclass(frozen=True)
class Config:
    """The whole configuration, as read from one file (or the local default)."""

    settings: SettingsConfig = field(default_factory=SettingsConfig)
    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    severity: SeverityConfig = field(default_factory=SeverityConfig)
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    rules: Mapping[str, RuleConfig] = field(default_factory=lambda: MappingProxyType({}))
    hosts: tuple[HostConfig, ...] = ()
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_rules(self.rules, self.severity)
        seen: set[str] = set()
        for host in self.hosts:
            if host.name in seen:
                raise ValueError(f"two hosts are named {host.name!r}")
            seen.add(host.name)
        for host in self.hosts:
            if host.jump_host == host.name:
                raise ValueError(f"host {host.name!r} cannot be its own jump host")

    @property
    def operator(self) -> str:
        """Who is at the keyboard: the configured name, else the login name."""
        return self.settings.operator or _login_name()

    @property
    def data_dir(self) -> Path:
        """Where warroom keeps its journal and audit log."""
        return Path(self.settings.data_dir).expanduser()

    @property
    def audit_path(self) -> Path:
        """The append-only audit log of state-changing commands."""
        if self.settings.audit_log:
            return Path(self.settings.audit_log).expanduser()
        return self.data_dir / "audit.log"

    @property
    def journal_dir(self) -> Path:
        """Where incident journals live (shared by pairing consoles)."""
        if self.settings.journal_dir:
            return Path(self.settings.journal_dir).expanduser()
        return self.data_dir / "incidents"

    def host(self, name: str) -> HostConfig:
        """The host named ``name`` (``KeyError`` if there is none)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


class ConfigError(Exception):
    """The config file cannot be used.  ``str()`` is the message for the operator."""

    def __init__(self, file: str, message: str, key: str = "", line: int | None = None) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.message = message
        where = file + (f":{line}" if line else "")
        what = f"{key}: {message}" if key else message
        super().__init__(f"{where}: {what}")


CONFIG_ENV = "WARROOM_CONFIG"


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/warroom/config.toml`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "warroom" / "config.toml"


def find_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``--config``, then ``$WARROOM_CONFIG``, then the default path.

    An explicitly named file that does not exist is an error; the default
    path is optional, and ``None`` means "watch the local machine".
    """
    env = os.environ if environ is None else environ
    for named in (explicit, env.get(CONFIG_ENV)):
        if named:
            path = Path(named).expanduser()
            if not path.is_file():
                raise ConfigError(str(path), "no such config file")
            return path
    path = default_config_path()
    return path if path.is_file() else None


def parse_config(text: str, file: str = "<config>") -> Config:
    """Parse TOML text into a :class:`Config` (``ConfigError`` on any problem)."""
    try:
        table = parse_toml(text)
    except TomlError as exc:
        raise ConfigError(file, exc.reason, line=exc.line) from None
    table.pop("source", None)
    try:
        config = build(Config, table)
    except SchemaError as exc:
        raise ConfigError(file, exc.message, key=exc.path) from None
    return Config(
        settings=config.settings,
        thresholds=config.thresholds,
        severity=config.severity,
        keymap=config.keymap,
        rules=config.rules,
        hosts=config.hosts,
        source=file,
    )


def load_config(path: Path | str) -> Config:
    """Read and validate the config file at ``path``."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(file, f"cannot read: {exc.strerror}") from None
    return parse_config(text, file)


LOCAL_HOST_NAME = "local"


def default_config() -> Config:
    """The config used when there is no file: watch this machine through the local transport."""
    local = HostConfig(
        name=LOCAL_HOST_NAME,
        transport="local",
        docker=DockerConfig(),
        postgres=PostgresConfig(password_env="PGPASSWORD"),
        disks=(DiskConfig(path="/"),),
    )
    return Config(hosts=(local,), source="(no config file: watching this machine)")


def resolve_config(explicit: str | None) -> Config:
    """Find and load the config, or fall back to :func:`default_config`."""
    path = find_config(explicit)
    return default_config() if path is None else load_config(path)
