"""Runbooks: the TOML format, the built-in library, lint, and the Markdown importer.

The format is documented in ``core/runbooks/FORMAT.md``.  Typical use::

    from core.runbooks import load_library, host_variables
    library = load_library(config.settings.runbook_dirs)
    runbook = library.match("container.exited")
    values = runbook.resolve_variables(host_variables(host) | incident_values, answers)
    command = runbook.steps[0].render(values)      # every value shell-quoted

The names below are loaded on first use, so importing a light submodule
(``from core.runbooks import signals``) does not pull in the config or the
library: ``core.config`` itself depends on modules that import the signals.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BUILTIN_DIR": "library",
    "LibraryEntry": "library",
    "RunbookLibrary": "library",
    "builtin_library": "library",
    "load_library": "library",
    "match_runbook": "library",
    "LintError": "lint",
    "lint_paths": "lint",
    "lint_text": "lint",
    "RunbookError": "loader",
    "load_runbook": "loader",
    "parse_runbook": "loader",
    "CONSOLE_HOST": "model",
    "CONTEXT_VARIABLES": "model",
    "END": "model",
    "Choice": "model",
    "Expect": "model",
    "Runbook": "model",
    "Step": "model",
    "Variable": "model",
    "host_variables": "model",
    "severity_label": "model",
    "severity_ordinal": "model",
    "sql_output": "model",
    "TemplateError": "template",
    "escape": "template",
    "fill": "template",
    "placeholders": "template",
}

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.runbooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"core.runbooks.{module}"), name)
    globals()[name] = value
    return value
