"""Fenced code blocks of a Markdown runbook → steps.

Shell blocks: each command (``\\`` continuations joined, loops kept whole)
becomes a ``check`` when it only reads and an ``action`` when it changes
state, destructive ones marked for typed confirmation; the comments above
a command explain it; comment-only groups are manual steps; "# If …"
comments guard the commands after them with a decision.  SQL blocks:
read-only queries become ``check`` steps for the SQL runner, the rest manual
steps showing the SQL.  Other languages: manual steps showing the snippet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.runbooks.classify_base import words
from core.runbooks.commands import Effect, classify, classify_sql, is_known_program
from core.runbooks.markdown import Block
from core.runbooks.mddraft import Build, Decision, Draft, Node
from core.runbooks.placeholders import mask_secrets
from core.runbooks.shellwords import is_complete
from core.runbooks.sqlclass import looks_like_sql
from core.runbooks.template import unescape

SHELL_LANGS = {"bash", "sh", "shell", "zsh", "console", "terminal", "shell-session", "shellsession",
               "ksh", "fish", "powershell-unused", "cmd-unused"}
SQL_LANGS = {"sql", "psql", "postgresql", "postgres", "pgsql", "mysql", "plpgsql", "sqlite", "tsql"}
GUESS_LANGS = {"", "text", "txt", "plaintext", "plain", "none"}

SHELL_WORDS = frozenset(
    words(
        """mailq postqueue postfix postsuper exim rabbitmqctl supervisorctl pm2 php artisan
        node java mvn gradle terraform ansible ansible-playbook helm k9s consul nomad vault
        etcdctl memcached-tool varnishadm varnishstat haproxy traefik pg_upgradecluster
        pgbouncer mongodump mongorestore influx promtool amtool logrotate rclone restic borg"""
    )
)
"""Programs the classifier does not judge, but which tell a code block holds shell commands."""

_CONDITIONAL = re.compile(
    r"(?i)^\W*(if|when|in case|should|only if|falls|wenn|sofern|nur wenn|si|en cas de|cuando)\b"
    r"(?!\s+to use)(?=\s+\S)"
)
_OTHERWISE = re.compile(
    r"(?i)^\W*(otherwise|else|if not|sonst|andernfalls|ansonsten|sinon|si no|de lo contrario)\b"
)
_WAIT = re.compile(r"(?i)^\W*(wait|warte|attendre|esperar|give it)\b")
_DESCRIPTIVE = re.compile(
    r"(?i)^\W*(the |this |it |that |these |expected|output|should |will |returns?|note|→|=>|"
    r"e\.g\.|i\.e\.|erwartet|ausgabe|hinweis|if .{0,40}(proceed|continue|fine|ok))"
)
_EXPECTED = re.compile(r"(?i)^\W*(?:expected(?: output)?|erwartet|should (?:show|print|return|be))"
                       r"\s*:?\s*[\"'`](?P<v>[^\"'`]{1,60})[\"'`]\s*$")
_DECORATION = re.compile(r"^[\s=#*~_+-]*([^=#*~_+]*?)[\s=#*~_+-]*$")
_CONSOLE_HOST = re.compile(
    r"(?i)(local machine|your machine|your laptop|your computer|workstation|from outside|"
    r"externally|lokalen? rechner|eigenen rechner|depuis votre (machine|poste))"
)
_LONG = re.compile(r"\b(build|pull|restore|pg_restore|pg_dump|mysqldump|backup|apt(-get)?|"
                   r"upgrade|certbot|s3 (cp|sync)|rsync|migrate|vacuum|dump)\b")


@dataclass
class Context:
    """Where a code block sits: the title of its list item or label, and whether it was used."""

    title: str = ""
    used: bool = False


@dataclass
class Entry:
    kind: str  # comment, command, blank, output
    line: int
    text: str
    trailing: str = ""


def conditional(text: str) -> bool:
    """True for "If …" / "Wenn …" / "Falls …" sentences."""
    return bool(_CONDITIONAL.match(text))


def otherwise(text: str) -> bool:
    """True for "Otherwise …" / "Sonst …" sentences."""
    return bool(_OTHERWISE.match(text))


def question_of(text: str) -> tuple[str, str]:
    """The question and the consequence of a conditional ("If X, do Y" → ("X?", "do Y"))."""
    body = text.strip().rstrip(":.")
    m = re.match(r"(?i)^\W*(if|when|in case|should|only if|falls|wenn|sofern|nur wenn|si|"
                 r"en cas de|cuando)\s+(.*)$", body)
    word, rest = (m.group(1), m.group(2)) if m else ("", body)
    parts = re.split(
        r"(?i),?\s*\b(?:then|dann|alors|entonces)\b\s*|,\s+|\s*[:→]\s*", rest, maxsplit=1
    )
    cond = parts[0].strip()
    consequence = parts[1].strip() if len(parts) > 1 else ""
    if word.lower() in ("if", "when", "in case", "should", "only if", ""):
        question = cond[:1].upper() + cond[1:] + "?"
    else:
        question = f"{word[:1].upper()}{word[1:]} {cond}?"
    return question, consequence


def _split_trailing(text: str) -> tuple[str, str]:
    state = ""
    for i, ch in enumerate(text):
        if state:
            if ch == state:
                state = ""
            continue
        if ch in "'\"":
            state = ch
        elif ch == "#" and i > 0 and text[i - 1] in " \t" and not text[:i].rstrip().endswith("$"):
            return text[:i].rstrip(), text[i + 1 :].strip()
    return text, ""


def _comment_text(stripped: str) -> str:
    """A comment line's text: the ``#`` and one space removed, deeper indentation kept."""
    return re.sub(r"^#+ ?", "", stripped).rstrip()


