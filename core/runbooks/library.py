"""The runbook library: the built-in runbooks, then the user's, with user ids winning.

:func:`load_library` reads ``core/runbooks/builtin/*.toml`` and every
``*.toml`` under the configured ``settings.runbook_dirs`` (in order).  A user
runbook whose id is a built-in's replaces it.  A file that cannot be used
is reported in :attr:`RunbookLibrary.errors` and the others still load.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from core.runbooks.loader import RunbookError, load_runbook, runbook_files
from core.runbooks.model import Runbook
from core.runbooks.validate import Problem
from core.stepwise import Steps, finish

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class LibraryEntry:
    """A runbook in the library and where it came from."""

    runbook: Runbook
    path: Path
    builtin: bool
    overrides: Path | None = None  # the built-in file this user runbook replaces


@dataclass(frozen=True)
class RunbookLibrary:
    """Every usable runbook by id, and the errors of the files that could not be used."""

    entries: Mapping[str, LibraryEntry] = field(default_factory=lambda: MappingProxyType({}))
    errors: tuple[RunbookError, ...] = ()

    def __iter__(self) -> Iterator[Runbook]:
        return (entry.runbook for entry in self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, runbook_id: object) -> bool:
        return runbook_id in self.entries

    def get(self, runbook_id: str) -> Runbook | None:
        """The runbook with ``runbook_id``, or None."""
        entry = self.entries.get(runbook_id)
        return entry.runbook if entry else None

    def matching(self, signal: str) -> list[Runbook]:
        """Every runbook that handles ``signal``, best first.

        User runbooks come before built-in ones; then runbooks that handle
        fewer signals (the more specific); then by id.
        """
        found = [e for e in self.entries.values() if signal in e.runbook.match]
        found.sort(key=lambda e: (e.builtin, len(e.runbook.match), e.runbook.id))
        return [e.runbook for e in found]

    def match(self, signal: str) -> Runbook | None:
        """The best runbook for ``signal`` (see :meth:`matching`), or None."""
        found = self.matching(signal)
        return found[0] if found else None


def _error(path: Path | str, message: str) -> RunbookError:
    return RunbookError(str(path), [Problem(str(path), message)])


def failed_library(reason: str) -> RunbookLibrary:
    """An empty library whose one error says why no runbook could be loaded."""
    return RunbookLibrary(errors=(_error("runbooks", f"could not be loaded: {reason}"),))


_builtin: tuple[tuple[LibraryEntry, ...], tuple[RunbookError, ...]] | None = None
"""The built-in runbooks once read (they ship with the code: read once per process)."""


def _builtin_steps() -> Steps[tuple[tuple[LibraryEntry, ...], tuple[RunbookError, ...]]]:
    global _builtin
    if _builtin is None:
        entries: list[LibraryEntry] = []
        errors: list[RunbookError] = []
        for path in runbook_files(BUILTIN_DIR):
            try:
                entries.append(LibraryEntry(load_runbook(path), path, builtin=True))
            except RunbookError as exc:
                errors.append(exc)
            yield
        _builtin = (tuple(entries), tuple(errors))  # (two threads at once: the same, twice)
    return _builtin


def library_steps(
    runbook_dirs: Iterable[str | Path] = (), *, include_builtin: bool = True
) -> Steps[RunbookLibrary]:
    """:func:`load_library` a file at a time: yields after each runbook it reads, and
    returns the library.  For an event loop that must go on answering meanwhile
    (parsing in a thread instead holds up the loop at every system call)."""
    entries: dict[str, LibraryEntry] = {}
    errors: list[RunbookError] = []
    if include_builtin:
        builtin, builtin_errors = yield from _builtin_steps()
        errors.extend(builtin_errors)
        for entry in builtin:
            entries[entry.runbook.id] = entry
    user_seen: dict[str, Path] = {}
    for directory in runbook_dirs:
        root = Path(directory).expanduser()
        try:
            if not root.is_dir():
                errors.append(_error(root, "runbook directory does not exist"))
                continue
            paths = list(runbook_files(root))
        except OSError as exc:
            errors.append(_error(root, f"cannot read the runbook directory: {exc.strerror or exc}"))
            continue
        for path in paths:
            yield
            try:
                runbook = load_runbook(path)
            except RunbookError as exc:
                errors.append(exc)
                continue
            except Exception as exc:  # a checker's own bug costs this runbook, not the console
                errors.append(_error(path, f"could not be checked: {type(exc).__name__}: {exc}"))
                continue
            if runbook.id in user_seen:
                other = user_seen[runbook.id]
                errors.append(_error(path, f"runbook id {runbook.id!r} is already used by {other}"))
                continue
            user_seen[runbook.id] = path
            previous = entries.get(runbook.id)
            overrides = previous.path if previous is not None and previous.builtin else None
            entries[runbook.id] = LibraryEntry(runbook, path, builtin=False, overrides=overrides)
    return RunbookLibrary(MappingProxyType(entries), tuple(errors))


def load_library(
    runbook_dirs: Iterable[str | Path] = (), *, include_builtin: bool = True
) -> RunbookLibrary:
    """The built-in runbooks overridden and extended by those under ``runbook_dirs``."""
    return finish(library_steps(runbook_dirs, include_builtin=include_builtin))


def builtin_library() -> RunbookLibrary:
    """The built-in runbooks only."""
    return load_library(())


def match_runbook(signal: str, library: RunbookLibrary | None = None) -> Runbook | None:
    """The best runbook for ``signal`` in ``library`` (the built-in library by default)."""
    return (library or builtin_library()).match(signal)
