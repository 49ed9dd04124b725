"""The ``warroom runbook`` subcommands as pure functions: arguments in, (exit code, text) out.

``tui/cli.py`` parses the arguments and prints the text; nothing here reads
``sys.argv`` or writes to the terminal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from core.config import SeverityConfig
from core.runbooks.importer import ImportedRunbook, ImportResult, import_markdown, write_runbooks
from core.runbooks.library import builtin_library
from core.runbooks.lint import LintError, has_errors, lint_paths
from core.runbooks.mojibake import decode_bytes

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

DEFAULT_OUT_DIR = "runbooks"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def lint_command(paths: Sequence[str]) -> tuple[int, str]:
    """``warroom runbook lint PATH…``: 0 when no file has an error (warnings allowed), else 1."""
    if not paths:
        return EXIT_USAGE, "warroom runbook lint: name at least one runbook file or directory"
    problems = lint_paths(paths)
    files = {p.file for p in problems}
    checked = _count_files(paths)
    ordered = sorted(problems, key=lambda p: (p.file, p.line or 0, p.step or 0))
    lines = [str(p) for p in ordered]
    errors = sum(1 for p in problems if p.level == "error")
    warnings = len(problems) - errors
    if not problems:
        lines.append(f"{_plural(checked, 'runbook file')} checked: no problems")
    else:
        lines.append(
            f"{_plural(checked, 'runbook file')} checked: {_plural(errors, 'error')}, "
            f"{_plural(warnings, 'warning')} in {_plural(len(files), 'file')}"
        )
    return (EXIT_PROBLEMS if has_errors(problems) else EXIT_OK), "\n".join(lines)


def _count_files(paths: Sequence[str]) -> int:
    count = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            count += sum(1 for p in path.rglob("*.toml") if p.is_file())
        elif path.exists():
            count += 1
    return count


def _kinds(item: ImportedRunbook) -> str:
    steps = item.runbook.steps
    checks = sum(1 for s in steps if s.kind == "check")
    actions = [s for s in steps if s.kind == "action"]
    destructive = sum(1 for s in actions if s.destructive)
    manual = sum(1 for s in steps if s.kind == "manual")
    decisions = sum(1 for s in steps if s.kind == "decision")
    parts = [_plural(checks, "check"), _plural(len(actions), "action")]
    if destructive:
        parts[-1] += f" ({destructive} destructive)"
    parts += [f"{manual} manual", _plural(decisions, "decision")]
    return f"{_plural(len(steps), 'step')}: " + ", ".join(parts)


def _lines(start: int, end: int) -> str:
    return f"line {start}" if end <= start else f"lines {start}–{end}"


def _report(result: ImportResult, scheme: SeverityConfig, written: dict[str, Path],
            dry_run: bool, builtin_ids: set[str]) -> list[str]:
    out = [f"{result.source}: {_plural(len(result.runbooks), 'runbook')}"]
    for item in result.runbooks:
        rb = item.runbook
        if rb.severity is None:
            severity = "severity: none stated"
        else:
            severity = f"severity {scheme.labels[rb.severity]} (from {item.severity_stated!r})"
        where = "not written (dry run)" if dry_run else f"→ {written.get(rb.id, '?')}"
        out.append(f"  {rb.id}  [{_lines(item.line, item.end)}]  {_kinds(item)}")
        out.append(f"      {severity}; match: {', '.join(rb.match) or 'none'}; {where}")
        asked = [n for n, v in rb.variables.items() if v.ask]
        if asked:
            out.append(f"      asks for: {', '.join(asked)}")
        base = rb.id.removesuffix("-imported")
        if rb.id.endswith("-imported") and base in builtin_ids:
            out.append(f"      note: renamed so the built-in runbook {base!r} stays; set id = "
                       f"{base!r} in the file to replace it")
    if result.unmapped:
        out.append("  not imported (could not map):")
        for frag in result.unmapped:
            excerpt = f": {frag.excerpt}" if frag.excerpt else ""
            out.append(f"    {_lines(frag.line, frag.end)}: {frag.reason}{excerpt}")
    if result.skipped:
        out.append("  skipped on purpose:")
        for frag in result.skipped:
            out.append(f"    {_lines(frag.line, frag.end)}: {frag.excerpt} ({frag.reason})")
    if result.warnings:
        out.append("  warnings:")
        for warning in result.warnings:
            where = f"line {warning.line}: " if warning.line else ""
            out.append(f"    {where}{warning.message}")
    return out


def _unique(results: list[ImportResult], builtin_ids: set[str]) -> list[ImportResult]:
    """Rename runbooks whose id a built-in runbook or an earlier file already has.

    Imported runbooks load next to the built-in ones: ``server-unresponsive``
    becomes ``server-unresponsive-imported``.  (To replace a built-in runbook
    on purpose, give the file its id by hand.)
    """
    seen: set[str] = set()
    fixed: list[ImportResult] = []
    for result in results:
        items: list[ImportedRunbook] = []
        for item in result.runbooks:
            rb_id = item.runbook.id
            if rb_id in builtin_ids:
                rb_id = f"{rb_id}-imported"
            base, k = rb_id, 2
            while rb_id in seen:
                rb_id, k = f"{base}-{k}", k + 1
            seen.add(rb_id)
            if rb_id != item.runbook.id:
                renamed = dataclasses.replace(item.runbook, id=rb_id)
                item = dataclasses.replace(item, runbook=renamed)
            items.append(item)
        fixed.append(dataclasses.replace(result, runbooks=tuple(items)))
    return fixed


def import_command(
    files: Sequence[str],
    out_dir: str | Path | None = None,
    dry_run: bool = False,
    stdin_text: str | None = None,
    scheme: SeverityConfig | None = None,
) -> tuple[int, str]:
    """``warroom runbook import FILE.md… [--out DIR] [--dry-run]`` (``-`` reads ``stdin_text``).

    Writes one TOML file per runbook into ``out_dir`` (default ``./runbooks``)
    unless ``dry_run``, and returns the summary: runbooks and their steps,
    severity (or "none stated"), every fragment not mapped with its lines,
    and warnings (secrets removed, text repaired).  Exit 0 when every file
    gave at least one runbook, 1 when a file could not be read or gave none,
    2 for a usage error.
    """
    if not files:
        usage = "warroom runbook import: name at least one Markdown file (or - for stdin)"
        return EXIT_USAGE, usage
    scheme = scheme or SeverityConfig()
    target = Path(out_dir if out_dir is not None else DEFAULT_OUT_DIR).expanduser()
    lines: list[str] = []
    status = EXIT_OK
    results: list[ImportResult] = []
    for name in files:
        if name == "-":
            if stdin_text is None:
                lines.append("-: no standard input to read")
                status = EXIT_PROBLEMS
                continue
            text, source = stdin_text, "<stdin>"
        else:
            try:
                data = Path(name).read_bytes()
            except OSError as exc:
                lines.append(f"{name}: cannot read: {exc.strerror or exc}")
                status = EXIT_PROBLEMS
                continue
            text, note = decode_bytes(data)
            source = name
            if note:
                lines.append(f"{name}: {note}")
        results.append(import_markdown(text, source, scheme))
    builtin_ids = {rb.id for rb in builtin_library()}
    results = _unique(results, builtin_ids)
    written: dict[str, Path] = {}
    if not dry_run and any(r.runbooks for r in results):
        try:
            for result in results:
                for path in write_runbooks(result, target):
                    written[path.stem] = path
        except OSError as exc:
            lines.append(f"cannot write to {target}: {exc}")
            return EXIT_PROBLEMS, "\n".join(lines)
    for result in results:
        lines.extend(_report(result, scheme, written, dry_run, builtin_ids))
        if not result.runbooks:
            status = EXIT_PROBLEMS
    total = sum(len(r.runbooks) for r in results)
    if dry_run:
        lines.append(f"dry run: {_plural(total, 'runbook')} would be written to {target}")
    else:
        lines.append(f"wrote {_plural(total, 'runbook')} to {target}")
    return status, "\n".join(lines)


__all__ = ["LintError", "import_command", "lint_command"]
