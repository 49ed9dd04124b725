"""Judge what a shell command does: only read, change state, or risk data loss/outage.

:func:`classify` reads a command line with :mod:`core.runbooks.shellwords`
and looks at every program it runs (through ``sudo``, ``docker exec``,
``sh -c``, ``$(...)`` and pipes).  The importer uses it to make ``check``
and ``action`` steps and to mark destructive ones; lint uses it to warn
about checks that look state-changing.  Unknown programs are assumed to
change state.
"""

from __future__ import annotations

from core.runbooks import (  # noqa: F401  (importing them registers the handlers)
    classify_data,
    classify_db,
    classify_services,
    classify_system,
)
from core.runbooks.classify_base import Verdict, classify, classify_argv, is_known_program
from core.runbooks.sqlclass import Effect, classify_sql

__all__ = ["Effect", "Verdict", "classify", "classify_argv", "classify_sql", "is_known_program"]
