"""Tell read-only SQL from SQL that changes state (and from SQL that loses data).

Used by the shell classifier for ``psql -c``/``mysql -e``/``redis-cli``
arguments, by the importer for SQL code blocks, and by lint for
``runner = "sql"`` checks.  It errs on the safe side: anything it does not
recognise as a read is a change.
"""

from __future__ import annotations

import enum
import re


class Effect(enum.IntEnum):
    """What running something does to the system, from harmless to data-losing."""

    READ = 0
    CHANGE = 1
    DESTRUCTIVE = 2


_READ_STARTS = {
    "select",
    "with",
    "show",
    "explain",
    "values",
    "table",
    "describe",
    "desc",
    "begin",
    "start",
    "commit",
    "rollback",
    "end",
    "set",
    "reset",
    "discard",
    "fetch",
    "declare",
    "close",
    "move",
    "prepare",
    "execute",
    "deallocate",
    "savepoint",
    "release",
    "listen",
    "unlisten",
    "use",
    "help",
    "abort",
}
_DESTRUCTIVE_STARTS = {"drop", "truncate", "delete"}

_STATE_FUNCTIONS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|"
    r"pg_switch_wal|pg_switch_xlog|pg_create_restore_point|pg_promote|pg_wal_replay_pause|"
    r"pg_wal_replay_resume|pg_drop_replication_slot|pg_create_\w*replication_slot|"
    r"pg_replication_slot_advance|setval|nextval|lo_unlink|lo_import|lo_export|"
    r"lo_create|lo_from_bytea|set_config|pg_stat_reset\w*|pg_file_write|pg_file_unlink|"
    r"pg_file_rename|dblink_exec|pg_notify|pg_advisory_\w*lock\w*|pg_try_advisory_\w*lock\w*|"
    r"pg_import_system_collations|pg_log_backend_memory_contexts|pg_backup_start|"
    r"pg_backup_stop|pg_start_backup|pg_stop_backup)\s*\(",
    re.I,
)
_DROP_FUNCTIONS = re.compile(r"\b(pg_drop_replication_slot|lo_unlink)\s*\(", re.I)
_CTE_WRITE = re.compile(r"\(\s*(insert|update|delete|merge)\b", re.I)
_LOCKING = re.compile(r"\bfor\s+(no\s+key\s+update|update|key\s+share|share)\b", re.I)
_SELECT_INTO = re.compile(r"^\s*select\b(?:(?!\bfrom\b).)*\binto\b", re.I | re.S)
_PSQL_META_READ = re.compile(
    r"^\\(d\w*\+?|l\+?|list|dn\+?|du\+?|dt\+?|di\+?|dv\+?|df\+?|conninfo|x|timing|"
    r"q|\?|h|encoding|echo|pset|a|t|H|sf\+?|sv\+?|z|dp|ds)\b"
)


def strip_sql(text: str) -> str:
    """``text`` with comments removed and string, identifier and dollar quotes emptied."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            out.append(" ")
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                if text[j] == "\\" and ch != '"':
                    j += 2
                    continue
                j += 1
            out.append(ch + ch)
            i = j + 1
            continue
        if ch == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
            if m:
                tag = m.group(0)
                end = text.find(tag, i + len(tag))
                out.append("''")
                i = n if end == -1 else end + len(tag)
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def statements(text: str) -> list[str]:
    """The statements of ``text`` (comments and literals emptied), split on ``;``."""
    return [s.strip() for s in strip_sql(text).split(";") if s.strip()]


def _statement(stmt: str) -> tuple[Effect, str]:
    if stmt.startswith("\\"):
        if _PSQL_META_READ.match(stmt):
            return Effect.READ, ""
        return Effect.CHANGE, f"psql command {stmt.split()[0]}"
    words = stmt.split()
    first = words[0].lower().rstrip("(")
    if first == "explain":
        rest = re.sub(r"^explain\s*(\([^)]*\))?\s*", "", stmt, flags=re.I)
        is_analyze = re.search(r"^explain\s*(\([^)]*\banalyze\b[^)]*\)|analyze\b)", stmt, re.I)
        rest = re.sub(r"^(analyze|verbose)\s+", "", rest, flags=re.I)
        if is_analyze and rest:
            return _statement(rest)
        return Effect.READ, ""
    if first in _DESTRUCTIVE_STARTS:
        return Effect.DESTRUCTIVE, f"SQL {first.upper()}"
    if first == "alter" and re.search(r"\bdrop\b", stmt, re.I):
        return Effect.DESTRUCTIVE, "SQL ALTER … DROP"
    if first == "update" and not re.search(r"\bwhere\b", stmt, re.I):
        return Effect.DESTRUCTIVE, "SQL UPDATE without WHERE"
    if first == "copy":
        if re.search(r"\bto\s+stdout\b", stmt, re.I):
            return Effect.READ, ""
        return Effect.CHANGE, "SQL COPY"
    if first not in _READ_STARTS:
        return Effect.CHANGE, f"SQL {first.upper()}"
    if first == "set" and re.match(r"(?i)set\s+(global|persist\w*|@@global)", stmt):
        return Effect.CHANGE, "SQL SET GLOBAL"
    cte = _CTE_WRITE.search(stmt)
    if cte:
        verb = cte.group(1).upper()
        return (Effect.DESTRUCTIVE if verb == "DELETE" else Effect.CHANGE), f"SQL {verb}"
    if _DROP_FUNCTIONS.search(stmt):
        return Effect.DESTRUCTIVE, _DROP_FUNCTIONS.search(stmt).group(1)  # type: ignore[union-attr]
    func = _STATE_FUNCTIONS.search(stmt)
    if func:
        return Effect.CHANGE, func.group(1)
    if _LOCKING.search(stmt):
        return Effect.CHANGE, "SQL row lock (FOR UPDATE/SHARE)"
    if (
        first == "select"
        and _SELECT_INTO.search(stmt)
        and not re.search(r"\binto\s+(outfile|dumpfile)\b", stmt, re.I)
    ):
        return Effect.CHANGE, "SQL SELECT INTO"
    if re.search(r"\binto\s+(outfile|dumpfile)\b", stmt, re.I):
        return Effect.CHANGE, "SQL INTO OUTFILE"
    return Effect.READ, ""


def classify_sql(text: str) -> tuple[Effect, tuple[str, ...]]:
    """The worst effect of any statement in ``text`` and what caused it."""
    effect = Effect.READ
    reasons: list[str] = []
    for stmt in statements(text):
        this, reason = _statement(stmt)
        if reason and reason not in reasons:
            reasons.append(reason)
        effect = max(effect, this)
    return effect, tuple(reasons)


def looks_like_sql(text: str) -> bool:
    """True when ``text`` starts like an SQL statement (used to guess unlabeled code blocks)."""
    body = strip_sql(text).strip()
    return bool(
        re.match(
            r"(?i)(select|with|show|explain|insert|update|delete|create|alter|drop|truncate|"
            r"grant|revoke|vacuum|analyze|begin|set|copy|reindex)\b[^\n]*",
            body,
        )
    ) and not re.match(r"(?i)(set|show)\s+-", body)
