"""asyncssh, imported without its slow search for a library that is not there.

asyncssh's post-quantum module looks for liboqs when it is imported: two
``ctypes.util.find_library`` calls.  On Linux each runs ``ldconfig -p`` and,
where a compiler is installed, ``gcc`` and ``ld``: about 25 ms of the
console's start-up, plus as much CPU in those children, on every launch,
almost always to find nothing.  The dynamic loader can only load a library
it finds in its cache (``/etc/ld.so.cache``), on ``LD_LIBRARY_PATH`` or in
the system's library directories, so while asyncssh is imported,
:func:`find_library_quickly` first looks there for a file of that name.
Where one might be, the real search runs as before; where none is, the
answer is None, as the search's would be.

Import asyncssh as ``from core.hosts.sshlib import asyncssh``.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
from collections.abc import Iterator
from pathlib import Path

LOADER_CACHE = Path("/etc/ld.so.cache")
SYSTEM_LIBRARY_DIRS = (
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
)


def might_be_installed(
    name: str,
    environ: dict[str, str] | None = None,
    cache: Path = LOADER_CACHE,
    directories: tuple[str, ...] = SYSTEM_LIBRARY_DIRS,
) -> bool:
    """Whether ``lib<name>.so`` could be found: named in the loader's cache
    (or the cache is unreadable), or a file of that name is on
    ``LD_LIBRARY_PATH`` or in a system library directory."""
    stem = f"lib{name}.so"
    try:
        if stem.encode() in cache.read_bytes():
            return True
    except OSError:
        return True  # no cache to go by: let the real search decide
    env = os.environ if environ is None else environ
    extra = tuple(d for d in env.get("LD_LIBRARY_PATH", "").split(":") if d)
    for directory in extra + directories:
        try:
            if any(entry.startswith(stem) for entry in os.listdir(directory)):
                return True
        except OSError:
            continue
    return False


@contextlib.contextmanager
def find_library_quickly() -> Iterator[None]:
    """Within the block, ``ctypes.util.find_library`` answers None at once for a
    library that :func:`might_be_installed` rules out."""
    real = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        return real(name) if might_be_installed(name) else None

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = real


with find_library_quickly():
    import asyncssh as asyncssh  # (an explicit re-export: this module's point)

__all__ = ["asyncssh", "find_library_quickly", "might_be_installed"]
