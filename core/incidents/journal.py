"""The incident journal: one directory per incident, one JSON line per event, fsynced.

Layout: ``<journal_dir>/<incident-id>/journal.jsonl`` (the report is written
next to it).  Every event is a JSON object with ``v``, ``type``, ``ts``
(epoch seconds), ``operator``, ``incident``, ``origin`` (which console wrote
it) and ``eid`` (unique, so applying an event twice is harmless), plus
fields of its type.  Strings are redacted and command output trimmed to
:data:`OUTPUT_LIMIT` bytes before anything reaches the disk.

Appends take an exclusive ``flock`` on the file, terminate a torn last line
left by a killed writer, write one line and ``fsync`` before returning.
Readers ignore a torn last line, any undecodable line and any event whose
fields do not have the types replay relies on (:func:`well_formed`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from core.durable import append_line, fsync_dir
from core.incidents.model import check_incident_id, is_incident_id
from core.redact import redact

Event = dict[str, Any]
VERSION = 1
JOURNAL_NAME = "journal.jsonl"
OUTPUT_LIMIT = 8 * 1024
"""Bytes of step output kept in the journal (head and tail, the middle trimmed)."""
REDACT_WINDOW = 8 * OUTPUT_LIMIT
"""Huge output is cut to this many bytes before redaction (then to OUTPUT_LIMIT after)."""

DETECTED = "detected"
ACKNOWLEDGED = "acknowledged"
SEVERITY_CHANGED = "severity_changed"
RECOVERED = "recovered"
REOPENED = "reopened"
RESOLVED = "resolved"
MERGED = "merged"
MERGED_FROM = "merged_from"
RUNBOOK = "runbook"
REPORT_FIELDS = "report_fields"
NOTE = "note"
_STRUCTURAL = frozenset({"type", "incident", "origin", "eid", "key"})


def new_origin() -> str:
    """An id for this console process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _cut(data: bytes, limit: int) -> tuple[str, str]:
    head_len = limit // 4
    tail_len = limit - head_len
    return (data[:head_len].decode("utf-8", "ignore"),
            data[-tail_len:].decode("utf-8", "ignore"))