def shell_entries(code: list[tuple[int, str]]) -> list[Entry]:
    """The comments, commands (continuations joined) and blank lines of a shell block."""
    prompt = any(re.match(r"^\s*\$\s+\S", text) for _, text in code)
    entries: list[Entry] = []
    buf: list[str] = []
    start = 0

    def finish() -> None:
        text = "\n".join(buf)
        text = re.sub(r"[ \t]*\\\n[ \t]*", " ", text).strip()
        trailing = ""
        if "\n" not in text:
            text, trailing = _split_trailing(text)
        entries.append(Entry("command", start, text, trailing))
        buf.clear()

    for number, raw in code:
        stripped = raw.strip()
        if buf:
            buf.append(re.sub(r"^\s*>\s", "", raw) if prompt else raw)
            if is_complete("\n".join(buf)):
                finish()
            continue
        if not stripped:
            entries.append(Entry("blank", number, ""))
            continue
        if prompt:
            m = re.match(r"^\s*\$\s+(.*)$", raw)
            if not m:
                kind = "comment" if stripped.startswith("#") else "output"
                entries.append(Entry(kind, number, _comment_text(stripped)))
                continue
            raw = m.group(1)
        elif stripped.startswith("#") and not stripped.startswith("#!"):
            entries.append(Entry("comment", number, _comment_text(stripped)))
            continue
        buf.append(raw)
        start = number
        if is_complete(raw):
            finish()
    if buf:
        finish()
    return entries


def looks_like_shell(code: list[tuple[int, str]]) -> bool:
    """Guess whether an unlabeled block holds shell commands."""
    for _, text in code:
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^\$\s+", "", line)
        word = re.split(r"\s+", line)[0]
        if "=" in word and not word.startswith("="):
            parts = line.split()
            word = next((p for p in parts if "=" not in p), word)
        return is_known_program(word) or word in SHELL_WORDS or word.startswith(("./", "sudo"))
    return False


def _summary(command: str) -> str:
    first = command.split("\n")[0]
    first = re.sub(r"\s+", " ", first).strip()
    return first if len(first) <= 72 else first[:71] + "…"


def _clean_comment(text: str) -> str:
    text = re.sub(r"^\d+[.)]\s+", "", text.strip())
    text = re.sub(r"\s+", " ", text)
    return text.rstrip(":").strip()


def command_nodes(
    entry: Entry, comments: list[str], build: Build, ctx: Context, lang: str = ""
) -> list[Node]:
    """The step(s) for one shell command, explained by the comments written above it."""
    raw = entry.text
    made = build.templatize(raw, entry.line)
    template, dummy = made if made is not None else (raw, raw)
    shown = unescape(template) if made is not None else raw
    verdict = classify(dummy)
    notes = [c for c in comments if c]
    trailing = entry.trailing
    if notes:
        title = _clean_comment(notes[0])
        why_parts = notes[1:] + ([trailing] if trailing else [])
    elif trailing:
        title, why_parts = _clean_comment(trailing), []
    elif ctx.title and not ctx.used:
        title, why_parts = ctx.title, []
    else:
        title, why_parts = _summary(shown), []
    words = raw.split()
    connect = bool(words and words[0] == "ssh" and verdict.interactive)
    if ctx.title and title != ctx.title and not ctx.used:
        why_parts.append(f"({ctx.title})")
    if not connect:
        ctx.used = True
    why = "\n".join(why_parts)
    draft = Draft("check", title, entry.line, why=why, command=template, original=raw)
    everything = " ".join([*comments, trailing, ctx.title, build.context_label])
    if _CONSOLE_HOST.search(everything):
        draft.host = "console"
    m = re.fullmatch(r"cd\s+(\S+)", raw.strip())
    if m:
        build.workdir = template[3:].strip()
        later = "Later steps of this runbook run in this directory."
        draft.why = (why + "\n" if why else "") + later
        return [draft]
    if connect:
        draft.kind = "manual"
        draft.command = ""
        draft.why = ""
        draft.title = title if notes or trailing else "Connect to the server"
        draft.instructions = (
            "warroom already runs the steps on the host over its own SSH connection. To work "
            f"by hand, open a terminal and run:\n{shown}"
        )
        return [draft]
    if verdict.interactive:
        draft.kind = "manual"
        draft.command = ""
        draft.instructions = (
            f"This command needs an interactive terminal; run it in your own SSH session:\n{shown}"
        )
        return [draft]
    draft.kind = "check" if verdict.reads_only else "action"
    if verdict.effect == Effect.DESTRUCTIVE:
        draft.destructive = True
        draft.confirm = "host"
        reasons = ", ".join(verdict.reasons)
        draft.why = (draft.why + "\n" if draft.why else "") + (
            f"Destructive ({reasons}): type the host name to confirm."
        )
    elif draft.kind == "action" and verdict.unknown:
        draft.why = (draft.why + "\n" if draft.why else "") + (
            f"{', '.join(verdict.unknown)} is not a program warroom knows: treated as an action."
        )
    if verdict.endless:
        draft.timeout = 30
        draft.why = (draft.why + "\n" if draft.why else "") + (
            "Follows the output without end: warroom stops it after 30 s."
        )
    elif _LONG.search(raw):
        draft.timeout = 900
    if build.workdir:
        draft.workdir = build.workdir
    elif _needs_project_dir(raw, verdict.programs):
        draft.workdir = "{project_dir}"
    return [draft]


