"""Classifier handlers for system programs: files, services, packages, firewalls, git, wrappers."""

from __future__ import annotations

import re

from core.runbooks.classify_base import (
    CHANGE,
    DESTRUCTIVE,
    HANDLERS,
    Handler,
    Verdict,
    _destructive,
    _generic_change,
    _has,
    _positionals,
    _register,
    _short_flags,
    _split_at_positional,
    _v,
    classify,
    classify_argv,
    words,
)
from core.runbooks.shellwords import SimpleCommand

for _n in words(
    "rm rmdir shred unlink wipefs truncate mkfs mkswap fdisk sfdisk gdisk parted reboot "
    "shutdown poweroff halt dropdb dropuser pg_restore userdel pg_dropcluster"
):
    HANDLERS[_n] = _destructive(_n)
for _n in words(
    "kill pkill killall cp mv mkdir touch ln chmod chown chgrp chattr install scp useradd "
    "usermod chpasswd groupadd createdb createuser vacuumdb reindexdb clusterdb umount "
    "swapoff update-ca-certificates make pg_basebackup htpasswd newaliases postmap service- "
    "restart a2enmod a2dismod a2ensite a2dissite ssh-keygen sysctl-apply"
):
    HANDLERS[_n] = _generic_change(_n)


@_register("dd")
def _dd(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(DESTRUCTIVE, "dd") if any(a.startswith("of=") for a in args) else _v()


@_register("init", "telinit")
def _init(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(DESTRUCTIVE, "init " + " ".join(args)) if args else _v()


@_register("sed")
def _sed(args: list[str], cmd: SimpleCommand) -> Verdict:
    if any(a.startswith("-i") or a.startswith("--in-place") for a in args) or "i" in _short_flags(
        [a for a in args if re.fullmatch(r"-[a-zA-Z]+", a)]
    ):
        return _v(CHANGE, "sed -i (edits a file in place)")
    return _v()


@_register("awk", "gawk")
def _awk(args: list[str], cmd: SimpleCommand) -> Verdict:
    if "inplace" in args or ("-i" in args and "inplace" in " ".join(args)):
        return _v(CHANGE, "awk -i inplace")
    return _v()


@_register("sort")
def _sort(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(CHANGE, "sort -o") if _has(args, "-o", "--output") else _v()


@_register("tee")
def _tee(args: list[str], cmd: SimpleCommand) -> Verdict:
    files = [a for a in _positionals(args) if not a.startswith("/dev/")]
    return _v(CHANGE, "tee (writes a file)") if files else _v()


@_register("find")
def _find(args: list[str], cmd: SimpleCommand) -> Verdict:
    if "-delete" in args:
        return _v(DESTRUCTIVE, "find -delete")
    verdict = _v()
    for i, a in enumerate(args):
        if a in ("-exec", "-execdir", "-ok", "-okdir"):
            inner: list[str] = []
            for b in args[i + 1 :]:
                if b in (";", "+", "\\;"):
                    break
                inner.append(b)
            inner = [b for b in inner if b != "{}"]
            if inner:
                verdict.merge(classify_argv(inner))
        if a in ("-fprint", "-fprintf", "-fls", "-fprint0"):
            verdict.add(CHANGE, f"find {a}")
    if verdict.effect == DESTRUCTIVE or (verdict.reasons and verdict.reasons[0] in ("rm", "shred")):
        verdict.reasons = ["find -exec rm"]
    return verdict


@_register("curl")
def _curl(args: list[str], cmd: SimpleCommand) -> Verdict:
    for i, a in enumerate(args):
        method = ""
        if a in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1]
        elif a.startswith("-X") and len(a) > 2:
            method = a[2:]
        elif a.startswith("--request="):
            method = a.split("=", 1)[1]
        if method and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            return _v(CHANGE, f"curl -X {method.upper()}")
    if _has(
        args,
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-urlencode",
        "--json",
        "--form",
        "--upload-file",
        "-d",
        "-F",
        "-T",
    ):
        return _v(CHANGE, "curl sends data (POST)")
    for i, a in enumerate(args):
        if a in ("-o", "--output") and i + 1 < len(args) and args[i + 1] not in ("/dev/null", "-"):
            return _v(CHANGE, "curl -o (writes a file)")
    if _has(args, "-O", "--remote-name", "--remote-name-all"):
        return _v(CHANGE, "curl -O (writes a file)")
    return _v()


@_register("wget")
def _wget(args: list[str], cmd: SimpleCommand) -> Verdict:
    joined = " ".join(args)
    if _has(args, "--post-data", "--post-file", "--method", "--body-data"):
        return _v(CHANGE, "wget sends data")
    if (
        "--spider" in args
        or re.search(r"(^|\s)-\w*O\s*(-|/dev/null)(\s|$)", joined)
        or "-O-" in args
    ):
        return _v()
    if re.search(r"(^|\s)-\w*O-", joined) or "--output-document=-" in args:
        return _v()
    return _v(CHANGE, "wget (downloads a file)")


@_register("openssl")
def _openssl(args: list[str], cmd: SimpleCommand) -> Verdict:
    sub = args[0] if args else ""
    if "-out" in args or (sub in ("genrsa", "genpkey", "gendsa", "ca", "rand") and "-out" in args):
        return _v(CHANGE, "openssl -out (writes a file)")
    if sub in ("genrsa", "genpkey", "gendsa"):
        return _v()
    return _v()


@_register("ip")
def _ip(args: list[str], cmd: SimpleCommand) -> Verdict:
    words = set(_positionals(args))
    if words & {
        "add",
        "del",
        "delete",
        "set",
        "flush",
        "change",
        "replace",
        "append",
        "up",
        "down",
    }:
        return _v(CHANGE, "ip " + " ".join(_positionals(args)[:2]))
    return _v()


@_register("ping", "ping6")
def _ping(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(endless=not _has(args, "-c", "-w", "--count"))


@_register("tail")
def _tail(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(endless=_has(args, "-f", "-F", "--follow"))


@_register("hostname")
def _hostname(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(CHANGE, "hostname NAME") if _positionals(args) else _v()


@_register("date")
def _date(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(CHANGE, "date --set") if _has(args, "-s", "--set") else _v()


@_register("dmesg")
def _dmesg(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-c", "-C", "--clear", "--read-clear", "-n", "--console-level", "-D", "-E"):
        return _v(CHANGE, "dmesg --clear")
    return _v(endless=_has(args, "-w", "--follow", "-W", "--follow-new"))


@_register("mount")
def _mount(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v(CHANGE, "mount") if _positionals(args) or _has(args, "-a") else _v()


@_register("swapon")
def _swapon(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _v() if _has(args, "--show", "-s", "--summary") or not args else _v(CHANGE, "swapon")


@_register("timedatectl", "hostnamectl", "loginctl", "resolvectl")
def _ctl(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb, _ = _split_at_positional(args, frozenset())
    if not verb or verb in (
        "status",
        "show",
        "list-timezones",
        "show-timesync",
        "timesync-status",
        "list-sessions",
        "list-users",
        "show-session",
        "show-user",
        "query",
        "statistics",
        "dns",
        "domain",
    ):
        return _v()
    return _v(CHANGE, f"{verb}")


@_register("crontab")
def _crontab(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-r"):
        return _v(DESTRUCTIVE, "crontab -r")
    if _has(args, "-e"):
        return _v(CHANGE, "crontab -e", interactive=True)
    if _has(args, "-l"):
        return _v()
    return _v(CHANGE, "crontab FILE")


@_register("sysctl")
def _sysctl(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-w", "-p", "--write", "--load", "--system") or any(
        "=" in a for a in _positionals(args)
    ):
        return _v(CHANGE, "sysctl -w")
    return _v()


@_register("watch")
def _watch(args: list[str], cmd: SimpleCommand) -> Verdict:
    _, rest = _split_at_positional(args, frozenset({"-n", "--interval", "-d"}))
    first, _ = _split_at_positional(args, frozenset({"-n", "--interval"}))
    inner = [first, *rest] if first else []
    verdict = classify_argv(inner) if inner else _v()
    verdict.endless = True
    return verdict


@_register("timeout")
def _timeout(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args, frozenset({"-s", "--signal", "-k", "--kill-after"}))
    idx = args.index(pos[0]) if pos else len(args)
    inner = args[idx + 1 :]
    verdict = classify_argv(inner, cmd) if inner else _v()
    verdict.endless = False
    return verdict


_WRAPPER_VALUE_OPTS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-r", "-t", "-U", "-D", "-R"}),
    "doas": frozenset({"-u", "-C"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "chrt": frozenset(),
    "taskset": frozenset(),
    "runuser": frozenset({"-u", "-g", "-G", "--user", "--group"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "command": frozenset(),
    "exec": frozenset({"-a"}),
    "builtin": frozenset(),
    "flock": frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "xargs": frozenset(
        {
            "-I",
            "-n",
            "-P",
            "-L",
            "-d",
            "-E",
            "-s",
            "-a",
            "--arg-file",
            "--max-args",
            "--max-procs",
            "--delimiter",
            "--replace",
        }
    ),
    "chroot": frozenset(),
}


def _wrapper(name: str) -> Handler:
    value_opts = _WRAPPER_VALUE_OPTS[name]

    def handler(args: list[str], cmd: SimpleCommand) -> Verdict:
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--":
                i += 1
                break
            if a.startswith("-") and len(a) > 1:
                i += 2 if a in value_opts else 1
                continue
            if name == "env" and "=" in a:
                i += 1
                continue
            break
        if name in ("chroot", "flock") and i < len(args):
            i += 1  # the new root / the lock file
        if name in ("chrt", "taskset") and i < len(args):
            i += 1
        inner = args[i:]
        if not inner:
            return _v()
        if name == "xargs":
            inner = [a for a in inner if a != "{}"]
        return classify_argv(inner, cmd)

    return handler


for _n in _WRAPPER_VALUE_OPTS:
    HANDLERS[_n] = _wrapper(_n)


@_register("su")
def _su(args: list[str], cmd: SimpleCommand) -> Verdict:
    for i, a in enumerate(args):
        if a in ("-c", "--command") and i + 1 < len(args):
            return classify(args[i + 1])
    return _v(interactive=True)


@_register("bash", "sh", "zsh", "dash", "ksh")
def _shell(args: list[str], cmd: SimpleCommand) -> Verdict:
    for i, a in enumerate(args):
        if a.startswith("-") and "c" in a[1:] and not a.startswith("--") and i + 1 < len(args):
            return classify(args[i + 1])
    pos = _positionals(args)
    if pos:
        return _v(CHANGE, f"script {pos[0]}", unknown=True)
    if cmd.heredoc is not None:
        return classify(cmd.heredoc)
    if cmd.stdin_pipe or any(op == "<" for op, _ in cmd.redirects):
        return _v(CHANGE, "shell script from input")
    return _v(interactive=True)


_SSH_VALUE = frozenset(
    words(
        "-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w -B"
    )
)


@_register("ssh")
def _ssh(args: list[str], cmd: SimpleCommand) -> Verdict:
    host, rest = _split_at_positional(args, _SSH_VALUE)
    if not host:
        return _v()
    if not rest:
        return _v(interactive=True)
    return classify(" ".join(rest))


@_register("rsync")
def _rsync(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-n", "--dry-run", "--list-only"):
        return _v()
    if any(a.startswith("--delete") or a.startswith("--remove-source-files") for a in args):
        return _v(DESTRUCTIVE, "rsync --delete")
    return _v(CHANGE, "rsync")


@_register("tar")
def _tar(args: list[str], cmd: SimpleCommand) -> Verdict:
    first = args[0] if args else ""
    letters = first.lstrip("-") if first and not first.startswith("--") else ""
    if "t" in letters or _has(args, "--list", "-t"):
        return _v()
    return _v(CHANGE, "tar (writes files)")


@_register("gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "zstd", "unzstd", "zip", "unzip")
def _compress(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(
        args, "-c", "--stdout", "--to-stdout", "-l", "--list", "-t", "--test"
    ) or not _positionals(args):
        return _v()
    return _v(CHANGE, "compresses/uncompresses files")
