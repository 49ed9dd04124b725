"""The client's private keys, loaded once and kept while their files stay the same.

asyncssh loads the client's private keys every time it connects.  A
3072-bit RSA key (``ssh-keygen``'s default type for years) takes over
100 ms of CPU to load, because cryptography checks its consistency: ten
hosts sharing ``~/.ssh/id_rsa`` held the console's event loop for more than
a second at every launch, and again at every reconnect.

:class:`KeyCache` loads each set of key files once, in a thread (the check
runs outside the interpreter lock, so the screen goes on being drawn), for
every host that connects at that moment.  It loads them again when a file,
or its ``-cert.pub``, changed.  It covers a host's ``identity_file``, and
also the default keys (``~/.ssh/id_*``) when ``~/.ssh/config`` cannot name
others.  Where it can (``IdentityFile``, ``IdentitiesOnly``,
``CertificateFile`` or ``Include``), :meth:`KeyCache.client_keys` answers
None and asyncssh chooses the keys, as before.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from core.hosts.sshlib import asyncssh

DEFAULT_KEY_NAMES = (
    "id_ed25519_sk", "id_ecdsa_sk", "id_ed448", "id_ed25519", "id_ecdsa", "id_rsa", "id_dsa",
)
"""asyncssh's default key files under ~/.ssh, in its order (they only decide the cache's
freshness: asyncssh itself loads them)."""

CONFIG_NAMES_KEYS = re.compile(
    rb"^\s*(identityfile|identitiesonly|certificatefile|include)\b", re.IGNORECASE | re.MULTILINE,
)
"""An ssh_config line that may choose other keys than the defaults."""

Signature = tuple[tuple[str, tuple[int, ...] | None], ...]
KeyPairs = Sequence[asyncssh.SSHKeyPair]


def file_stamp(path: Path) -> tuple[int, ...] | None:
    """What ``path`` is now, by its stat (None when it cannot be read): a file that
    was changed, replaced or removed has another stamp."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


def signature(paths: Sequence[Path]) -> Signature:
    """What the files ``paths`` (and their ``-cert.pub``) are now: their stat stamps."""
    every = [p for path in paths for p in (path, Path(f"{path}-cert.pub"))]
    return tuple((str(p), file_stamp(p)) for p in every)


def ssh_config_names_keys(config: Path) -> bool:
    """Whether the ssh_config ``config`` may choose the client's keys (or cannot be read)."""
    try:
        return CONFIG_NAMES_KEYS.search(config.read_bytes()) is not None
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _load_defaults() -> KeyPairs:
    from asyncssh.public_key import load_default_keypairs

    return load_default_keypairs()


class KeyCache:
    """Loaded key pairs by the files they came from; one load at a time per set of files."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[Signature, KeyPairs]] = {}
        self._loading: dict[tuple[int, str, Signature], asyncio.Future[KeyPairs]] = {}

    async def client_keys(self, identity_file: str) -> KeyPairs | None:
        """The key pairs to offer: ``identity_file``'s, else the default keys; None when
        ``~/.ssh/config`` may choose the keys (asyncssh then decides, at each connect).

        Raises what loading them raises (a missing file, a key that needs a passphrase).
        """
        if identity_file:
            path = Path(os.path.expanduser(identity_file))
            return await self._get(str(path), [path], lambda: asyncssh.load_keypairs([path]))
        ssh_dir = Path(os.path.expanduser("~/.ssh"))
        if ssh_config_names_keys(ssh_dir / "config"):
            return None
        paths = [ssh_dir / name for name in DEFAULT_KEY_NAMES]
        return await self._get(f"defaults:{ssh_dir}", paths, _load_defaults)

    async def _get(self, name: str, paths: list[Path], load: Callable[[], KeyPairs]) -> KeyPairs:
        now = signature(paths)
        kept = self._loaded.get(name)
        if kept is not None and kept[0] == now:
            return kept[1]
        slot = (id(asyncio.get_running_loop()), name, now)  # (a future belongs to one loop)
        loading = self._loading.get(slot)
        if loading is None:
            loading = asyncio.ensure_future(asyncio.to_thread(load))
            self._loading[slot] = loading
            loading.add_done_callback(lambda done: self._finished(name, slot, done))
        keys: KeyPairs = await asyncio.shield(loading)  # (a caller that gives up stops no load)
        return keys

    def _finished(self, name: str, slot: tuple[int, str, Signature],
                  done: asyncio.Future[KeyPairs]) -> None:
        self._loading.pop(slot, None)
        if done.cancelled() or done.exception() is not None:
            return  # nothing kept: the next connect loads again (and says why, if it fails)
        self._loaded[name] = (slot[2], list(done.result()))


KEYS = KeyCache()
"""The console's key cache, shared by every host."""
