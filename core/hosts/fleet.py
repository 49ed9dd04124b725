"""The fleet: one Host object per configured host, started and closed together."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from core.config import Config, HostConfig
from core.hosts.base import Host
from core.hosts.local import LocalHost
from core.hosts.ssh import SshHost


class Fleet:
    """Every configured host, by name, in config order."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._hosts: dict[str, Host] = {}
        self._implicit_jumps: dict[str, SshHost] = {}
        for host_config in config.hosts:
            self._make(host_config)

    def _make(self, host_config: HostConfig) -> Host:
        existing = self._hosts.get(host_config.name)
        if existing is not None:
            return existing
        host: Host
        if host_config.transport == "local":
            host = LocalHost(host_config.name)
        else:
            jump = None
            if host_config.jump_host:
                jump = self._jump_host(host_config.jump_host)
            host = SshHost(host_config, jump=jump)
        self._hosts[host_config.name] = host
        return host

    def _jump_host(self, name: str) -> SshHost:
        try:
            jump = self._make(self.config.host(name))
        except KeyError:  # not configured: an ~/.ssh/config alias
            if name not in self._implicit_jumps:
                self._implicit_jumps[name] = SshHost(HostConfig(name=name))
            return self._implicit_jumps[name]
        if not isinstance(jump, SshHost):
            raise ValueError(f"jump host {name!r} must be reached over SSH")
        return jump

    def __iter__(self) -> Iterator[Host]:
        return iter(self._hosts.values())

    def __getitem__(self, name: str) -> Host:
        return self._hosts[name]

    def __len__(self) -> int:
        return len(self._hosts)

    async def start(self) -> None:
        """Begin connecting every host in the background."""
        for host in self._hosts.values():
            await host.start()

    async def close(self) -> None:
        """Close every host; nothing is left running."""
        hosts: list[Host] = [*self._hosts.values(), *self._implicit_jumps.values()]
        await asyncio.gather(*(host.close() for host in hosts))
