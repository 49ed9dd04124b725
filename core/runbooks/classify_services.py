"""Classifier handlers for services, packages, web servers, firewalls and git."""

from __future__ import annotations

from core.runbooks.classify_base import (
    CHANGE,
    DESTRUCTIVE,
    HANDLERS,
    Handler,
    Verdict,
    _has,
    _positionals,
    _register,
    _split_at_positional,
    _unknown,
    _v,
    words,
)
from core.runbooks.shellwords import SimpleCommand

# -- services, packages, firewalls --------------------------------------------

_SYSTEMCTL_VALUE = frozenset(
    {
        "-H",
        "--host",
        "-M",
        "--machine",
        "-t",
        "--type",
        "--state",
        "-p",
        "--property",
        "-n",
        "--lines",
        "-o",
        "--output",
        "-s",
        "--signal",
    }
)
_SYSTEMCTL_READ = frozenset(
    words(
        "status show cat is-active is-enabled is-failed is-system-running list-units list-unit- "
        "files list-timers list-sockets list-dependencies list-jobs list-machines help get- "
        "default show-environment"
    )
)
_SYSTEMCTL_DESTRUCTIVE = frozenset(
    ["reboot", "poweroff", "halt", "kexec", "isolate", "rescue", "emergency", "soft-reboot"]
)


