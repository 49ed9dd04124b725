"""Classifier handlers for containers, databases, caches, object storage and backup tools."""

from __future__ import annotations

import os

from core.runbooks.classify_base import (
    CHANGE,
    DESTRUCTIVE,
    INTERACTIVE,
    Verdict,
    _has,
    _register,
    _split_at_positional,
    _v,
    classify_argv,
    words,
)
from core.runbooks.shellwords import SimpleCommand

# -- docker ------------------------------------------------------------------

_DOCKER_GLOBAL = frozenset(
    {
        "-H",
        "--host",
        "-c",
        "--context",
        "--config",
        "-l",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
    }
)
_DOCKER_READ = frozenset(
    words(
        "ps logs inspect stats top images info version events port diff history search wait "
        "export ls list df du"
    )
)
_DOCKER_CHANGE = frozenset(
    words(
        "restart start stop kill pause unpause update run create pull build push tag commit cp "
        "rename load import login logout rmi save connect disconnect scale"
    )
)
_EXEC_VALUE = frozenset(
    {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys", "--index"}
)


def _exec_inner(args: list[str], tool: str) -> Verdict:
    target, inner = _split_at_positional(args, _EXEC_VALUE)
    tty = _has(args, "-t", "--tty")
    if not target:
        return _v(CHANGE, f"{tool} exec")
    if not inner:
        return _v(CHANGE, f"{tool} exec")
    verdict = classify_argv(inner, SimpleCommand(inner))
    if tty and os.path.basename(inner[0]) in INTERACTIVE | {"psql", "mysql", "redis-cli"}:
        verdict.interactive = True
    return verdict


def _docker_sub(sub: str, rest: list[str], group: str = "") -> Verdict:
    label = " ".join(x for x in ("docker", group, sub) if x)
    if sub == "logs":
        return _v(endless=_has(rest, "-f", "--follow"))
    if sub == "stats":
        return _v(endless=not _has(rest, "--no-stream"))
    if sub == "events":
        return _v(endless=not _has(rest, "--until"))
    if sub == "exec":
        return _exec_inner(rest, "docker")
    if sub == "attach":
        return _v(interactive=True)
    if sub in ("rm", "remove"):
        if group == "volume":
            return _v(DESTRUCTIVE, "docker volume rm")
        if group in ("service", "stack", "secret", "config"):
            return _v(DESTRUCTIVE, label)
        if _has(rest, "-f", "--force", "-v", "--volumes"):
            return _v(DESTRUCTIVE, f"{label} -f/-v")
        return _v(CHANGE, label)
    if sub == "prune":
        if group in ("volume", "container") or _has(rest, "-a", "--all", "--volumes"):
            return _v(DESTRUCTIVE, f"{label} " + " ".join(a for a in rest if a.startswith("-")))
        return _v(CHANGE, label)
    if sub == "save" and not _has(rest, "-o", "--output"):
        return _v()
    if sub in _DOCKER_READ:
        return _v()
    if sub in _DOCKER_CHANGE:
        return _v(CHANGE, label)
    if sub in (
        "volume",
        "image",
        "container",
        "network",
        "system",
        "builder",
        "buildx",
        "context",
        "plugin",
        "service",
        "stack",
        "node",
        "swarm",
        "secret",
        "config",
        "trust",
        "manifest",
    ):
        sub2, rest2 = _split_at_positional(rest, frozenset())
        if not sub2:
            return _v()
        if sub2 in (
            "ls",
            "list",
            "inspect",
            "df",
            "du",
            "info",
            "show",
            "history",
            "ps",
            "logs",
            "version",
            "events",
        ):
            return _docker_sub(sub2, rest2, sub) if sub2 in ("logs", "events") else _v()
        return (
            _docker_sub(sub2, rest2, sub)
            if sub2 in ("rm", "remove", "prune", "exec")
            else _v(CHANGE, f"docker {sub} {sub2}")
        )
    if sub == "compose":
        return _compose(rest)
    if sub == "scout":
        return _v()
    return _v(CHANGE, label, unknown=True)


@_register("docker", "podman")
def _docker(args: list[str], cmd: SimpleCommand) -> Verdict:
    sub, rest = _split_at_positional(args, _DOCKER_GLOBAL)
    if not sub:
        return _v()
    return _docker_sub(sub, rest)


_COMPOSE_GLOBAL = frozenset(
    {
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--env-file",
        "--profile",
        "--project-directory",
        "--ansi",
        "--progress",
        "--parallel",
        "-H",
        "--host",
        "--context",
    }
)
_COMPOSE_READ = frozenset(["ps", "config", "top", "images", "ls", "version", "port", "convert"])
_COMPOSE_CHANGE = frozenset(
    words(
        "restart start stop up create pull build push kill pause unpause scale cp run watch"
    )
)


def _compose(args: list[str]) -> Verdict:
    sub, rest = _split_at_positional(args, _COMPOSE_GLOBAL)
    dry = "--dry-run" in args[: args.index(sub)] if sub in args else False
    if not sub:
        return _v()
    if sub == "logs":
        return _v(endless=_has(rest, "-f", "--follow"))
    if sub == "events":
        return _v(endless=True)
    if sub in _COMPOSE_READ or dry:
        return _v()
    if sub == "exec":
        return _exec_inner(rest, "docker compose")
    if sub == "down":
        return _v(
            DESTRUCTIVE, "docker compose down" + (" -v" if _has(rest, "-v", "--volumes") else "")
        )
    if sub == "rm":
        if _has(rest, "-v", "--volumes"):
            return _v(DESTRUCTIVE, "docker compose rm -v")
        return _v(CHANGE, "docker compose rm")
    if sub in _COMPOSE_CHANGE:
        return _v(CHANGE, f"docker compose {sub}")
    return _v(CHANGE, f"docker compose {sub}", unknown=True)


@_register("docker-compose", "podman-compose")
def _docker_compose(args: list[str], cmd: SimpleCommand) -> Verdict:
    return _compose(args)