def trim_output(text: str, limit: int = OUTPUT_LIMIT, dropped_before: int = 0) -> tuple[str, int]:
    """``text`` cut to about ``limit`` UTF-8 bytes (first quarter, last three quarters kept).

    Returns the text and how many bytes were dropped (0 if none), counting
    ``dropped_before`` bytes an earlier cut already removed.
    """
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text, dropped_before
    head, tail = _cut(data, limit)
    dropped = len(data) - (limit // 4) - (limit - limit // 4) + dropped_before
    return f"{head}\n… [{dropped} bytes trimmed] …\n{tail}", dropped


def sanitize(value: Any) -> Any:
    """``value`` with every string redacted (recursively through lists and dicts)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: (v if k in _STRUCTURAL else sanitize(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v) for v in value]
    return value


def prepare(event: Event) -> Event:
    """The event as it will be written: output redacted then trimmed, every string redacted.

    Output beyond :data:`REDACT_WINDOW` bytes is cut first (redaction costs
    time in proportion to the text); the final cut keeps only bytes well
    inside that window, so a secret split by the first cut is never kept.
    """
    output = event.get("output")
    dropped_before = 0
    if isinstance(output, str):
        data = output.encode("utf-8", "replace")
        if len(data) > REDACT_WINDOW:
            head, tail = _cut(data, REDACT_WINDOW)
            dropped_before = len(data) - REDACT_WINDOW
            event = {**event, "output": f"{head}\n{tail}"}
    event = sanitize(event)
    if isinstance(event.get("output"), str):
        event["output"], dropped = trim_output(event["output"], OUTPUT_LIMIT, dropped_before)
        if dropped:
            event["output_trimmed"] = dropped
    return event


_TIMES = ("ts", "detected_at")
_INTEGERS = ("severity", "output_trimmed")
_LISTS = ("services", "hosts", "keys", "active_keys")
_TOO_MANY_SECONDS = 1e11  # the year 5138 as a time: larger stamps or durations are damage


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def well_formed(event: Any) -> bool:
    """Whether an event has the shape replay, checklists and reports rely on.

    Journals are plain files: one edited by hand, damaged, or written by a
    console of another version may hold ``"severity": "sev2"`` or
    ``"ts": "yesterday"``.  Such an event is skipped like an undecodable
    line, instead of stopping the console that reads it.
    """
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    # a key that is present must hold its type (readers take .get(key, default), so a
    # JSON null would reach float() or int()); a step's result and the lists may be null
    if any(name in event and not (_is_number(event[name]) and 0 <= event[name] < _TOO_MANY_SECONDS)
           for name in _TIMES):
        return False
    if any(name in event and not _is_integer(event[name]) for name in _INTEGERS):
        return False
    exit_status, duration = event.get("exit_status"), event.get("duration")
    if exit_status is not None and not _is_integer(exit_status):
        return False
    if duration is not None and not (_is_number(duration) and 0 <= duration < _TOO_MANY_SECONDS):
        return False
    if any(event.get(name) is not None and not isinstance(event[name], list) for name in _LISTS):
        return False
    if event["type"] == SEVERITY_CHANGED:  # elsewhere "to" names a checklist step
        return all(name not in event or _is_integer(event[name]) for name in ("from", "to"))
    return True


def read_regular(path: Path | str, offset: int = 0, length: int = -1) -> bytes:
    """``length`` bytes (-1: all) of a regular file from ``offset``.

    Raises OSError for anything else in its place: a pipe would block the
    reader forever, a directory or device is not a journal.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with open(fd, "rb", closefd=False) as handle:
            handle.seek(offset)
            return handle.read(length)
    finally:
        os.close(fd)


def complete_length(data: bytes) -> int:
    """How many bytes of ``data`` its complete lines take (a last line without its
    newline is torn, or still being written)."""
    return data.rfind(b"\n") + 1


def parse_lines(data: bytes) -> tuple[list[Event], int]:
    """Events in the complete lines of ``data`` and how many bytes those lines took.

    A last line without its newline is not consumed (a torn line, or one
    still being written); undecodable lines and events that are not
    :func:`well_formed` are skipped.
    """
    end = complete_length(data)
    if not end:
        return [], 0
    events = [event for line in data[:end - 1].split(b"\n")
              if line.strip() and (event := _event(line)) is not None]
    return events, end


def _event(line: bytes) -> Event | None:
    """One journal line's event; None when it is undecodable or not :func:`well_formed`."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if well_formed(obj) else None


def plainly_resolved(data: bytes) -> bool:
    """Whether replaying journal bytes ``data`` certainly ends in a plain resolution.

    Looks at bytes, parsing one line: the last complete line is a
    well-formed ``resolved`` event whose ``eid`` occurs nowhere else, an
    earlier line is a ``detected`` event, and no line is a ``merged`` event
    (a merged incident's conditions still lead to the one it was merged
    into).  The values are looked for as quoted JSON strings, whatever the
    spacing around them (a journal edited by hand); a quote inside a string
    is escaped, so text cannot match, and a match anywhere else only costs
    a replay.
    Anything else is False, and the journal is replayed as usual.  Lets a
    console leave the history of resolved incidents unreplayed until asked.
    """
    body = data[:complete_length(data)].rstrip(b"\n")
    start = body.rfind(b"\n") + 1
    last = _event(body[start:])
    if last is None or last.get("type") != RESOLVED:
        return False
    eid = last.get("eid")
    if not isinstance(eid, str) or not eid:
        return False
    if b'"merged"' in body:
        return False
    if body.count(json.dumps(eid).encode()) != 1:  # its own line only
        return False
    return 0 <= body.find(b'"detected"') < start


class Journal:
    """One incident's ``journal.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: Event) -> Event:
        """Redact, trim, write one line and fsync; returns the event exactly as written."""
        event = prepare(event)
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        append_line(self.path, line)
        return event

    def read(self) -> list[Event]:
        """Every readable event, oldest first (see :func:`parse_lines` for what is skipped).

        A missing journal has no events; one that cannot be read (permission,
        a directory or a pipe in its place) raises OSError.
        """
        return parse_lines(self.read_bytes())[0]

    def read_bytes(self) -> bytes:
        """The journal as it is on disk (b"" if missing; OSError if it cannot be read)."""
        try:
            return read_regular(self.path)
        except FileNotFoundError:
            return b""


class JournalStore:
    """The journal directory shared by every console (and its pairing partners)."""

    def __init__(
        self,
        root: Path | str,
        operator: str,
        origin: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).expanduser()
        self.operator = operator
        self.origin = origin or new_origin()
        self.clock = clock

    def incident_dir(self, incident_id: str) -> Path:
        """``<root>/<incident-id>`` (the id is checked: no ``..`` or slashes)."""
        return self.root / check_incident_id(incident_id)

    def journal(self, incident_id: str) -> Journal:
        """The journal of one incident."""
        return Journal(self.incident_dir(incident_id) / JOURNAL_NAME)

    def exists(self, incident_id: str) -> bool:
        """Whether the incident has a directory."""
        return is_incident_id(incident_id) and self.incident_dir(incident_id).is_dir()

    def incident_ids(self) -> list[str]:
        """Every incident id with a journal, sorted (ids start with their UTC date).

        A journal this user cannot even look at is listed too, so that reading
        it reports why rather than the incident silently missing.
        """
        try:
            entries = list(os.scandir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return []  # (any other OSError: the directory is there but cannot be listed)
        ids = []
        for entry in entries:
            if not is_incident_id(entry.name):
                continue
            try:
                os.stat(os.path.join(entry.path, JOURNAL_NAME))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError:
                pass
            ids.append(entry.name)
        return sorted(ids)

    def read(self, incident_id: str) -> list[Event]:
        """Every readable event of one incident."""
        return self.journal(incident_id).read()

    def read_bytes(self, incident_id: str) -> bytes:
        """One incident's journal as it is on disk (see :meth:`Journal.read_bytes`)."""
        return self.journal(incident_id).read_bytes()

    def event(self, incident_id: str, kind: str, /, **fields: Any) -> Event:
        """A new event of type ``kind`` stamped with time, operator, incident, origin and eid."""
        event: Event = {"v": VERSION, "type": kind, "ts": round(self.clock(), 3),
                        "operator": self.operator, "incident": incident_id,
                        "origin": self.origin, "eid": uuid.uuid4().hex[:16]}
        event.update(fields)
        event["type"] = kind
        return event

    def append(self, incident_id: str, kind: str, /, **fields: Any) -> Event:
        """Build, write and fsync one event; returns it as written."""
        return self.journal(incident_id).append(self.event(incident_id, kind, **fields))

    def append_event(self, incident_id: str, event: Event) -> Event:
        """Stamp a partly built event (e.g. from :class:`Checklist`), write it, return it."""
        fields = {k: v for k, v in event.items() if k != "type"}
        return self.append(incident_id, str(event["type"]), **fields)

    def create(self, incident_id: str, kind: str, /, **fields: Any) -> Event | None:
        """Make the incident's directory and write its first event; ``None`` if it exists."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.incident_dir(incident_id).mkdir(mode=0o700)
        except FileExistsError:
            return None
        try:
            event = self.append(incident_id, kind, **fields)
        except OSError:  # no half-made incident for the next attempt to trip over
            shutil.rmtree(self.incident_dir(incident_id), ignore_errors=True)
            raise
        fsync_dir(self.incident_dir(incident_id))
        fsync_dir(self.root)
        return event

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive lock on the whole directory (held while opening incidents)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
