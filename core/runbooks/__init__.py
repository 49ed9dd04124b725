"""Runbooks: the TOML format, the built-in library, lint, and the Markdown importer.

The format is documented in ``core/runbooks/FORMAT.md``.  Typical use::

    from core.runbooks import load_library, fill
    library = load_library(config.settings.runbook_dirs)
    runbook = library.match("container.exited")
    values = runbook.resolve_variables(host_variables(host) | incident_values, answers)
    command = runbook.steps[0].render(values)      # every value shell-quoted
"""

from __future__ import annotations

from core.runbooks.library import (
    BUILTIN_DIR,
    LibraryEntry,
    RunbookLibrary,
    builtin_library,
    load_library,
    match_runbook,
)
from core.runbooks.lint import LintError, lint_paths, lint_text
from core.runbooks.loader import RunbookError, load_runbook, parse_runbook
from core.runbooks.model import (
    CONSOLE_HOST,
    CONTEXT_VARIABLES,
    END,
    Choice,
    Expect,
    Runbook,
    Step,
    Variable,
    host_variables,
    severity_label,
    severity_ordinal,
    sql_output,
)
from core.runbooks.template import TemplateError, escape, fill, placeholders

__all__ = [
    "BUILTIN_DIR",
    "CONSOLE_HOST",
    "CONTEXT_VARIABLES",
    "END",
    "Choice",
    "Expect",
    "LibraryEntry",
    "LintError",
    "Runbook",
    "RunbookError",
    "RunbookLibrary",
    "Step",
    "TemplateError",
    "Variable",
    "builtin_library",
    "escape",
    "fill",
    "host_variables",
    "lint_paths",
    "lint_text",
    "load_library",
    "load_runbook",
    "match_runbook",
    "parse_runbook",
    "placeholders",
    "severity_label",
    "severity_ordinal",
    "sql_output",
]
