"""Following the journal directory for events other consoles append (pairing).

:class:`JournalWatcher` polls every ``<journal_dir>/*/journal.jsonl`` (a
``stat`` per file per poll, reading only what grew; the directory is listed
again when its own mtime moves, and at least every :data:`RELIST_SECONDS`),
keeps a byte offset
per file, waits for the newline of a line still being written, and returns
the new events whose ``origin`` is not its own.  Poll every 0.25–0.5 s and
two consoles see each other within a second.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from core.incidents.journal import (
    JOURNAL_NAME,
    Event,
    complete_length,
    parse_lines,
    read_regular,
)
from core.incidents.model import is_incident_id

DEFAULT_INTERVAL = 0.5
RELIST_SECONDS = 5.0
"""Longest a new incident directory can go unlisted if its creation left the mtime unchanged."""


class JournalWatcher:
    """New events in every incident journal under ``root``, from other processes.

    ``origin`` is this console's :attr:`JournalStore.origin`: its own events
    are skipped (pass ``""`` to see everything).  Journals that exist when
    the watcher starts are followed from their current end unless
    ``from_start``; journals created later are read from their start.
    """

    def __init__(
        self,
        root: Path | str,
        origin: str = "",
        interval: float = DEFAULT_INTERVAL,
        from_start: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        self.origin = origin
        self.interval = interval
        self._offsets: dict[str, int] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._listing: list[str] = []
        self._listed: tuple[int, float] | None = None  # root mtime, monotonic time
        if not from_start:
            for path in self._journals():
                try:
                    size = os.stat(path).st_size
                except OSError:
                    continue
                self._offsets[path] = _complete_end(path, size)

    def _journals(self) -> list[str]:
        """The journal paths, listed again only when the directory may have changed."""
        try:
            mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            self._listed = None
            return []
        now = time.monotonic()
        if self._listed is not None and self._listed[0] == mtime \
                and now - self._listed[1] < RELIST_SECONDS:
            return self._listing
        try:
            entries = list(os.scandir(self.root))
        except OSError:  # gone, or not ours to list: nothing to follow
            return []
        self._listing = [
            os.path.join(e.path, JOURNAL_NAME)
            for e in entries
            if is_incident_id(e.name) and e.is_dir(follow_symlinks=False)
        ]
        self._listed = (mtime, now)
        return self._listing

    def poll(self) -> list[Event]:
        """One pass: the new complete events since the last poll (oldest first)."""
        out: list[Event] = []
        for path in self._journals():
            try:
                st = os.stat(path)
            except OSError:
                continue
            signature = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) == signature:
                continue
            self._seen[path] = signature
            offset = self._offsets.get(path, 0)
            if st.st_size < offset:  # replaced or truncated: read it again
                offset = 0
            if st.st_size == offset:
                continue
            events, consumed = parse_lines(_read_from(path, offset, st.st_size - offset))
            self._offsets[path] = offset + consumed
            out.extend(e for e in events if not self.origin or e.get("origin") != self.origin)
        out.sort(key=lambda e: float(e.get("ts", 0.0)))
        return out

    async def watch(self) -> AsyncIterator[list[Event]]:
        """Forever: each non-empty batch of new events, polling every ``interval`` seconds."""
        while True:
            events = await asyncio.to_thread(self.poll)
            if events:
                yield events
            await asyncio.sleep(self.interval)

    def follow(self, stop: Callable[[], bool] = lambda: False) -> Iterator[list[Event]]:
        """Blocking variant of :meth:`watch` (for a thread worker) until ``stop()`` is true."""
        while not stop():
            events = self.poll()
            if events:
                yield events
            time.sleep(self.interval)


def _complete_end(path: str, size: int) -> int:
    """Where a journal's last complete line ends: its size when its last byte is the
    newline (the usual case: one byte read, not the whole journal)."""
    if size and _read_from(path, size - 1, 1) == b"\n":
        return size
    return complete_length(_read_from(path, 0, size))


def _read_from(path: str, offset: int, length: int) -> bytes:
    """What can be read of a journal (nothing if it cannot: it is tried again when it changes)."""
    try:
        return read_regular(path, offset, length)
    except OSError:
        return b""
