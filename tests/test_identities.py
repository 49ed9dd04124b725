"""The client's keys are loaded once for every host, and again only when their files change."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from core.config import HostConfig
from core.hosts import identities
from core.hosts.identities import (
    CONFIG_NAMES_KEYS,
    KeyCache,
    signature,
    ssh_config_matches,
)
from core.hosts.ssh import SshHost
from core.hosts.sshlib import asyncssh
from tests.conftest import LAB, host_variant

STATE = LAB / ".state"


def _write_key(path: Path) -> bytes:
    """A new ed25519 private key at ``path``; its public key."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    return bytes(key.public_data)


def _public(keys: object) -> list[bytes]:
    assert isinstance(keys, list)
    return [bytes(k.public_data) for k in keys]


@pytest.fixture
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every asyncssh.load_keypairs call the cache makes."""
    calls: list[object] = []
    real = asyncssh.load_keypairs

    def counting(keylist: object, *args: object, **kwargs: object) -> object:
        calls.append(keylist)
        return real(keylist, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(identities.asyncssh, "load_keypairs", counting)
    return calls


async def test_hosts_connecting_at_once_share_one_load(
    tmp_path: Path, counted_loads: list[object]
) -> None:
    key = tmp_path / "id_test"
    public = _write_key(key)
    cache = KeyCache()
    answers = await asyncio.gather(*[cache.client_keys(str(key)) for _ in range(10)])
    assert len(counted_loads) == 1
    assert all(_public(a) == [public] for a in answers)
    assert _public(await cache.client_keys(str(key))) == [public]
    assert len(counted_loads) == 1  # kept: the file did not change


async def test_a_changed_key_file_is_loaded_again(
    tmp_path: Path, counted_loads: list[object]
) -> None:
    key = tmp_path / "id_test"
    first = _write_key(key)
    cache = KeyCache()
    assert _public(await cache.client_keys(str(key))) == [first]
    second = _write_key(tmp_path / "id_new")
    os.replace(tmp_path / "id_new", key)  # (as an editor saves: another file in its place)
    assert _public(await cache.client_keys(str(key))) == [second]
    assert len(counted_loads) == 2


async def test_a_key_that_cannot_be_loaded_fails_each_time_and_is_not_kept(
    tmp_path: Path,
) -> None:
    key = tmp_path / "id_missing"
    cache = KeyCache()
    with pytest.raises(FileNotFoundError):
        await cache.client_keys(str(key))
    key.write_text("not a key\n")
    with pytest.raises(asyncssh.KeyImportError):
        await cache.client_keys(str(key))
    key.unlink()
    public = _write_key(key)
    assert _public(await cache.client_keys(str(key))) == [public]


def test_a_certificate_beside_the_key_is_part_of_its_signature(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    _write_key(key)
    before = signature([key])
    Path(f"{key}-cert.pub").write_text("ssh-ed25519-cert-v01@openssh.com AAAA\n")
    assert signature([key]) != before


@pytest.mark.parametrize("text, names_keys", [
    ("Host shop\n  HostName 10.0.0.1\n  User deploy\n", False),
    ("Host shop\n  IdentityFile ~/.ssh/shop\n", True),
    ("host *\n    identitiesonly yes\n", True),
    ("Include ~/.ssh/config.d/*\n", True),
    ("Host x\n  CertificateFile ~/.ssh/x-cert.pub\n", True),
    ("# IdentityFile in a comment only\nHost x\n  Port 2222\n", False),
])
def test_an_ssh_config_that_may_choose_keys_leaves_them_to_asyncssh(
    tmp_path: Path, text: str, names_keys: bool
) -> None:
    config = tmp_path / "config"
    config.write_text(text)
    assert ssh_config_matches(config, CONFIG_NAMES_KEYS) is names_keys
    assert ssh_config_matches(tmp_path / "absent", CONFIG_NAMES_KEYS) is False


async def test_default_keys_are_loaded_once_unless_ssh_config_names_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    loads: list[int] = []
    real = identities._load_defaults

    def counting() -> identities.KeyPairs:
        loads.append(1)
        return real()

    monkeypatch.setattr(identities, "_load_defaults", counting)
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir()
    cache = KeyCache()
    assert await cache.client_keys("") is None  # no default key: asyncssh looks itself
    public = _write_key(ssh_dir / "id_ed25519")
    answers = await asyncio.gather(*[cache.client_keys("") for _ in range(5)])
    assert all(_public(a) == [public] for a in answers)
    assert _public(await cache.client_keys("")) == [public]
    assert len(loads) == 2  # once with no key, once with it: not per host or connect
    (ssh_dir / "config").write_text("Host shop\n  IdentityFile ~/.ssh/shop\n")
    assert await cache.client_keys("") is None


async def test_each_connect_gets_key_pairs_of_its_own(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    key.write_private_key(str(tmp_path / "id_rsa"))
    cache = KeyCache()
    first = await cache.client_keys(str(tmp_path / "id_rsa"))
    assert first is not None and isinstance(first[0], asyncssh.SSHKeyPair)
    assert first[0].sig_algorithm == b"ssh-rsa"
    first[0].set_sig_algorithm(b"rsa-sha2-512")  # as asyncssh does, signing in to one host
    second = await cache.client_keys(str(tmp_path / "id_rsa"))
    assert second is not None and isinstance(second[0], asyncssh.SSHKeyPair)
    assert second[0].sig_algorithm == b"ssh-rsa"  # the next host starts afresh


async def test_an_identity_file_is_left_to_asyncssh_where_ssh_config_may_add_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_loads: list[object]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host a\n  CertificateFile ~/.ssh/a-cert.pub\n")
    key = tmp_path / "id_test"
    _write_key(key)
    assert await KeyCache().client_keys(str(key)) == [str(key)]  # loaded at connect, as before
    assert counted_loads == []


def test_the_default_key_names_are_asyncssh_s() -> None:
    from asyncssh.public_key import _DEFAULT_KEY_FILES

    assert tuple(name for name, _ in _DEFAULT_KEY_FILES) == identities.DEFAULT_KEY_NAMES


@pytest.mark.lab
async def test_ten_hosts_with_an_rsa_key_connect_with_one_load(
    lab_host: HostConfig, counted_loads: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.hosts.ssh.KEYS", KeyCache())  # (nothing loaded yet)
    rsa = host_variant(lab_host, identity_file=str(STATE / "id_lab_rsa"))
    hosts = [SshHost(host_variant(rsa, name=f"rsa{i}")) for i in range(10)]
    try:
        for host in hosts:
            await host.start()
        for host in hosts:
            assert await host.wait_up(20), f"{host.name}: {host.reason}"
        results = await asyncio.gather(*[h.run(["echo", "in"]) for h in hosts])
        assert [r.stdout for r in results] == ["in\n"] * 10
        assert len(counted_loads) == 1  # one load of the RSA key for the ten connections
    finally:
        await asyncio.gather(*[h.close() for h in hosts])


@pytest.mark.lab
async def test_a_host_without_identity_file_uses_the_default_keys(
    lab_host: HostConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (tmp_path / ".ssh").mkdir()
    shutil.copy(STATE / "id_lab_rsa", tmp_path / ".ssh" / "id_rsa")
    (tmp_path / ".ssh" / "id_rsa").chmod(0o600)
    host = SshHost(host_variant(lab_host, identity_file=""))
    try:
        await host.start()
        assert await host.wait_up(20), host.reason
        assert (await host.run(["echo", "in"])).stdout == "in\n"
    finally:
        await host.close()


@pytest.mark.lab
async def test_a_host_whose_key_cannot_be_loaded_says_which_and_why(
    lab_host: HostConfig, tmp_path: Path
) -> None:
    missing = tmp_path / "id_gone"
    locked = tmp_path / "id_locked"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(
        str(locked), format_name="pkcs8-pem", passphrase="secret")
    for path, why in ((missing, "No such file or directory"), (locked, "assphrase")):
        host = SshHost(host_variant(lab_host, identity_file=str(path)), backoff_first=5)
        try:
            await host.start()
            assert not await host.wait_up(2)
            assert f"cannot load identity_file {path}" in host.reason
            assert why in host.reason
        finally:
            await host.close()
