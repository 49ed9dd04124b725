"""Classifier handlers for databases, caches, object storage and backup tools."""

from __future__ import annotations

from core.runbooks.classify_base import (
    CHANGE,
    DESTRUCTIVE,
    Verdict,
    _has,
    _positionals,
    _register,
    _v,
    classify_argv,
    words,
)
from core.runbooks.shellwords import SimpleCommand
from core.runbooks.sqlclass import classify_sql

# -- databases ------------------------------------------------------------------

_PSQL_VALUE = frozenset(
    words(
        "-h --host -p --port -U --username -d --dbname -v --set --variable -P --pset -F --field- "
        "separator -R --record-separator -T --table-attr -L --log-file -o --output"
    )
)


def _sql_verdict(sql: str, tool: str) -> Verdict:
    effect, reasons = classify_sql(sql)
    verdict = _v()
    for reason in reasons or (f"{tool} SQL",):
        verdict.add(effect, reason)
    verdict.effect = effect
    return verdict


def _stdin_fed(cmd: SimpleCommand) -> bool:
    return cmd.stdin_pipe or any(op in ("<", "<>") for op, _ in cmd.redirects)


@_register("psql")
def _psql(args: list[str], cmd: SimpleCommand) -> Verdict:
    verdict = _v()
    has_sql = False
    i = 0
    while i < len(args):
        a = args[i]
        value = None
        if a in ("-c", "--command") and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        elif a.startswith("--command="):
            value = a.split("=", 1)[1]
        elif a.startswith("-c") and len(a) > 2 and not a.startswith("--"):
            value = a[2:]
        elif a in ("-f", "--file") and i + 1 < len(args):
            has_sql = True
            if args[i + 1] != "-":
                verdict.add(CHANGE, f"psql -f {args[i + 1]} (runs an SQL file)")
            i += 1
        elif a in ("-l", "--list"):
            has_sql = True
        if value is not None:
            has_sql = True
            verdict.merge(_sql_verdict(value, "psql"))
        i += 1
    if cmd.heredoc is not None:
        return verdict.merge(_sql_verdict(cmd.heredoc, "psql"))
    if not has_sql and _stdin_fed(cmd):
        return verdict.add(DESTRUCTIVE, "psql fed from a file or pipe (restore)")
    if not has_sql:
        verdict.interactive = True
    return verdict


@_register("mysql", "mariadb")
def _mysql(args: list[str], cmd: SimpleCommand) -> Verdict:
    verdict = _v()
    has_sql = False
    for i, a in enumerate(args):
        value = None
        if a in ("-e", "--execute") and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--execute="):
            value = a.split("=", 1)[1]
        elif a.startswith("-e") and len(a) > 2:
            value = a[2:]
        if value is not None:
            has_sql = True
            verdict.merge(_sql_verdict(value, "mysql"))
    if cmd.heredoc is not None:
        return verdict.merge(_sql_verdict(cmd.heredoc, "mysql"))
    if not has_sql and _stdin_fed(cmd):
        return verdict.add(DESTRUCTIVE, "mysql fed from a file or pipe (restore)")
    if not has_sql:
        verdict.interactive = True
    return verdict


@_register("sqlite3")
def _sqlite(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args, frozenset({"-cmd", "-separator", "-newline", "-nullvalue"}))
    if len(pos) >= 2:
        sql = " ".join(pos[1:])
        if sql.startswith("."):
            return (
                _v()
                if sql.split()[0] in (".dump", ".schema", ".tables", ".indexes", ".databases")
                else _v(CHANGE, f"sqlite3 {sql.split()[0]}")
            )
        return _sql_verdict(sql, "sqlite3")
    if cmd.heredoc is not None:
        return _sql_verdict(cmd.heredoc, "sqlite3")
    if _stdin_fed(cmd):
        return _v(DESTRUCTIVE, "sqlite3 fed from a file or pipe")
    return _v(interactive=True)


@_register("pg_dump", "pg_dumpall", "mysqldump", "mariadb-dump")
def _dump(args: list[str], cmd: SimpleCommand) -> Verdict:
    if any(
        a in ("-f", "--file", "-r", "--result-file") or a.startswith(("--file=", "--result-file="))
        for a in args
    ):
        return _v(CHANGE, "dump to a file")
    return _v()


