"""The classifier's core: verdicts, option helpers, the handler registry, :func:`classify`.

Handlers for individual programs live in :mod:`core.runbooks.classify_system`
and :mod:`core.runbooks.classify_data`; :mod:`core.runbooks.commands` imports
them all and is the module to use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from core.runbooks.shellwords import SimpleCommand, parse_shell
from core.runbooks.sqlclass import Effect

READ, CHANGE, DESTRUCTIVE = Effect.READ, Effect.CHANGE, Effect.DESTRUCTIVE


@dataclass
class Verdict:
    """What a command line does."""

    effect: Effect = READ
    reasons: list[str] = field(default_factory=list)
    interactive: bool = False
    endless: bool = False
    unknown: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)

    def add(self, effect: Effect, reason: str = "") -> Verdict:
        self.effect = max(self.effect, effect)
        if reason and effect > READ and reason not in self.reasons:
            self.reasons.append(reason)
        return self

    def merge(self, other: Verdict) -> Verdict:
        self.effect = max(self.effect, other.effect)
        for reason in other.reasons:
            if reason not in self.reasons:
                self.reasons.append(reason)
        self.interactive = self.interactive or other.interactive
        self.endless = self.endless or other.endless
        self.unknown += [u for u in other.unknown if u not in self.unknown]
        self.programs += [p for p in other.programs if p not in self.programs]
        return self

    @property
    def reads_only(self) -> bool:
        return self.effect == READ and not self.unknown


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text`` (for compact name lists)."""
    return tuple(text.split())


def _short_flags(args: list[str]) -> set[str]:
    flags: set[str] = set()
    for a in args:
        if a.startswith("-") and not a.startswith("--") and len(a) > 1:
            flags.update(a[1:])
    return flags


