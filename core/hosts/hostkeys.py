"""Host key verification: known_hosts first, fail closed, trust-on-first-use only if asked.

asyncssh checks the presented key against the known_hosts entries we hand
it; a key that is not among them comes to :meth:`HostKeyPolicy.validate_unknown`,
which decides and, when it refuses, leaves an operator-readable reason with
the presented fingerprint in :attr:`HostKeyPolicy.failure`.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config import HostConfig
from core.durable import append_line
from core.hosts.filestamp import Stamp, file_stamp
from core.hosts.sshlib import asyncssh

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

_PARSED: dict[Path, tuple[Stamp | None, asyncssh.SSHKnownHosts]] = {}
"""known_hosts files as last parsed, with their stamps (read-only once parsed)."""


def known_hosts_pattern(address: str, port: int) -> str:
    """The known_hosts host field for ``address:port`` (OpenSSH's ``[addr]:port`` form)."""
    return address if port in (0, 22) else f"[{address}]:{port}"


def fingerprint(key: asyncssh.SSHKey) -> str:
    """The key's type and SHA256 fingerprint as ``ssh-keygen -l`` shows them."""
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


class HostKeyPolicy:
    """Decides about host keys for one configured host."""

    def __init__(self, config: HostConfig) -> None:
        self._config = config
        self.path = Path(os.path.expanduser(config.known_hosts or DEFAULT_KNOWN_HOSTS))
        self.failure = ""

    def reset(self) -> None:
        """Forget the last refusal (called before each connection attempt)."""
        self.failure = ""

    def known_hosts(self) -> asyncssh.SSHKnownHosts:
        """The trusted keys, parsed again whenever the file changed (an edit takes
        effect at the next connect).  Hosts sharing a file share one parse: 300
        hashed entries take 12-15 ms to parse, once per host and connect before."""
        stamp = file_stamp(self.path)
        kept = _PARSED.get(self.path)
        if stamp is not None and kept is not None and kept[0] == stamp:
            return kept[1]
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        parsed = asyncssh.import_known_hosts(text)
        _PARSED[self.path] = (stamp, parsed)
        return parsed

    def _known_keys(self, host: str, addr: str, port: int) -> list[asyncssh.SSHKey]:
        trusted = asyncssh.match_known_hosts(self.known_hosts(), host, addr, port)
        return list(trusted[0])

    def validate_unknown(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Called for a presented key that known_hosts does not trust."""
        presented = fingerprint(key)
        known = self._known_keys(host, addr, port)
        if known:
            listed = ", ".join(fingerprint(k) for k in known)
            self.failure = (
                f"HOST KEY CHANGED for {host} ({addr}:{port}): the server presented {presented} "
                f"but {self.path} lists {listed}. Refusing to connect: this may be a "
                f"man-in-the-middle. If the change is expected, remove the old entry from "
                f"{self.path}."
            )
            return False
        if self._config.trust_on_first_use:
            self._remember(host, port, key)
            return True
        self.failure = (
            f"unknown host key for {host} ({addr}:{port}): the server presented {presented}, "
            f"which is not in {self.path}. Verify it out of band, then add it to that file "
            f"(or set trust_on_first_use = true for this host)."
        )
        return False

    def _remember(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        line = f"{known_hosts_pattern(host, port)} {key.export_public_key().decode().strip()}"
        append_line(self.path, line.encode())
