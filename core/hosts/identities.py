"""The client's private keys, loaded once and kept while their files stay the same.

asyncssh loads the client's private keys every time it connects.  A
3072-bit RSA key (``ssh-keygen``'s default type for years) takes over
100 ms of CPU to load, because cryptography checks its consistency: ten
hosts sharing ``~/.ssh/id_rsa`` held the console's event loop for more than
a second at every launch, and again at every reconnect.

:class:`KeyCache` loads each set of key files once, in a thread (the check
runs outside the interpreter lock, so the screen goes on being drawn), for
every host that connects at that moment, and loads them again when a file,
or its ``-cert.pub``, changed.  Each connect gets its own copies of the
loaded key pairs: asyncssh sets a pair's signature algorithm (and may attach
a certificate) while it signs in, and one host's choice must not carry over
to the next.

It covers a host's ``identity_file`` and the default keys
(``~/.ssh/id_*``).  Where ``~/.ssh/config`` could change what asyncssh
makes of them, nothing is cached and asyncssh loads the keys at each
connect, as before: for an ``identity_file``, when the config may attach
certificates (``CertificateFile``, or an ``Include`` that could); for the
default keys, when it may also name others (``IdentityFile``,
``IdentitiesOnly``).
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from core.hosts.filestamp import Stamp, file_stamp
from core.hosts.sshlib import asyncssh

DEFAULT_KEY_NAMES = (
    "id_ed25519_sk", "id_ecdsa_sk", "id_ed448", "id_ed25519", "id_ecdsa", "id_rsa", "id_dsa",
)
"""asyncssh's default key files under ~/.ssh, in its order (here they only say whether
the loaded defaults are still current: asyncssh's own list loads them)."""

CONFIG_ATTACHES_CERTS = re.compile(
    rb"^\s*(certificatefile|include)\b", re.IGNORECASE | re.MULTILINE)
"""An ssh_config line that may attach certificates to the client's keys."""

CONFIG_NAMES_KEYS = re.compile(
    rb"^\s*(identityfile|identitiesonly|certificatefile|include)\b",
    re.IGNORECASE | re.MULTILINE)
"""An ssh_config line that may choose other keys than the defaults (or attach certificates)."""

Signature = tuple[tuple[str, Stamp | None], ...]
KeyPairs = Sequence[asyncssh.SSHKeyPair]
ClientKeys = Sequence[asyncssh.SSHKeyPair | str]


def signature(paths: Sequence[Path]) -> Signature:
    """What the files ``paths`` (and their ``-cert.pub``) are now: their stat stamps."""
    every = [p for path in paths for p in (path, Path(f"{path}-cert.pub"))]
    return tuple((str(p), file_stamp(p)) for p in every)


def ssh_config_matches(config: Path, pattern: re.Pattern[bytes]) -> bool:
    """Whether the ssh_config ``config`` has a line ``pattern`` matches (True when the
    file exists but cannot be read: it might)."""
    try:
        return pattern.search(config.read_bytes()) is not None
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
        self._loading: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, Signature], asyncio.Future[KeyPairs]]
        ] = weakref.WeakKeyDictionary()  # (a future belongs to its event loop)

    async def client_keys(self, identity_file: str) -> ClientKeys | None:
        """What to give asyncssh as ``client_keys`` for a host with ``identity_file``
        (or none: ""): copies of the loaded key pairs; the file's path where
        ``~/.ssh/config`` may attach certificates; None for the default keys where
        it may choose the keys, or when there are none (asyncssh then looks itself).

        Raises what loading them raises (a missing file, a key that needs a passphrase).
        """
        config = Path(os.path.expanduser("~/.ssh/config"))
        if identity_file:
            path = Path(os.path.expanduser(identity_file))
            if ssh_config_matches(config, CONFIG_ATTACHES_CERTS):
                return [str(path)]
            return await self._get(str(path), [path], lambda: asyncssh.load_keypairs([path]))
        name = f"defaults:{config.parent}"
        if ssh_config_matches(config, CONFIG_NAMES_KEYS):
            self._loaded.pop(name, None)
            return None
        paths = [config.parent / key for key in DEFAULT_KEY_NAMES]
        return await self._get(name, paths, _load_defaults) or None

    async def _get(self, name: str, paths: list[Path],
                   load: Callable[[], KeyPairs]) -> list[asyncssh.SSHKeyPair]:
        now = signature(paths)
        kept = self._loaded.get(name)
        if kept is not None and kept[0] == now:
            return [copy.copy(pair) for pair in kept[1]]
        loading = self._loading.setdefault(asyncio.get_running_loop(), {})
        slot = (name, now)
        future = loading.get(slot)
        if future is None:
            future = loading[slot] = asyncio.ensure_future(asyncio.to_thread(load))
            future.add_done_callback(lambda done: self._finished(loading, slot, done))
        pairs = await asyncio.shield(future)  # (a caller that gives up stops no load)
        return [copy.copy(pair) for pair in pairs]

    def _finished(self, loading: dict[tuple[str, Signature], asyncio.Future[KeyPairs]],
                  slot: tuple[str, Signature], done: asyncio.Future[KeyPairs]) -> None:
        loading.pop(slot, None)
        name, loaded_signature = slot
        if done.cancelled() or done.exception() is not None:
            self._loaded.pop(name, None)  # nothing kept: the next connect loads again
            return
        self._loaded[name] = (loaded_signature, list(done.result()))


KEYS = KeyCache()
"""The console's key cache, shared by every host."""