@_register("pg_ctl", "pg_ctlcluster")
def _pg_ctl(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args, frozenset({"-D", "-m", "-l", "-o", "-w", "-t"}))
    verb = next(
        (
            p
            for p in pos
            if p
            in (
                "start",
                "stop",
                "restart",
                "reload",
                "promote",
                "status",
                "kill",
                "init",
                "initdb",
                "logrotate",
            )
        ),
        "",
    )
    if verb in ("status", ""):
        return _v()
    return _v(CHANGE, f"pg_ctl {verb}")


@_register("mysqladmin", "mariadb-admin")
def _mysqladmin(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = [
        p for p in _positionals(args, frozenset({"-u", "-h", "-P", "--user", "--host", "--port"}))
    ]
    if not pos or all(
        p
        in (
            "status",
            "processlist",
            "variables",
            "ping",
            "version",
            "extended-status",
            "proc",
            "ext",
        )
        for p in pos
    ):
        return _v()
    if any(p in ("shutdown", "drop") for p in pos):
        return _v(DESTRUCTIVE, "mysqladmin " + " ".join(pos))
    return _v(CHANGE, "mysqladmin " + " ".join(pos))


_REDIS_VALUE = frozenset(
    words(
        "-h -p -a -n -u -s -r -i --user --pass --askpass --cacert --cacertdir --cert --key --sni "
        "--rdb --functions-rdb -e --eval -d -D --pipe-timeout --count --pattern --quoted-pattern "
        "--memkeys-samples -x"
    )
)
_REDIS_READ = frozenset(
    words(
        "ping info get mget keys scan sscan hscan zscan ttl pttl type exists strlen llen lrange "
        "lindex hget hgetall hkeys hvals hlen hmget hexists smembers scard sismember srandmember "
        "zrange zrangebyscore zrevrange zcard zscore zrank zcount dbsize time lastsave role "
        "client config slowlog memory latency object xlen xrange xrevrange xinfo pubsub command "
        "echo cluster getrange bitcount georadius geopos dump randomkey"
    )
)
_REDIS_DESTRUCTIVE = frozenset(["flushall", "flushdb", "shutdown", "del", "unlink", "debug"])


@_register("redis-cli", "valkey-cli", "keydb-cli")
def _redis(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "--latency", "--latency-history", "--stat", "--monitor"):
        return _v(endless=True)
    if _has(args, "--scan", "--bigkeys", "--memkeys", "--hotkeys", "--latency-dist", "--version"):
        return _v()
    pos = _positionals(args, _REDIS_VALUE)
    if not pos:
        if cmd.heredoc is not None or _stdin_fed(cmd):
            return _v(CHANGE, "redis-cli commands from input")
        return _v(interactive=True)
    verb = pos[0].lower()
    sub = pos[1].lower() if len(pos) > 1 else ""
    if verb in ("monitor", "subscribe", "psubscribe"):
        return _v(endless=True)
    if verb in _REDIS_DESTRUCTIVE:
        return _v(DESTRUCTIVE, f"redis {verb.upper()}")
    if verb == "client" and sub in ("kill", "pause", "no-evict", "setname"):
        return _v(CHANGE, f"redis CLIENT {sub.upper()}")
    if verb == "config" and sub in ("set", "rewrite", "resetstat"):
        return _v(CHANGE, f"redis CONFIG {sub.upper()}")
    if verb == "slowlog" and sub == "reset":
        return _v(CHANGE, "redis SLOWLOG RESET")
    if verb == "cluster" and sub not in (
        "info",
        "nodes",
        "slots",
        "shards",
        "myid",
        "keyslot",
        "countkeysinslot",
        "getkeysinslot",
    ):
        return _v(CHANGE, f"redis CLUSTER {sub.upper()}")
    if verb in _REDIS_READ:
        return _v()
    return _v(CHANGE, f"redis {verb.upper()}")


@_register("mongosh", "mongo")
def _mongo(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "--eval") or _positionals(args)[1:]:
        return _v(CHANGE, "mongosh script", unknown=True)
    return _v(interactive=True)


# -- cloud storage and backups ------------------------------------------------------


@_register("aws")
def _aws(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(
        args,
        frozenset(
            {
                "--endpoint-url",
                "--profile",
                "--region",
                "--output",
                "--query",
                "--bucket",
                "--key",
                "--prefix",
                "--cli-read-timeout",
            }
        ),
    )
    if not pos:
        return _v()
    service, verb = pos[0], (pos[1] if len(pos) > 1 else "")
    if service == "s3":
        if verb in ("ls", "presign"):
            return _v()
        if verb in ("rm", "rb"):
            return _v(DESTRUCTIVE, f"aws s3 {verb}")
        if verb in ("sync", "mv") and ("--delete" in args or verb == "mv"):
            return _v(DESTRUCTIVE, f"aws s3 {verb}" + (" --delete" if "--delete" in args else ""))
        return _v(CHANGE, f"aws s3 {verb}")
    if (
        verb.startswith(("list-", "describe-", "head-", "get-"))
        or verb in ("help",)
        or service == "sts"
    ):
        if verb == "get-object":
            return _v(CHANGE, "aws s3api get-object (writes a file)")
        return _v()
    if verb.startswith("delete-"):
        return _v(DESTRUCTIVE, f"aws {service} {verb}")
    return _v(CHANGE, f"aws {service} {verb}")


@_register("rclone")
def _rclone(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb = (_positionals(args) or [""])[0]
    if (
        verb
        in (
            "ls",
            "lsd",
            "lsl",
            "lsf",
            "lsjson",
            "size",
            "check",
            "about",
            "cat",
            "version",
            "listremotes",
            "tree",
            "md5sum",
            "sha1sum",
            "hashsum",
            "config",
        )
        or "--dry-run" in args
    ):
        return _v()
    if verb in (
        "sync",
        "move",
        "delete",
        "purge",
        "deletefile",
        "rmdir",
        "rmdirs",
        "cleanup",
        "bisync",
    ):
        return _v(DESTRUCTIVE, f"rclone {verb}")
    return _v(CHANGE, f"rclone {verb}")


@_register("s3cmd", "mc", "gsutil")
def _s3cmd(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb = (_positionals(args) or [""])[0]
    if verb in (
        "ls",
        "la",
        "du",
        "info",
        "stat",
        "cat",
        "find",
        "diff",
        "tree",
        "version",
        "admin",
    ):
        return _v()
    if verb in ("rm", "del", "rb", "rmdir"):
        return _v(DESTRUCTIVE, f"{verb} (deletes objects)")
    return _v(CHANGE, verb)


@_register("restic", "borg")
def _backup_tool(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb = (_positionals(args, frozenset({"-r", "--repo", "--password-file"})) or [""])[0]
    if verb in (
        "snapshots",
        "list",
        "info",
        "check",
        "ls",
        "stats",
        "diff",
        "find",
        "cat",
        "version",
        "key",
        "dump",
    ):
        return _v()
    if verb in ("forget", "prune", "delete", "compact"):
        return _v(DESTRUCTIVE, f"{verb}")
    return _v(CHANGE, verb)


@_register("kubectl")
def _kubectl(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb = (
        _positionals(
            args,
            frozenset(
                {
                    "-n",
                    "--namespace",
                    "-l",
                    "--selector",
                    "-o",
                    "--output",
                    "-c",
                    "--container",
                    "--context",
                    "--tail",
                }
            ),
        )
        or [""]
    )[0]
    if verb in (
        "get",
        "describe",
        "logs",
        "top",
        "explain",
        "version",
        "api-resources",
        "cluster-info",
        "events",
        "diff",
        "auth",
        "wait",
    ):
        return _v(endless=verb == "logs" and _has(args, "-f", "--follow"))
    if verb in ("delete", "drain"):
        return _v(DESTRUCTIVE, f"kubectl {verb}")
    if verb == "exec":
        idx = args.index("--") if "--" in args else len(args)
        return classify_argv(args[idx + 1 :]) if idx < len(args) else _v(CHANGE, "kubectl exec")
    return _v(CHANGE, f"kubectl {verb}")
