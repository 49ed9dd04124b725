"""asyncssh imported without its library search: same algorithms, no child processes."""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.hosts import sshlib
from core.hosts.sshlib import find_library_quickly, might_be_installed

ROOT = Path(__file__).resolve().parent.parent

ALGORITHMS = """
import json, sys
if sys.argv[1] == "plain":
    import asyncssh
else:
    from core.hosts.sshlib import asyncssh
from asyncssh.crypto import pq, umac
print(json.dumps({
    "kex": [a.decode() for a in asyncssh.kex.get_kex_algs()],
    "mac": [a.decode() for a in asyncssh.mac.get_mac_algs()],
    "mlkem": pq.mlkem_available,
    "sntrup": pq.sntrup_available,
    "umac": hasattr(umac, "umac64"),
}))
"""


def _algorithms(how: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", ALGORITHMS, how], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=True)
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


def test_asyncssh_offers_the_same_algorithms_as_a_plain_import() -> None:
    plain, quick = _algorithms("plain"), _algorithms("quick")
    assert quick == plain
    assert plain["kex"]  # (a comparison of two empty lists would prove nothing)


def test_a_library_named_in_the_loader_cache_might_be_installed(tmp_path: Path) -> None:
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(b"\x00glibc-ld.so.cache1.1\x00libnettle.so.8\x00/lib/libnettle.so.8\x00")
    assert might_be_installed("nettle", {}, cache, ())
    assert not might_be_installed("oqs", {}, cache, ())


def test_a_library_on_the_path_or_in_a_system_directory_might_be_installed(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(b"libc.so.6\x00")
    on_path, system = tmp_path / "path", tmp_path / "system"
    on_path.mkdir()
    system.mkdir()
    (on_path / "liboqs.so.7").write_bytes(b"")
    (system / "libnettle.so").write_bytes(b"")
    environ = {"LD_LIBRARY_PATH": f"{tmp_path / 'missing'}::{on_path}"}
    assert might_be_installed("oqs", environ, cache, (str(system),))
    assert might_be_installed("nettle", {}, cache, (str(system),))
    assert not might_be_installed("oqs", {}, cache, (str(system),))


def test_without_a_loader_cache_the_real_search_decides(tmp_path: Path) -> None:
    assert might_be_installed("oqs", {}, tmp_path / "no-such-cache", ())


def test_a_ruled_out_library_is_answered_without_a_child_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ctypes.util.find_library
    asked: list[str] = []

    def searched(name: str) -> str:
        asked.append(name)
        return "x"

    monkeypatch.setattr(ctypes.util, "find_library", searched)
    monkeypatch.setattr(sshlib, "might_be_installed", lambda name: name == "there")
    with find_library_quickly():
        assert ctypes.util.find_library("not-there") is None
        assert ctypes.util.find_library("there") == "x"
    assert asked == ["there"]  # only the library that might be there was searched for
    assert ctypes.util.find_library is searched  # what it was before the block
    monkeypatch.undo()
    assert ctypes.util.find_library is real