def _needs_project_dir(raw: str, programs: list[str]) -> bool:
    if re.match(r"^\s*cd\s", raw):
        return False
    named = " -p " in raw or "--project-name" in raw
    if re.search(r"\bdocker[ -]compose\b", raw) and not named:
        return True
    if "git" in programs and "-C" not in raw.split():
        return True
    return bool({"npm", "npx", "yarn", "pnpm", "make", "composer"} & set(programs)) or bool(
        re.match(r"^\s*\./", raw)
    )


def _attach(draft: Draft | None, text: str) -> bool:
    if draft is None:
        return False
    m = _EXPECTED.match(text)
    if m and draft.kind in ("check", "action") and "output_contains" not in draft.expect:
        draft.expect["output_contains"] = m.group("v")
    draft.why = (draft.why + "\n" if draft.why else "") + text
    return True


def shell_nodes(block: Block, build: Build, ctx: Context) -> list[Node]:
    """The steps of a shell code block."""
    entries = shell_entries(block.code)
    nodes: list[Node] = []
    groups: list[list[Entry]] = [[]]
    for entry in entries:
        if entry.kind == "blank":
            if groups[-1]:
                groups.append([])
        else:
            groups[-1].append(entry)
    last: Draft | None = None
    for group in (g for g in groups if g):
        commands = [e for e in group if e.kind == "command"]
        if not commands:
            texts = [e.text for e in group if e.kind == "comment" and e.text]
            outputs = [e.text for e in group if e.kind == "output"]
            if outputs and last is not None:
                _attach(last, "Expected output:\n" + "\n".join(outputs))
            if not texts:
                continue
            if all(_DECORATION.fullmatch(t) and re.match(r"^[=#*~_+-]{3,}", t) for t in texts):
                build.context_label = _DECORATION.fullmatch(texts[0]).group(1).strip()  # type: ignore[union-attr]
                continue
            if last is not None and _DESCRIPTIVE.match(texts[0]) and not conditional(texts[0]):
                _attach(last, "\n".join(texts))
                continue
            nodes.append(Draft("manual", _clean_comment(texts[0]), group[0].line,
                               instructions="\n".join(texts)))
            last = None
            continue
        seq = nodes
        pending: list[str] = []
        for index, entry in enumerate(group):
            later_command = any(e.kind == "command" for e in group[index + 1 :])
            if entry.kind == "comment":
                text = entry.text
                if re.match(r"^[=#*~_+-]{3,}", text):
                    build.context_label = _DECORATION.fullmatch(text).group(1).strip()  # type: ignore[union-attr]
                    continue
                if not later_command:
                    if not _attach(last, text):
                        pending.append(text)
                    continue
                if conditional(text):
                    question, consequence = question_of(text)
                    decision = Decision(question, entry.line, [("yes", [])])
                    seq.append(decision)
                    seq = decision.branches[0][1]
                    pending = [consequence[:1].upper() + consequence[1:]] if consequence else []
                    continue
                if _WAIT.match(text) and index > 0 and group[index - 1].kind == "command":
                    seq.append(Draft("manual", _clean_comment(text), entry.line, instructions=text))
                    continue
                pending.append(text)
            elif entry.kind == "output":
                _attach(last, "Expected output: " + entry.text)
            else:
                made = command_nodes(entry, pending, build, ctx)
                seq.extend(made)
                tail = made[-1] if made else None
                runs = isinstance(tail, Draft) and tail.kind in ("check", "action")
                last = tail if runs and isinstance(tail, Draft) else None
                pending = []
        if pending:
            nodes.append(Draft("manual", _clean_comment(pending[0]), group[-1].line,
                               instructions="\n".join(pending)))
    return nodes


