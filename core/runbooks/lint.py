"""``warroom runbook lint``: check runbook files and say precisely what is wrong.

Each :class:`LintError` names the file, the line (where it can tell), the
step number and id, the key, and the message; ``level`` is ``"error"`` (the
console would refuse the runbook) or ``"warning"`` (it loads, but looks
wrong: a check that seems to change state, an unused variable …).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.runbooks.loader import RunbookError, read_text, runbook_files
from core.runbooks.validate import Problem, analyze

LintError = Problem
"""One lint finding (an alias of :class:`core.runbooks.validate.Problem`)."""


def lint_text(text: str, file: str = "<runbook>") -> list[LintError]:
    """Every problem in runbook TOML ``text``."""
    return analyze(text, file)[1]


def _files(paths: Iterable[str | Path]) -> tuple[list[Path], list[LintError]]:
    files: list[Path] = []
    problems: list[LintError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = runbook_files(path)
            if not found:
                problems.append(Problem(str(path), "no *.toml runbook files here", level="warning"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(Problem(str(path), "no such file or directory"))
    return files, problems


def lint_paths(paths: Iterable[str | Path]) -> list[LintError]:
    """Lint every runbook file named, or found under a named directory.

    Besides each file's own problems, a runbook id used by two of the files
    is an error.
    """
    files, problems = _files(paths)
    ids: dict[str, Path] = {}
    for path in files:
        try:
            text = read_text(path)
        except RunbookError as exc:
            problems.extend(exc.problems)
            continue
        runbook, found = analyze(text, str(path))
        problems.extend(found)
        if runbook is not None:
            if runbook.id in ids:
                lines = enumerate(text.splitlines(), 1)
                line = next((n for n, raw in lines if raw.startswith("id")), None)
                problems.append(
                    Problem(
                        str(path),
                        f"runbook id {runbook.id!r} is also used by {ids[runbook.id]}",
                        key="id",
                        line=line,
                    )
                )
            else:
                ids[runbook.id] = path
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def has_errors(problems: Iterable[LintError]) -> bool:
    """True when any problem is an error (not only warnings)."""
    return any(p.level == "error" for p in problems)
