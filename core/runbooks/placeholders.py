"""Find placeholders and clear-text secrets in imported commands and text.

Placeholders (``<server-ip>``, ``YOUR_SERVER_IP``, ``[PASSWORD]``, ``abc123``,
``HEAD~1`` in a rollback, ``YYYYMMDD``, ``example.com`` …) must never run as
written: they become runbook variables the operator is asked for, or a
variable warroom fills from the host config when the name says what it is
(``<server-ip>`` is the host's address, ``[service]`` the service).
Secrets written in clear become secret variables, and the import warns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.redact import MASK, redact

CONTEXT_SYNONYMS = {
    "address": "server_ip server server_address host_ip hostname host_name hetzner_ip vps_ip "
               "droplet_ip public_ip server_host host_address ssh_host remote_host host",
    "service": "service service_name svc compose_service",
    "container": "container container_name container_id",
    "db": "db database db_name database_name dbname",
    "db_user": "db_user database_user pg_user postgres_user dbuser db_username",
    "project_dir": "project_dir app_dir project_path app_path deploy_dir project_directory",
    "url": "url health_url healthcheck_url",
    "mount": "mount mountpoint mount_point",
}
_SYNONYM = {word: var for var, words in CONTEXT_SYNONYMS.items() for word in words.split()}


@dataclass(frozen=True)
class Found:
    """A placeholder or secret in a text: its span, the variable it becomes, and why."""

    start: int
    end: int
    text: str
    name: str
    kind: str  # "placeholder" or "secret"
    what: str = ""  # for secrets: what kind (password, token …), never the value


def variable_name(raw: str) -> str:
    """A variable name for a placeholder's text (``<server-ip>`` → ``address``)."""
    text = raw.strip("<>[]{} ")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    name = re.sub(r"^(your|my|the|dein|ihr|votre)_", "", name)
    if not name:
        name = "value"
    if name[0].isdigit():
        name = "v_" + name
    return _SYNONYM.get(name, name)


_ANGLE = re.compile(r"(?<![<\w])<([A-Za-z][A-Za-z0-9 _.\-/:]{0,40}[A-Za-z0-9]|[A-Za-z])>(?!>)")
_BRACKET = re.compile(r"\[([A-Za-z][A-Za-z0-9 _\-]{1,40})\](?![(\[])")
_MOUSTACHE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_YOUR = re.compile(r"(?<![\w$])(?:YOUR|Your|your|MY)[_-][A-Za-z0-9_-]*[A-Za-z0-9]|"
                   r"(?<![\w$])your(?:domain|server|host|app|project|user|password|token|ip)\b")
_DOMAIN = re.compile(
    r"(?<![\w.-])(?:[A-Za-z0-9-]+\.)*(?:your-?domain|mydomain|my-domain|example|domain)"
    r"\.(?:com|org|net|tld|io|de)(?![\w-])"
)
_FAKE = re.compile(
    r"(?<![\w.-])(abc123\w*|a1b2c3\w*|123abc\w*|deadbeef|changeme|change_me|CHANGEME|"
    r"CHANGE_ME|REPLACE_ME|replace_me|x{3,}|X{3,})(?![\w-])"
)
_TIMESTAMP = re.compile(r"(?<![A-Za-z])(YYYY-?MM-?DD(?:[_T-]?HH(?::|-)?MM(?:(?::|-)?SS)?)?|"
                        r"YYYYMMDD(?:[_T-]?HHMM(?:SS)?)?|HH:MM(?::SS)?)(?![A-Za-z])")
_IP = re.compile(r"(?<![\w.])(?:[xX]{1,3}\.[xX]{1,3}\.[xX]{1,3}\.[xX]{1,3}|"
                 r"192\.0\.2\.\d{1,3}|198\.51\.100\.\d{1,3}|203\.0\.113\.\d{1,3})(?![\w.])")
_PATH = re.compile(r"(?<![\w.])/path/to/[\w./-]*[\w]")
_GIT = re.compile(r"\bgit\s+(?:-C\s+\S+\s+)?(reset|checkout|revert|switch|rebase|cherry-pick|"
                  r"branch\s+-f|tag)\b[^|;&\n]*")
_GIT_REF = re.compile(r"(?<![\w/~^.-])(HEAD(?:[~^]\d*)+|[0-9a-f]{6,40})(?![\w~^.-])")