@_register("systemctl")
def _systemctl(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb, rest = _split_at_positional(args, _SYSTEMCTL_VALUE)
    if not verb or verb in _SYSTEMCTL_READ:
        return _v()
    if verb in _SYSTEMCTL_DESTRUCTIVE:
        return _v(DESTRUCTIVE, f"systemctl {verb}")
    units = " ".join(_positionals(rest))
    return _v(
        CHANGE, f"systemctl {verb}" + (f" {units}" if units else ""), interactive=verb == "edit"
    )


@_register("service")
def _service(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args)
    if len(pos) < 2 or pos[1] in ("status", "--status-all"):
        return _v()
    return _v(CHANGE, f"service {pos[0]} {pos[1]}")


@_register("journalctl")
def _journalctl(args: list[str], cmd: SimpleCommand) -> Verdict:
    if any(
        a.startswith(
            ("--vacuum", "--rotate", "--flush", "--relinquish-var", "--sync", "--setup-keys")
        )
        for a in args
    ):
        return _v(CHANGE, "journalctl " + next(a for a in args if a.startswith("--")).split("=")[0])
    return _v(endless=_has(args, "-f", "--follow"))


_PKG_READ = frozenset(
    words(
        "list search show policy info depends rdepends madison changelog check-update history "
        "repolist provides whatprovides -l --list -L -S -s --status ls outdated view audit why "
        "explain doctor config"
    )
)


def _package_manager(name: str) -> Handler:
    def handler(args: list[str], cmd: SimpleCommand) -> Verdict:
        verb, _ = _split_at_positional(args, frozenset({"-o", "-c", "-t"}))
        flag_verbs = [a for a in args if a in _PKG_READ]
        if (verb and verb in _PKG_READ) or (not verb and flag_verbs) or not args:
            return _v()
        if name == "dpkg" and _has(args, "-l", "-L", "-S", "-s", "--list", "--status"):
            return _v()
        if name in ("npm", "yarn", "pnpm") and verb == "run":
            script = _positionals(args)[1:2]
            return _unknown(f"{name} run", script)
        if verb in ("--version", "-v", "-V", "version", "help", "--help"):
            return _v()
        return _v(CHANGE, f"{name} {verb or ' '.join(args[:1])}")

    return handler


for _n in words(
    "apt apt-get yum dnf zypper apk pacman dpkg pip pip3 npm yarn pnpm snap gem composer "
    "cargo brew"
):
    HANDLERS[_n] = _package_manager(_n)


@_register("certbot")
def _certbot(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb, _ = _split_at_positional(
        args,
        frozenset({"-d", "--domains", "--cert-name", "-m", "--webroot-path", "-w", "--config-dir"}),
    )
    if verb in ("certificates", "plugins", "show_account") or _has(args, "--version", "--help"):
        return _v()
    if verb == "renew" and _has(args, "--dry-run"):
        return _v()
    if verb in ("delete", "revoke"):
        return _v(DESTRUCTIVE, f"certbot {verb}")
    return _v(CHANGE, f"certbot {verb or 'certonly'}")


@_register("nginx")
def _nginx(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-s"):
        sig = (
            args[args.index("-s") + 1] if "-s" in args and args.index("-s") + 1 < len(args) else ""
        )
        return _v(CHANGE, f"nginx -s {sig}".strip())
    if _has(args, "-t", "-T", "-v", "-V", "-h"):
        return _v()
    return _v(CHANGE, "nginx (starts the server)")


@_register("apachectl", "apache2ctl", "httpd")
def _apachectl(args: list[str], cmd: SimpleCommand) -> Verdict:
    if not args or args[0] in (
        "configtest",
        "-t",
        "-S",
        "-M",
        "-v",
        "-V",
        "status",
        "fullstatus",
        "-D",
    ):
        return _v()
    return _v(CHANGE, f"apachectl {args[0]}")


@_register("caddy")
def _caddy(args: list[str], cmd: SimpleCommand) -> Verdict:
    verb = args[0] if args else ""
    if verb in (
        "version",
        "validate",
        "list-certificates",
        "list-modules",
        "adapt",
        "environ",
        "build-info",
        "fmt",
        "help",
        "",
    ) and not (verb == "fmt" and "--overwrite" in args):
        return _v()
    return _v(CHANGE, f"caddy {verb}")


@_register("ufw")
def _ufw(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args)
    verb = pos[0] if pos else ""
    if verb in ("status", "show", "version", "app") and not (verb == "app" and "update" in pos):
        return _v()
    if (
        verb in ("deny", "reject", "disable", "reset", "delete")
        or (verb == "default" and any(p in ("deny", "reject") for p in pos))
        or (verb in ("insert", "route", "prepend") and any(p in ("deny", "reject") for p in pos))
    ):
        return _v(DESTRUCTIVE, "ufw " + " ".join(pos[:3]))
    return _v(CHANGE, "ufw " + " ".join(pos[:3]))


@_register("iptables", "ip6tables", "iptables-legacy", "iptables-nft")
def _iptables(args: list[str], cmd: SimpleCommand) -> Verdict:
    if _has(args, "-L", "-S", "--list", "--list-rules") and not _has(
        args, "-F", "-A", "-I", "-D", "-X", "-P"
    ):
        return _v()
    if _has(args, "-F", "--flush", "-X", "--delete-chain", "-P", "--policy") or any(
        a in ("DROP", "REJECT") for a in args
    ):
        return _v(DESTRUCTIVE, "iptables " + " ".join(args[:4]))
    return _v(CHANGE, "iptables " + " ".join(args[:4]))


@_register("nft")
def _nft(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args)
    if pos[:1] == ["list"] or not pos:
        return _v()
    if pos[:1] in (["flush"], ["delete"]) or "drop" in pos:
        return _v(DESTRUCTIVE, "nft " + " ".join(pos[:3]))
    return _v(CHANGE, "nft " + " ".join(pos[:3]))


@_register("fail2ban-client")
def _fail2ban(args: list[str], cmd: SimpleCommand) -> Verdict:
    pos = _positionals(args)
    if not pos or pos[0] in ("status", "ping", "version", "get", "banned", "-d"):
        return _v()
    return _v(CHANGE, "fail2ban-client " + " ".join(pos[:3]))


# -- git -------------------------------------------------------------------------

_GIT_GLOBAL = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})
_GIT_READ = frozenset(
    words(
        "log show status diff blame shortlog reflog rev-parse describe ls-files ls-remote ls-tree "
        "cat-file grep count-objects fsck whatchanged rev-list name-rev merge-base show-ref "
        "verify-commit verify-tag version help for-each-ref cherry range-diff"
    )
)


@_register("git")
def _git(args: list[str], cmd: SimpleCommand) -> Verdict:
    sub, rest = _split_at_positional(args, _GIT_GLOBAL)
    if not sub or sub in _GIT_READ:
        return _v()
    pos = _positionals(rest)
    if sub == "reset":
        return (
            _v(DESTRUCTIVE, "git reset --hard") if _has(rest, "--hard") else _v(CHANGE, "git reset")
        )
    if sub == "clean":
        return _v(DESTRUCTIVE, "git clean -f") if _has(rest, "-f", "--force") else _v()
    if sub == "push" and (
        _has(rest, "-f", "--force", "--force-with-lease", "--mirror", "-d", "--delete")
        or any(p.startswith("+") or p.startswith(":") for p in pos)
    ):
        return _v(DESTRUCTIVE, "git push --force")
    if sub in ("checkout", "switch") and (
        _has(rest, "-f", "--force", "--discard-changes") or ("--" in rest and "." in rest)
    ):
        return _v(DESTRUCTIVE, f"git {sub} --force")
    if sub == "restore":
        return _v(DESTRUCTIVE, "git restore (discards changes)")
    if sub == "branch":
        if _has(rest, "-D") or ("-d" in rest and _has(rest, "-f", "--force")):
            return _v(DESTRUCTIVE, "git branch -D")
        if not pos or _has(
            rest,
            "-a",
            "-r",
            "-v",
            "-vv",
            "--list",
            "--show-current",
            "--contains",
            "--merged",
            "--no-merged",
        ):
            return _v()
        return _v(CHANGE, "git branch")
    if sub == "tag":
        if not pos or _has(rest, "-l", "--list", "-n", "--contains", "-v", "--verify"):
            return _v()
        return _v(DESTRUCTIVE if _has(rest, "-d", "--delete") else CHANGE, "git tag")
    if sub == "stash":
        if pos[:1] in (["list"], ["show"]):
            return _v()
        return _v(
            DESTRUCTIVE if pos[:1] in (["drop"], ["clear"]) else CHANGE,
            f"git stash {' '.join(pos[:1])}".strip(),
        )
    if sub == "remote":
        if not pos or pos[0] in ("show", "get-url", "-v") or _has(rest, "-v"):
            return _v()
        return _v(CHANGE, f"git remote {pos[0]}")
    if sub == "config":
        if _has(rest, "--get", "--get-all", "--list", "-l", "--get-regexp") or len(pos) <= 1:
            return _v()
        return _v(CHANGE, "git config")
    if sub == "stash":
        return _v(CHANGE, "git stash")
    return _v(CHANGE, f"git {sub}")