def _long(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


def _has(args: list[str], *names: str) -> bool:
    longs = _long(args)
    shorts = _short_flags(args)
    for name in names:
        if name.startswith("--"):
            if name in longs:
                return True
        elif name.startswith("-") and len(name) == 2 and name[1] in shorts:
            return True
    return False


def _positionals(args: list[str], value_opts: frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--":
            continue
        if a.startswith("-") and len(a) > 1:
            if a in value_opts:
                skip = True
            continue
        out.append(a)
    return out


def _split_at_positional(args: list[str], value_opts: frozenset[str]) -> tuple[str, list[str]]:
    """The first positional argument (skipping options and their values) and the rest."""
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1:
            i += 2 if a in value_opts else 1
            continue
        return a, args[i + 1 :]
    return "", []


Handler = Callable[[list[str], SimpleCommand], Verdict]


def _v(
    effect: Effect = READ,
    reason: str = "",
    *,
    interactive: bool = False,
    endless: bool = False,
    unknown: str | bool = False,
) -> Verdict:
    v = Verdict(interactive=interactive, endless=endless)
    if unknown:
        v.unknown.append(unknown if isinstance(unknown, str) else (reason.split(" (")[0] or "?"))
    return v.add(effect, reason)


READ_ONLY = frozenset(
    words(
        "ls ll la dir cat zcat bzcat xzcat zstdcat head grep egrep fgrep zgrep rg ag wc uniq cut "
        "tr column jq yq echo printf date uptime whoami id uname df du free vmstat iostat mpstat "
        "sar pidstat ps pgrep pidof pstree lsof ss netstat traceroute tracepath dig nslookup host "
        "whois getent stat file which type whereis readlink realpath basename dirname printenv "
        "test [ true false sleep lsblk blkid findmnt mountpoint last lastlog who w users groups "
        "nproc lscpu lsmem lspci lsusb arch tty locale md5sum sha1sum sha256sum sha512sum cksum "
        "b2sum diff cmp comm tree nl tac rev fold fmt od hexdump xxd strings base64 pg_isready "
        "pg_lsclusters pg_config nc ncat netcat seq expr bc awk gawk mawk nawk sed sort tee cd "
        "pushd popd export unset alias set exit wait sync getfacl lsattr namei ulimit apt-cache "
        "dpkg-query rpm ssh-keyscan openssl curl wget ip mount swapon dmesg timedatectl "
        "hostnamectl hostname loginctl logger true : env iotop tcpdump strace numfmt xargs"
    )
)

INTERACTIVE = frozenset(
    words(
        "top htop btop atop iftop nethogs nmon glances ncdu less more most man vi vim nvim nano "
        "emacs pico mc tmux screen telnet visudo vipw passwd mysql_secure_installation bash sh "
        "zsh dash ksh fish python python3 node irb ipython"
    )
)
EDITORS = frozenset(["vi", "vim", "nvim", "nano", "emacs", "pico", "visudo", "vipw"])


def _generic_change(name: str) -> Handler:
    def handler(args: list[str], cmd: SimpleCommand) -> Verdict:
        return _v(CHANGE, name)

    return handler


def _destructive(name: str) -> Handler:
    def handler(args: list[str], cmd: SimpleCommand) -> Verdict:
        return _v(DESTRUCTIVE, name)

    return handler


HANDLERS: dict[str, Handler] = {}


def _register(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return deco


_READISH_WORDS = frozenset(
    words(
        "status list ls show version --version -v -V --help -h help info health healthcheck "
        "describe get inspect logs ps top stats df"
    )
)


def _unknown(prog: str, args: list[str]) -> Verdict:
    words: set[str] = set()
    for a in args[:4]:
        words.update(re.split(r"[:/]", a.lower()))
    if words & _READISH_WORDS:
        return _v(unknown=prog)
    return _v(CHANGE, f"{prog} (unknown program: assumed to change state)", unknown=True)


def classify_argv(argv: list[str], cmd: SimpleCommand | None = None) -> Verdict:
    """Classify one program invocation given as a list of words."""
    words = list(argv)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words.pop(0)
    if not words:
        return _v()
    cmd = cmd or SimpleCommand(words)
    prog_path = words[0]
    prog = os.path.basename(prog_path)
    args = words[1:]
    verdict: Verdict
    if prog in HANDLERS:
        verdict = HANDLERS[prog](args, cmd)
    elif prog.startswith("mkfs."):
        verdict = _v(DESTRUCTIVE, prog)
    elif prog in INTERACTIVE:
        verdict = _v(interactive=True)
        if prog in ("top",) and _has(args, "-b"):
            verdict = _v(endless=not _has(args, "-n"))
        elif prog in EDITORS:
            verdict = _v(CHANGE, f"{prog} (edits a file)", interactive=True)
        elif prog in ("python", "python3", "node", "irb") and args:
            verdict = _unknown(prog, args)
    elif prog in READ_ONLY:
        verdict = _v()
        if prog == "tcpdump":
            verdict.endless = not _has(args, "-c")
        if prog == "strace":
            verdict.endless = True
    elif prog in ("while", "until"):
        verdict = _v()
    else:
        verdict = _unknown(prog_path, args)
    verdict.programs.insert(0, prog)
    if prog == "kill" and (_has(args, "-l", "-L") or "-0" in args):
        verdict = _v()
        verdict.programs = [prog]
    return verdict


_HARMLESS_TARGETS = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty")


def _redirect_verdict(cmd: SimpleCommand) -> Verdict:
    verdict = _v()
    for op, target in cmd.redirects:
        if (
            op in (">", ">>", ">|", "&>", "&>>", "<>")
            and target
            and not target.startswith(_HARMLESS_TARGETS)
            and not target.startswith("&")
            and not target.isdigit()
        ):
            truncate_only = op in (">", ">|", "&>") and (
                not cmd.words
                or (
                    cmd.words[0] in (":", "true", "cat")
                    and len(cmd.words) <= 2
                    and (len(cmd.words) == 1 or cmd.words[1] == "/dev/null")
                )
            )
            if truncate_only:
                verdict.add(DESTRUCTIVE, f"truncates {target}")
            else:
                verdict.add(CHANGE, f"writes {target}")
    return verdict


def classify(command: str) -> Verdict:
    """Classify a shell command line (pipes, lists, substitutions and wrappers included)."""
    parsed = parse_shell(command)
    verdict = _v()
    for simple in parsed.commands:
        verdict.merge(_redirect_verdict(simple))
        if not simple.words:
            continue
        one = classify_argv(simple.words, simple)
        if simple.condition_of in ("while", "until") and simple.words[0] in ("true", ":", "sleep"):
            one.endless = True
        verdict.merge(one)
    return verdict


def is_known_program(name: str) -> bool:
    """True when the classifier knows ``name`` (so a command starting with it is a command)."""
    base = os.path.basename(name)
    return base in HANDLERS or base in READ_ONLY or base in INTERACTIVE or base.startswith("mkfs.")
