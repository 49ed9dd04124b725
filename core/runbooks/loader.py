"""Read runbook files: :func:`parse_runbook` for text, :func:`load_runbook` for a path.

A runbook with any error is refused with a :class:`RunbookError` naming the
file, the line, the step and the key of every error (see
:mod:`core.runbooks.validate`); warnings do not stop it from loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.runbooks.model import Runbook
from core.runbooks.validate import Problem, analyze


class RunbookError(Exception):
    """A runbook file cannot be used.  ``str()`` lists every error, one per line."""

    def __init__(self, file: str, problems: Iterable[Problem]) -> None:
        self.file = file
        self.problems = [p for p in problems if p.level == "error"]
        if not self.problems:
            self.problems = [Problem(file, "invalid runbook")]
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def message(self) -> str:
        """The first error's message (without the location)."""
        return self.problems[0].message


def read_text(path: Path | str) -> str:
    """The UTF-8 text of a runbook file (``RunbookError`` if it cannot be read)."""
    file = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunbookError(file, [Problem(file, "no such file")]) from None
    except IsADirectoryError:
        raise RunbookError(file, [Problem(file, "is a directory, not a runbook file")]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise RunbookError(file, [problem]) from None
    except OSError as exc:
        raise RunbookError(file, [Problem(file, f"cannot read: {exc.strerror}")]) from None


def parse_runbook(text: str, file: str = "<runbook>") -> Runbook:
    """Parse and check runbook TOML ``text`` (``RunbookError`` if it has any error)."""
    runbook, problems = analyze(text, file)
    if runbook is None:
        raise RunbookError(file, problems)
    return runbook


def load_runbook(path: Path | str) -> Runbook:
    """Read, parse and check the runbook file at ``path``."""
    return parse_runbook(read_text(path), str(path))


def runbook_files(directory: Path | str) -> list[Path]:
    """The ``*.toml`` files under ``directory`` (recursively), in a stable order."""
    root = Path(directory)
    return sorted(p for p in root.rglob("*.toml") if p.is_file())
