"""Secret redaction for everything warroom writes down (audit log, journal, reports).

Each rule keeps enough context to read the line (the key name, the URL's
user and host) and replaces only the secret with ``[REDACTED]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MASK = "[REDACTED]"

_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # -----BEGIN ... PRIVATE KEY----- blocks, whole
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
            re.S,
        ),
        r"-----BEGIN \1PRIVATE KEY-----" + MASK + r"-----END \1PRIVATE KEY-----",
    ),
    # scheme://user:password@host (the user may be empty; the password may hold a raw "@")
    # (starts only where a scheme can start, and never backtracks into it: linear time)
    (
        re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*+://[^\s:/@]*:)[^\s/]+(@)"),
        r"\1" + MASK + r"\2",
    ),
    # Authorization: Bearer xxx / Basic xxx, and bare "Bearer xxx"
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + MASK),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), MASK),
    # Stripe live/test secret and restricted keys
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), MASK),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # KEY=value / KEY: value / "key": "value" assignments whose name says secret;
    # a quoted value is masked whole, spaces and all.  The name is matched from
    # the start of its token, possessively, so long dotted or dashed text
    # costs linear time (a plain \b[A-Z0-9_.-]* start is quadratic there)
    (
        re.compile(
            r"(?i)(?<![A-Z0-9_.-])(?=[A-Z0-9_.-]*?(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY"
            r"|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?))([A-Z0-9_.-]*+)"
            r"(['\"]?\s*[=:]\s*)(?:(['\"])(?:\\.|(?!\3)[^\\\n])*\3|['\"]?[^\s'\"&;]+)"
        ),
        lambda m: f"{m[1]}{m[2]}{m[3] or ''}{MASK}{m[3] or ''}",
    ),
    # psql-style password=xxx inside connection strings
    (re.compile(r"(?i)\b(password\s*=\s*)([^\s'\"]+)"), r"\1" + MASK),
]


def redact(text: str) -> str:
    """``text`` with every secret it recognises replaced by ``[REDACTED]``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