def _quoted_single(text: str, pos: int) -> bool:
    state = ""
    for ch in text[:pos]:
        if state == "'":
            state = "" if ch == "'" else state
        elif state == '"':
            state = "" if ch == '"' else state
        elif ch in "'\"":
            state = ch
    return state == "'"


def _name_for(kind: str, text: str) -> str:
    if kind == "domain":
        labels = text.lower().split(".")
        return variable_name(labels[0] + "_host") if len(labels) > 2 else "domain"
    if kind == "timestamp":
        return "timestamp"
    if kind == "ip":
        return "ip"
    if kind == "path":
        last = text.rstrip("/").rsplit("/", 1)[-1]
        return variable_name(last.split(".")[0] + "_path")
    if kind == "git":
        return "commit"
    if kind == "fake":
        return "value"
    return variable_name(text)


def find_placeholders(command: str) -> list[Found]:
    """Placeholders in a shell command or SQL text, in order, without overlaps."""
    candidates: list[tuple[int, int, str, str]] = []  # start, end, text, kind
    rank = {"git": 0, "secret": 0}
    for pattern, kind in (
        (_ANGLE, "angle"),
        (_MOUSTACHE, "moustache"),
        (_DOMAIN, "domain"),
        (_YOUR, "your"),
        (_TIMESTAMP, "timestamp"),
        (_IP, "ip"),
        (_PATH, "path"),
        (_FAKE, "fake"),
        (_BRACKET, "bracket"),
    ):
        for m in pattern.finditer(command):
            if kind == "bracket":
                before = command[: m.start()]
                attached = bool(re.search(r"[\w$\[{]$", before)) and not re.search(
                    r"(^|\s)-\w$|[=:@/]$", before
                )
                if attached or _quoted_single(command, m.start()) or re.fullmatch(
                    r"[a-zA-Z]-[a-zA-Z0-9]|[a-z]{1,2}", m.group(1)
                ):
                    continue
            candidates.append((m.start(), m.end(), m.group(0), kind))
    for m in _GIT.finditer(command):
        for ref in _GIT_REF.finditer(m.group(0)):
            start = m.start() + ref.start()
            candidates.append((start, start + len(ref.group(0)), ref.group(0), "git"))
    candidates.sort(key=lambda c: (c[0], rank.get(c[3], 1), -(c[1] - c[0])))
    found: list[Found] = []
    last_end = -1
    for start, end, text, kind in candidates:
        if start < last_end:
            continue
        inner = text
        if kind in ("angle", "bracket", "moustache"):
            inner = re.sub(r"^[<\[{]+\s*|\s*[>\]}]+$", "", text)
        name = _name_for(kind, inner)
        secret = re.search(r"(?i)pass(word|wd)?|secret|token|api_?key|passwort|kennwort", name)
        found.append(Found(start, end, text, name, "placeholder", "secret" if secret else ""))
        last_end = end
    return found


_SECRET_KEY_NAMES = {
    "pgpassword": "db_password", "mysql_pwd": "db_password", "postgres_password": "db_password",
    "mysql_password": "db_password", "mysql_root_password": "db_password",
    "redis_password": "redis_password",
}
_EXTRA_SECRETS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"\b(?:mysql\w*|mariadb\w*)\b[^|;&\n]*?\s-p(?P<v>[^\s'\"-][^\s'\"]*)"),
     "db_password", "a MySQL password (-p…)"),
    (re.compile(r"(?:^|\s)--password(?:=|\s+)(?P<q>['\"]?)(?P<v>[^\s'\"]+)(?P=q)"),
     "password", "a password (--password)"),
    (re.compile(r"\b(?:redis-cli|valkey-cli)\b[^|;&\n]*?\s(?:-a|--pass)\s+(?P<q>['\"]?)"
                r"(?P<v>[^\s'\"]+)(?P=q)"), "redis_password", "a Redis password (-a)"),
    (re.compile(r"(?i)\bAUTH\s+(?P<q>['\"]?)(?P<v>[^\s'\"]{4,})(?P=q)"),
     "redis_password", "a Redis password (AUTH)"),
    (re.compile(r"\bcurl\b[^|;&\n]*?\s(?:-u|--user)\s+(?P<q>['\"]?)[^\s:'\"]+:"
                r"(?P<v>[^\s'\"]+)(?P=q)"),
     "password", "a password (curl -u user:…)"),
    (re.compile(r"(?:^|\s)--(?:token|api-key|apikey|secret|access-key|secret-key)(?:=|\s+)"
                r"(?P<q>['\"]?)(?P<v>[^\s'\"]+)(?P=q)"), "token", "a token"),
    (re.compile(r"(?i)\b(?:x-api-key|api-key|x-auth-token|private-token):\s*(?P<v>[^\s'\"]{6,})"),
     "token", "an API key header"),
]