def _sql_statements(code: list[tuple[int, str]]) -> list[tuple[int, str, list[str]]]:
    """(first line, statement text, leading ``--`` comments) of an SQL block."""
    out: list[tuple[int, str, list[str]]] = []
    buf: list[str] = []
    comments: list[str] = []
    start = 0
    quote = ""
    for number, text in code:
        stripped = text.strip()
        if not buf and stripped.startswith("--"):
            comments.append(stripped.lstrip("-").strip())
            continue
        if not buf and not stripped:
            continue
        if not buf:
            start = number
        buf.append(text)
        for ch in text:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
        if not quote and (stripped.endswith(";") or stripped.startswith("\\")):
            out.append((start, "\n".join(buf).strip(), comments))
            buf, comments = [], []
    if buf:
        out.append((start, "\n".join(buf).strip(), comments))
    elif comments:
        out.append((start or code[0][0], "", comments))
    return out


def _foreign_sql(statement: str, lang: str, title: str) -> str:
    """The other database a query is written for ("MySQL", "SQLite"…), or "" for PostgreSQL."""
    if lang in ("mysql", "tsql", "sqlite") or re.search(r"(?i)\b(mysql|mariadb)\b", title):
        return {"tsql": "SQL Server", "sqlite": "SQLite"}.get(lang, "MySQL")
    if re.search(r"(?i)information_schema\.processlist|\bshow\s+(full\s+)?processlist|`\w+`|"
                 r"\bshow\s+(global\s+)?(status|variables)\b", statement):
        return "MySQL"
    return ""


def sql_nodes(block: Block, build: Build, ctx: Context) -> list[Node]:
    """The steps of an SQL code block: read-only queries run, the rest is shown."""
    nodes: list[Node] = []
    for line, statement, comments in _sql_statements(block.code):
        title = _clean_comment(comments[0]) if comments else (
            ctx.title if ctx.title and not ctx.used else _summary(mask_secrets(statement)[0])
        )
        ctx.used = True
        if not statement:
            nodes.append(Draft("manual", title, line, instructions="\n".join(comments)))
            continue
        effect, reasons = classify_sql(statement)
        made = build.templatize(statement.rstrip().rstrip(";"), line, sql=True)
        foreign = _foreign_sql(statement, block.lang, build.title)
        if foreign and effect == Effect.READ:
            nodes.append(Draft("manual", title, line, instructions=statement, why=(
                f"A {foreign} query: warroom's SQL runner speaks PostgreSQL, so run it in the "
                f"{foreign} client yourself.")))
            continue
        if effect == Effect.READ and not statement.startswith("\\") and made is not None:
            nodes.append(Draft("check", title, line, why="\n".join(comments[1:]),
                               command=made[0], original=statement, runner="sql"))
            continue
        why = (f"State-changing SQL ({', '.join(reasons)}): warroom shows it but does not run it; "
               "review it and run it in psql yourself.") if effect > Effect.READ else (
               "warroom cannot run this through its SQL runner; run it in psql yourself.")
        nodes.append(Draft("manual", title, line, why=why, instructions=statement))
    return nodes


def snippet_nodes(block: Block, build: Build, ctx: Context, lang: str) -> list[Node]:
    """A manual step showing a snippet of another language (config, code, template)."""
    text = "\n".join(code for _, code in block.code).strip("\n")
    if not text.strip():
        build.fragment(block.line, block.end, "empty code block")
        return []
    upper = ("yaml", "yml", "json", "toml", "ini", "sql")
    what = lang.upper() if lang in upper else (lang or "text")
    title = ctx.title if ctx.title and not ctx.used else f"Apply this {what} snippet"
    ctx.used = True
    return [Draft("manual", title, block.line, instructions=text,
                  why=f"A {what} snippet from the source: warroom shows it, you apply it.")]


def fence_nodes(block: Block, build: Build, ctx: Context) -> list[Node]:
    """The steps of any fenced code block, by its language."""
    lang = block.lang
    if lang in GUESS_LANGS:
        text = "\n".join(code for _, code in block.code)
        if looks_like_shell(block.code):
            lang = "bash"
        elif looks_like_sql(text):
            lang = "sql"
    if lang in SHELL_LANGS:
        return shell_nodes(block, build, ctx)
    if lang in SQL_LANGS:
        return sql_nodes(block, build, ctx)
    return snippet_nodes(block, build, ctx, lang)
