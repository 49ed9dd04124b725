"""Regular expressions people type: runbook output checks, log filters."""

from __future__ import annotations

import re


def compile_pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile``, with every way a bad pattern fails raised as ``re.error``.

    ``a{4294967296}`` makes ``re.compile`` raise OverflowError, and a few
    hundred nested groups RecursionError; a caller that handles bad patterns
    by catching ``re.error`` must see those too.
    """
    try:
        return re.compile(text, flags)
    except (OverflowError, RecursionError) as exc:
        raise re.error(str(exc)) from None
