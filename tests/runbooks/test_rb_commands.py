"""The command classifier: read-only vs state-changing vs destructive."""

from __future__ import annotations

import pytest

from core.runbooks.commands import Effect, classify, classify_sql
from core.runbooks.shellwords import is_complete, parse_shell

READ, CHANGE, DESTRUCTIVE = Effect.READ, Effect.CHANGE, Effect.DESTRUCTIVE

CASES = [
    ("docker compose -f docker-compose.prod.yml ps", READ),
    ("docker logs --tail 100 api 2>&1 | grep -i error", READ),
    ("docker inspect -f '{{.State.Health.Status}}' api", READ),
    ("docker stats --no-stream", READ),
    ("docker system df", READ),
    ("df -h; du -sh /var/* | sort -rh | head", READ),
    ("curl -fsS https://example.org/health || echo DOWN", READ),
    ("echo | openssl s_client -connect a:443 2>/dev/null | openssl x509 -noout -dates", READ),
    ("psql -c \"SELECT count(*) FROM pg_stat_activity\"", READ),
    ("sudo ufw status", READ),
    ("systemctl status nginx --no-pager", READ),
    ("journalctl -u nginx -n 100 --no-pager", READ),
    ("git log --oneline -10", READ),
    ("certbot renew --dry-run", READ),
    ("redis-cli INFO memory", READ),
    ("find /var/log -name '*.gz' -mtime +7", READ),
    ("docker restart api", CHANGE),
    ("docker compose restart backend postgres", CHANGE),
    ("docker compose up -d --build backend", CHANGE),
    ("docker compose stop backend", CHANGE),
    ("sudo systemctl restart nginx", CHANGE),
    ("systemctl stop nginx", CHANGE),
    ("kill -9 1234", CHANGE),
    ("certbot renew", CHANGE),
    ("sudo ufw allow 80/tcp", CHANGE),
    ("curl -X POST https://x/deploy", CHANGE),
    ("psql -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle'\"",
     CHANGE),
    ("docker compose exec postgres-backup /usr/local/bin/backup.sh", CHANGE),
    ("pg_dump shop > /tmp/shop.sql", CHANGE),
    ("docker system prune -a --volumes", DESTRUCTIVE),
    ("docker system prune -af", DESTRUCTIVE),
    ("docker volume prune -f", DESTRUCTIVE),
    ("docker compose -f x.yml down", DESTRUCTIVE),
    ("git reset --hard HEAD~1", DESTRUCTIVE),
    ("sudo reboot", DESTRUCTIVE),
    ("sudo ufw deny 22", DESTRUCTIVE),
    ("rm -rf /srv/uploads", DESTRUCTIVE),
    ("find /var/log -name '*.gz' -delete", DESTRUCTIVE),
    ("find /tmp -type f -exec rm {} \\;", DESTRUCTIVE),
    ("truncate -s 0 /var/log/app.log", DESTRUCTIVE),
    (": > /var/log/app.log", DESTRUCTIVE),
    ("psql -c 'DROP DATABASE shop'", DESTRUCTIVE),
    ("mysql -e 'TRUNCATE TABLE sessions'", DESTRUCTIVE),
    ("gunzip < dump.sql.gz | psql -d shop", DESTRUCTIVE),
    ("redis-cli FLUSHALL", DESTRUCTIVE),
    ("docker compose exec db bash -c \"psql -U u -d d < /backup/x.sql\"", DESTRUCTIVE),
    ("truncate -s 0 $(docker inspect -f '{{.LogPath}}' api)", DESTRUCTIVE),
]


@pytest.mark.parametrize("command, effect", CASES)
def test_classification(command: str, effect: Effect) -> None:
    verdict = classify(command)
    assert verdict.effect == effect, (command, verdict)


def test_unknown_programs_are_not_trusted_to_only_read() -> None:
    verdict = classify("./deploy.sh --fast")
    assert verdict.effect == CHANGE and verdict.unknown
    assert not classify("npx prisma migrate status").reads_only


@pytest.mark.parametrize(
    "command", ["htop", "psql -U app shop", "docker exec -it api sh", "ssh root@host", "vim x"]
)
def test_interactive(command: str) -> None:
    assert classify(command).interactive


@pytest.mark.parametrize(
    "command",
    ["docker logs -f api", "tail -F /var/log/syslog", "ping 1.1.1.1", "docker stats",
     "while true; do curl x; sleep 1; done", "journalctl -fu nginx"],
)
def test_endless(command: str) -> None:
    assert classify(command).endless
    assert not classify("ping -c 3 1.1.1.1").endless


@pytest.mark.parametrize(
    "sql, effect",
    [
        ("SELECT 1", READ),
        ("WITH x AS (SELECT 1) SELECT * FROM x", READ),
        ("EXPLAIN SELECT * FROM t", READ),
        ("EXPLAIN ANALYZE DELETE FROM t", DESTRUCTIVE),
        ("SELECT 'drop table x' AS harmless", READ),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", DESTRUCTIVE),
        ("SELECT * FROM t FOR UPDATE", CHANGE),
        ("UPDATE t SET a = 1 WHERE id = 2", CHANGE),
        ("UPDATE t SET a = 1", DESTRUCTIVE),
        ("SET statement_timeout = '5s'", READ),
        ("SET GLOBAL max_connections = 500", CHANGE),
        ("VACUUM ANALYZE t", CHANGE),
        ("ALTER TABLE t DROP COLUMN c", DESTRUCTIVE),
        ("SELECT setval('s', 1)", CHANGE),
        ("SELECT 1; DROP TABLE t;", DESTRUCTIVE),
    ],
)
def test_sql(sql: str, effect: Effect) -> None:
    assert classify_sql(sql)[0] == effect


def test_shell_reader_handles_quotes_substitutions_and_heredocs() -> None:
    parsed = parse_shell("psql <<EOF\nDELETE FROM t;\nEOF")
    assert parsed.commands[0].heredoc == "DELETE FROM t;"
    assert classify("psql <<EOF\nDELETE FROM t;\nEOF").effect == DESTRUCTIVE
    assert classify("psql <<'EOF'\nSELECT 1;\nEOF").effect == READ
    words = parse_shell("echo \"a $(rm -rf /tmp/x) b\" 'c # d' # comment").commands
    assert [c.words[0] for c in words] == ["echo", "rm"]
    assert is_complete("for i in 1 2; do\n  echo $i\ndone")
    assert not is_complete("for i in 1 2; do")
    assert not is_complete("docker run \\")
