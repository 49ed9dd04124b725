"""Each importer rule, on fixtures written for the project in several styles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.config import SeverityConfig
from core.runbooks import signals
from core.runbooks.importer import ImportResult, import_markdown, write_runbooks
from core.runbooks.library import load_library
from core.runbooks.lint import lint_text
from core.runbooks.model import Runbook
from core.runbooks.writer import dumps

from .conftest import FIXTURES


def _import(name: str, scheme: SeverityConfig | None = None) -> ImportResult:
    path = FIXTURES / name
    return import_markdown(path.read_text(encoding="utf-8"), name, scheme)


def _by_id(result: ImportResult) -> dict[str, Runbook]:
    return {item.runbook.id: item.runbook for item in result.runbooks}


def test_every_fixture_imports_and_lints_clean() -> None:
    for path in sorted(FIXTURES.glob("*.md")):
        result = _import(path.name)
        assert result.runbooks, path.name
        for item in result.runbooks:
            problems = lint_text(dumps(item.runbook), item.runbook.id)
            assert problems == [], (path.name, [str(p) for p in problems])


def test_misdecoded_emoji_file_is_repaired_before_parsing() -> None:
    expected = _by_id(_import("mojibake_expected.md"))
    for name in ("mojibake_macroman.md", "mojibake_cp1252.md"):
        result = _import(name)
        got = _by_id(result)
        assert got.keys() == expected.keys() == {"redis-unreachable", "redis-memory-high"}
        for rb_id, rb in got.items():
            assert dataclasses.replace(rb, imported_from="") == dataclasses.replace(
                expected[rb_id], imported_from=""
            )
        assert got["redis-unreachable"].severity == 0  # 🚨 CRITICAL
        assert got["redis-memory-high"].severity == 2  # 🟡 MEDIUM
        assert "→" in got["redis-unreachable"].description
        assert any("mis-decoded" in w.message for w in result.warnings)


def test_nested_numbering_makes_sub_steps_not_runbooks() -> None:
    books = _by_id(_import("nested_numbering.md"))
    assert set(books) == {"database-failover", "cache-cold-start", "server-out-of-disk-space"}
    failover = books["database-failover"]
    assert [s.title for s in failover.steps] == ["Check replication", "Promote the replica"]
    assert [s.kind for s in failover.steps] == ["check", "action"]
    cache = books["cache-cold-start"]
    assert [s.command for s in cache.steps if s.command] == [
        "docker start cache-warmer",
        "docker logs --tail 20 cache-warmer",
        "redis-cli INFO stats",
    ]
    assert cache.steps[-1].kind == "manual"
    disk = books["server-out-of-disk-space"]  # "## 3) Server Out of Disk Space", "Severity 2"
    assert disk.severity == 1 and disk.match == (signals.DISK_FULL,)


def test_runbook_in_german() -> None:
    result = _import("german.md")
    books = _by_id(result)
    assert set(books) == {"festplatte-voll", "datenbank-startet-nicht"}
    disk = books["festplatte-voll"]
    assert disk.severity == 1  # "Schweregrad: hoch" wins over the emoji
    assert disk.match == (signals.DISK_FULL,)
    assert "Kein Speicherplatz" in disk.description
    decision = next(s for s in disk.steps if s.kind == "decision")
    assert decision.question.startswith("Wenn der Speicher weiterhin knapp ist")
    yes, no = decision.choices
    delete = disk.step(yes.next)
    assert delete.destructive and delete.command.endswith("-delete") and delete.confirm
    assert disk.step(no.next).kind == "manual"  # "Sonst das Ticket schließen."
    db = books["datenbank-startet-nicht"]
    assert db.severity == 0 and [s.kind for s in db.steps] == ["check", "action"]
    assert {f.reason for f in result.skipped} == {"table of contents", "contacts", "changelog"}


def test_placeholders_become_variables() -> None:
    rb = _by_id(_import("placeholders.md"))["roll-back-the-api"]
    commands = " ".join(s.command for s in rb.steps)
    for literal in ("<server-ip>", "YOUR_SERVER_IP", "[DB_USER]", "[DATABASE]", "abc123", "HEAD~1",
                    "YYYY-MM-DD", "x.x.x.x", "example.com", "{{SERVICE_NAME}}", "/path/to/"):
        assert literal not in commands, literal
    assert "http://{address}:8080/health" in commands  # filled from the host config
    assert "psql -U {db_user} -d {db}" in commands
    assert "docker logs --tail 50 {service}" in commands
    asked = {name: v for name, v in rb.variables.items() if v.ask}
    assert {v.example for v in asked.values()} >= {"abc123", "HEAD~1", "YYYY-MM-DD", "x.x.x.x"}
    assert all(v.default is None for v in rb.variables.values())
    outside = next(s for s in rb.steps if "8080" in s.command)
    assert outside.host == "console"  # "from your laptop"
    reset = next(s for s in rb.steps if "reset --hard" in s.command)
    assert reset.destructive and reset.workdir == "{project_dir}"  # `cd /path/to/app` before it


def test_cleartext_secrets_are_removed_and_warned_about() -> None:
    result = _import("cleartext_secret.md")
    (item,) = result.runbooks
    text = dumps(item.runbook)
    for secret in ("hunter2hunter2", "Hunter2Secret", "correcthorse", "s3cr3tRedis",
                   "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in text, secret
    secrets = {n for n, v in item.runbook.variables.items() if v.secret}
    assert len(secrets) == 4 and all(item.runbook.variables[n].ask for n in secrets)
    assert all(f"{{{n}}}" in text for n in secrets)
    warned = {w.line for w in result.warnings if "secret" in w.message}
    assert warned >= {3, 10, 11, 17, 18}


def test_sections_parts_snippets_and_unmapped_fragments() -> None:
    result = _import("structure.md")
    books = _by_id(result)
    assert set(books) == {"queue-backlog", "config-snippets"}
    queue = books["queue-backlog"]  # "### Symptoms" and "### Resolution" are parts of it
    assert queue.match == (signals.CONTAINER_RESTARTING,)
    assert [s.kind for s in queue.steps] == ["check", "action"]
    assert queue.steps[0].command == "docker inspect -f '{{{{.State.Status}}}}' jobs-worker"
    snippets = books["config-snippets"]
    kinds = [(s.kind, s.runner) for s in snippets.steps]
    assert kinds == [("manual", "shell")] * 3 + [("check", "sql"), ("manual", "shell")]
    assert "mem_limit: 512m" in snippets.steps[0].instructions
    assert "{{ worker_name }}" in snippets.steps[2].instructions and not snippets.variables
    assert "DELETE FROM jobs" in snippets.steps[4].instructions
    assert {f.reason for f in result.skipped} == {
        "table of contents", "overview", "contacts", "changelog", "report template"
    }
    unmapped = {(f.line, f.reason.split(" (")[0]) for f in result.unmapped}
    assert (3, "introduction of section “Ops handbook”") in unmapped
    assert (35, "HTML comment") in unmapped
    assert (37, "table") in unmapped


def test_systemd_nginx_style() -> None:
    books = _by_id(_import("systemd_nginx.md"))
    assert set(books) == {"502-bad-gateway-from-nginx", "log-partition-full"}
    gateway = books["502-bad-gateway-from-nginx"]
    assert gateway.severity == 1  # SEV2
    assert gateway.match == (signals.ENDPOINT_DOWN,)
    tail = next(s for s in gateway.steps if "error.log" in s.command)
    assert tail.command == "sudo tail -n 50 /var/log/nginx/error.log"  # console prompt removed
    assert "connect() to unix" in tail.why  # its output kept as the expected output
    journal = next(s for s in gateway.steps if "journalctl" in s.command)
    assert journal.timeout == 30
    decision = next(s for s in gateway.steps if s.kind == "decision")
    yes, no = decision.choices
    assert gateway.step(yes.next).command == "sudo nginx -t && sudo systemctl reload nginx"
    assert gateway.step(no.next).title.startswith("Otherwise close the incident")
    verify = gateway.steps[-1]
    assert verify.expect is not None and verify.expect.output_contains == "200"
    logs = books["log-partition-full"]
    assert logs.severity == 1 and logs.match == (signals.DISK_FULL,)  # "Priority: P1", P0-based
    truncate = next(s for s in logs.steps if "truncate" in s.command)
    assert truncate.kind == "action" and truncate.destructive and truncate.confirm == "host"
    guard = next(s for s in logs.steps if s.kind == "decision")
    assert logs.step(guard.choices[0].next).command == "sudo reboot"


def test_mysql_and_redis_style() -> None:
    result = _import("mysql_redis.md")
    books = _by_id(result)
    mysql = books["mysql-too-many-connections"]
    redis = books["redis-out-of-memory"]
    assert mysql.severity == 1 and redis.severity == 0  # the document's scale is P1–P4
    assert not any(m.startswith("postgres.") for m in mysql.match)
    assert signals.CONTAINER_OOM not in redis.match
    assert all(s.runner == "shell" for s in mysql.steps)  # MySQL SQL is shown, not run
    kill = next(s for s in mysql.steps if "KILL" in s.instructions)
    assert kill.kind == "manual"
    options = next(s for s in mysql.steps if s.kind == "decision")
    assert [c.label for c in options.choices][:2] == [
        "Option A: the pool is leaking", "Option B: real traffic"
    ]
    flush = next(s for s in redis.steps if "FLUSHALL" in s.command)
    assert flush.destructive
    checklist = books["daily-redis-checklist"]
    assert [s.kind for s in checklist.steps] == ["manual"] * 3
    sev_scheme = SeverityConfig(labels=("P1", "P2", "P3", "P4"))
    again = _by_id(_import("mysql_redis.md", sev_scheme))
    assert again["mysql-too-many-connections"].severity == 1  # shows as P2 in that scheme


def test_written_runbooks_load_next_to_the_builtins(tmp_path: Path) -> None:
    paths = []
    for name in ("systemd_nginx.md", "german.md", "placeholders.md"):
        paths += write_runbooks(_import(name), tmp_path)
    assert all(p.is_file() for p in paths)
    library = load_library([tmp_path])
    assert library.errors == ()
    assert library.get("festplatte-voll") is not None
    assert library.get("service-down") is not None
    assert library.match(signals.DISK_FULL) is not None


def test_wiki_style_setext_steps_indented_code_and_command_tables() -> None:
    books = _by_id(_import("wiki_style.md"))
    assert set(books) == {"queue-workers-stuck", "mail-relay-down", "useful-commands"}
    queue = books["queue-workers-stuck"]  # setext heading, "Incident:" prefix dropped
    assert queue.severity == 1  # "Severity: High"
    assert [s.command for s in queue.steps] == [
        "docker ps --filter name=worker",  # **Step 1:** paragraph with inline code
        "docker restart queue-worker-1",  # **Step 2:**
        "sudo systemctl status rabbitmq-server",  # indented code block
        "sudo rabbitmqctl list_queues name messages",
    ]
    mail = books["mail-relay-down"]  # "### 1. Check postfix" are steps of the incident
    assert [s.command for s in mail.steps] == ["systemctl status postfix", "mailq",
                                               "sudo postqueue -f"]
    assert mail.steps[1].title == "Look at the queue first"  # fence flush under its item
    table = books["useful-commands"]
    assert [(s.title, s.kind) for s in table.steps] == [("Restart", "action"),
                                                        ("Mail log", "check")]


def test_a_document_without_headings_is_one_runbook() -> None:
    result = import_markdown("1. Check: `df -h`\n2. Clean: `docker image prune -f`\n")
    (item,) = result.runbooks
    assert item.runbook.title == "Imported runbook"
    assert [s.kind for s in item.runbook.steps] == ["check", "action"]


def test_diagnosis_lists_feed_the_description_and_match() -> None:
    text = (
        "## Checkout errors\n\n### Diagnosis\n- Too many connections in the app logs\n\n"
        "### Fix\n1. Restart the app: `docker restart shop-app-1`\n"
    )
    (item,) = import_markdown(text, "x.md").runbooks
    assert "Diagnosis:\n- Too many connections" in item.runbook.description
    assert item.runbook.match == (signals.POSTGRES_CONNECTIONS_HIGH,)
    assert [s.command for s in item.runbook.steps] == ["docker restart shop-app-1"]