def _is_reference(value: str) -> bool:
    """True for values that name a secret rather than contain it ($VAR, <placeholder> …)."""
    return bool(
        re.match(r"^[\"']?(\$|<|\[|\{|\*{3}|x{3,}|X{3,}|\.\.\.)", value)
        or value.upper() in ("PASSWORD", "SECRET", "TOKEN", "CHANGEME")
        or MASK in value
    )


def _key_before(text: str, start: int) -> str:
    m = re.search(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*['\"]?$", text[:start])
    return m.group(1) if m else ""


def _redacted_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`core.redact.redact` masks ``text`` (the kept pieces, found in order)."""
    redacted = redact(text)
    if redacted == text:
        return []
    pieces = redacted.split(MASK)
    if not text.startswith(pieces[0]):
        return []
    spans: list[tuple[int, int]] = []
    pos = len(pieces[0])
    for i, piece in enumerate(pieces[1:], 1):
        idx = len(text) if (i == len(pieces) - 1 and piece == "") else text.find(piece, pos)
        if idx == -1:
            return []
        spans.append((pos, idx))
        pos = idx + len(piece)
    return [(a, b) for a, b in spans if b > a]


def find_secrets(text: str) -> list[Found]:
    """Clear-text secrets in ``text``: every span :func:`core.redact.redact` masks, and more."""
    spans: list[tuple[int, int, str, str]] = []
    for a0, a1 in _redacted_spans(text):
        value = text[a0:a1]
        if not value.strip() or _is_reference(value):
            continue
        key = _key_before(text, a0)
        if "://" in text[max(0, a0 - 60) : a0] and text[a1 : a1 + 1] == "@":
            name, what = "password", "a password in a URL"
        elif re.search(r"(?i)bearer\s*$", text[:a0]):
            name, what = "token", "a bearer token"
        elif key:
            name = _SECRET_KEY_NAMES.get(key.lower(), variable_name(key))
            what = f"{key}=…"
        elif value.startswith("eyJ"):
            name, what = "token", "a JSON web token"
        elif value.startswith(("sk_", "rk_")):
            name, what = "api_key", "an API key"
        elif value.startswith(("AKIA", "ASIA")):
            name, what = "aws_access_key_id", "an AWS access key"
        else:
            name, what = "secret", "a secret"
        spans.append((a0, a1, name, what))
    for pattern, name, what in _EXTRA_SECRETS:
        for m in pattern.finditer(text):
            value = m.group("v")
            if _is_reference(value):
                continue
            spans.append((m.start("v"), m.end("v"), name, what))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    found: list[Found] = []
    last = -1
    for start, end, name, what in spans:
        if start < last:
            continue
        found.append(Found(start, end, text[start:end], name, "secret", what))
        last = end
    return found


_PROSE_SECRET = re.compile(
    r"(?i)\b(password|passwort|kennwort|pwd|mot de passe|contraseña|token|secret|api[ _-]?key)"
    r"(\s*(?:is|ist|est|lautet|:|=)\s*)(?P<q>[`'\"]?)(?P<v>[^\s`'\"]{4,})(?P=q)"
)


def mask_secrets(text: str) -> tuple[str, list[str]]:
    """Prose with clear-text secrets replaced by ``[secret removed]``, and what was removed."""
    removed: list[str] = []
    spans = [(f.start, f.end, f.what) for f in find_secrets(text)]
    for m in _PROSE_SECRET.finditer(text):
        if not _is_reference(m.group("v")) and not re.fullmatch(r"[`<\[{].*", m.group("v")):
            spans.append((m.start("v"), m.end("v"), f"a {m.group(1).lower()}"))
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end, what in spans:
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append("[secret removed]")
        removed.append(what)
        pos = end
    out.append(text[pos:])
    return "".join(out), removed
