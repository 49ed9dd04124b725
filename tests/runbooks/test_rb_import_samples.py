"""The two sample runbooks of ../shared/examples/runbooks import faithfully."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.runbooks.commands import Effect, classify
from core.runbooks.importer import ImportResult, import_markdown
from core.runbooks.lint import lint_text
from core.runbooks.mojibake import repair
from core.runbooks.writer import dumps

from .conftest import SAMPLES, sample_files

pytestmark = pytest.mark.skipif(
    not sample_files(), reason=f"sample runbooks not found in {SAMPLES}"
)

SHELL = {"bash", "sh", "shell", "console", ""}


def _import(path: Path) -> ImportResult:
    return import_markdown(path.read_text(encoding="utf-8"), path.name)


def _strip_trailing_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i and line[i - 1] in " \t":
            return line[:i].rstrip()
    return line


def _shell_commands(text: str) -> list[tuple[int, str]]:
    """Every shell command of the document's fenced shell blocks (written independently)."""
    out: list[tuple[int, str]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang = m.group(1).lower()
        j = i + 1
        body: list[tuple[int, str]] = []
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            body.append((j + 1, lines[j].strip()))
            j += 1
        if lang in SHELL:
            pending = ""
            start = 0
            depth = 0
            for number, line in body:
                if not pending and (not line or line.startswith("#")):
                    continue
                if depth:
                    depth += len(re.findall(r"\bdo\b", line)) - len(re.findall(r"\bdone\b", line))
                    continue
                if not pending:
                    start = number
                pending = (pending + " " + line) if pending else line
                if pending.endswith("\\"):
                    pending = pending[:-1].rstrip()
                    continue
                command = _strip_trailing_comment(pending)
                depth = len(re.findall(r"\bdo\b", command)) - len(re.findall(r"\bdone\b", command))
                out.append((start, command))
                pending = ""
        i = j + 1
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_one_runbook_per_incident_section(path: Path) -> None:
    text, _ = repair(path.read_text(encoding="utf-8"))
    result = _import(path)
    starts = {item.line: item.runbook for item in result.runbooks}
    lines = text.split("\n")
    headings = [(n + 1, line) for n, line in enumerate(lines) if re.match(r"^#{2,4} ", line)]
    for k, (line, heading) in enumerate(headings):
        end = headings[k + 1][0] if k + 1 < len(headings) else len(lines) + 1
        body = "\n".join(lines[line:end - 1])
        has_shell = bool(re.search(r"```(bash|sh|shell|console)?\s*\n\s*[a-z]", body))
        level = len(heading.split()[0])
        deeper = any(h.startswith("#" * (level + 1)) for _, h in headings[k + 1 :][:1])
        if has_shell and not deeper:
            assert line in starts, f"no runbook for {heading!r} (line {line})"
    ids = [item.runbook.id for item in result.runbooks]
    assert len(ids) == len(set(ids))


def test_incident_sections_of_the_first_sample() -> None:
    path = next(p for p in sample_files() if p.name.startswith("000"))
    books = {item.runbook.id: item for item in _import(path).runbooks}
    expected = {
        "full-system-outage": 0,
        "backend-api-down": 1,
        "postgresql-issues": 2,
        "backup-service-failed": 1,
        "ssl-tls-certificate-issues": 1,
    }
    for rb_id, severity in expected.items():
        assert books[rb_id].runbook.severity == severity, rb_id
        assert books[rb_id].runbook.match, rb_id
    assert "endpoint.down" in books["backend-api-down"].runbook.match
    assert "backup.stale" in books["backup-service-failed"].runbook.match
    titles = " ".join(item.runbook.title for item in books.values())
    assert "üö" not in titles and "\uf8ff" not in titles


def test_incident_sections_of_the_second_sample() -> None:
    path = next(p for p in sample_files() if p.name.startswith("002"))
    result = _import(path)
    books = {item.runbook.id: item.runbook for item in result.runbooks}
    for rb_id in ("service-down-complete-outage", "rollback-deployment", "database-emergency",
                  "server-unresponsive"):
        assert rb_id in books, rb_id
    assert books["service-down-complete-outage"].severity == 0  # "Severity: Critical"
    assert "severity definitions" in {f.reason for f in result.skipped}
    assert "report template" in {f.reason for f in result.skipped}


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_shell_command_is_a_step(path: Path) -> None:
    text, _ = repair(path.read_text(encoding="utf-8"))
    result = _import(path)
    originals = {_norm(o) for item in result.runbooks for o in item.originals if o}
    steps = [s for item in result.runbooks for s in item.runbook.steps]
    commands = _shell_commands(text)
    assert len(commands) > 30
    for line, command in commands:
        wanted = _norm(command)
        loop = wanted.endswith("; do")  # a loop: the step holds the whole loop
        assert (
            wanted in originals
            or (loop and any(o.startswith(wanted) for o in originals))
            or any(wanted in _norm(s.instructions) for s in steps)
        ), f"line {line}: {command!r} is not a step"


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_templates_reproduce_the_source_commands(path: Path) -> None:
    for item in _import(path).runbooks:
        for step, original in zip(item.runbook.steps, item.originals, strict=True):
            if not step.command:
                continue
            pattern = ""
            for part in re.split(r"(\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_]*\})", step.command):
                if part in ("{{", "}}"):
                    pattern += re.escape(part[0])
                elif re.fullmatch(r"\{[A-Za-z_]\w*\}", part):
                    pattern += r".+?"
                else:
                    pattern += re.escape(part)
            assert re.fullmatch(pattern, original, re.S), (step.id, step.command, original)


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_destructive_commands_need_typed_confirmation(path: Path) -> None:
    found = 0
    for item in _import(path).runbooks:
        for step, original in zip(item.runbook.steps, item.originals, strict=True):
            if original and step.command and classify(original).effect == Effect.DESTRUCTIVE:
                found += 1
                assert step.kind == "action" and step.destructive, (step.id, original)
                assert step.confirm_template(), step.id
            if step.kind == "check":
                assert classify(original).effect == Effect.READ, (step.id, original)
    assert found >= 1


def test_the_known_destructive_sample_commands() -> None:
    wanted = ["docker system prune -af", "docker volume prune -f", "git reset --hard",
              "docker-compose.prod.yml down", 'bash -c "gunzip < /backup/restore.sql.gz']
    steps = [(s, o) for p in sample_files() for item in _import(p).runbooks
             for s, o in zip(item.runbook.steps, item.originals, strict=True)]
    for needle in wanted:
        matching = [s for s, o in steps if needle in o]
        assert matching, needle
        assert all(s.destructive and s.kind == "action" for s in matching), needle


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_imported_sample_runbooks_pass_lint(path: Path) -> None:
    for item in _import(path).runbooks:
        problems = lint_text(dumps(item.runbook), f"{item.runbook.id}.toml")
        assert problems == [], [str(p) for p in problems]
