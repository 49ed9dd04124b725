"""The ``warroom`` command line: the console, and headless subcommands.

Subcommands that do not open the console never import Textual, so
``warroom check`` stays quick enough for cron.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from core.config import Config, ConfigError, resolve_config
from core.probes import workers

EXIT_CONFIG = 3


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="config file (default: $WARROOM_CONFIG, then ~/.config/warroom/config.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``warroom``."""
    parser = argparse.ArgumentParser(
        prog="warroom",
        description="A terminal incident console for small self-hosted production stacks.",
    )
    _common(parser, suppress=False)
    parser.add_argument("--theme", metavar="NAME", help="colour theme (overrides the config)")
    parser.add_argument(
        "--read-only", action="store_true", help="refuse every action that changes a host"
    )
    parser.add_argument(
        "--checklist", metavar="INCIDENT_ID", help="open straight into the guided checklist"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="check every host once and exit (Nagios codes)")
    _common(check, suppress=True)
    check.add_argument("--json", action="store_true", help="print JSON for machines")

    report = sub.add_parser("report", help="write (again) the report of an incident")
    _common(report, suppress=True)
    report.add_argument("incident", metavar="INCIDENT_ID")

    runbook = sub.add_parser("runbook", help="lint or import runbooks")
    runbook_sub = runbook.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)
    lint = runbook_sub.add_parser("lint", help="validate runbook files or directories")
    _common(lint, suppress=True)
    lint.add_argument("paths", nargs="+", metavar="PATH")
    imp = runbook_sub.add_parser("import", help="turn Markdown runbooks into warroom runbooks")
    _common(imp, suppress=True)
    imp.add_argument("files", nargs="+", metavar="FILE.md", help="- reads standard input")
    imp.add_argument(
        "--out", metavar="DIR",
        help="where to write (default: the first settings.runbook_dirs entry, else ./runbooks)",
    )
    imp.add_argument("--dry-run", action="store_true", help="print the summary, write nothing")
    return parser


def load(args: argparse.Namespace) -> Config:
    """The config the arguments name (or the local default)."""
    return resolve_config(args.config)


def cmd_check(args: argparse.Namespace) -> int:
    """``warroom check``: connect to every host once and report."""
    config = load(args)
    workers.prefetch(config)  # the worker starts and checks while we import
    import asyncio

    from core.check import Status, run_check, to_json, to_text

    if not config.hosts:
        print(f"{config.source}: no hosts configured", file=sys.stderr)
        return int(Status.UNKNOWN)
    result = asyncio.run(run_check(config))
    print(to_json(config, result) if args.json else to_text(config, result))
    return int(result.status)


def cmd_report(args: argparse.Namespace) -> int:
    """``warroom report INCIDENT_ID``: regenerate the Markdown report from the journal."""
    from core.incidents.desk import IncidentDesk
    from core.incidents.model import is_incident_id

    config = load(args)
    if not is_incident_id(args.incident):
        print(f"warroom: {args.incident!r} is not an incident id", file=sys.stderr)
        return 2
    desk = IncidentDesk(config, watch=False)  # (it reads the journals once, then exits)
    if desk.tracker.root_error:
        print(f"warroom: cannot list {config.journal_dir}: {desk.tracker.root_error}",
              file=sys.stderr)
        return 1
    if args.incident in desk.tracker.unreadable:
        print(f"warroom: cannot read the journal of {args.incident}: "
              f"{desk.tracker.unreadable[args.incident]}", file=sys.stderr)
        return 1
    if not desk.tracker.knows(args.incident):
        print(f"warroom: no incident {args.incident} in {config.journal_dir}", file=sys.stderr)
        return 1
    try:
        print(desk.write_report(args.incident))
    except OSError as exc:
        print(f"warroom: cannot write the report of {args.incident}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_runbook(args: argparse.Namespace) -> int:
    """``warroom runbook lint|import``."""
    from core.runbooks.cli import import_command, lint_command

    if args.runbook_command == "lint":
        status, text = lint_command(args.paths)
    else:
        config = load(args)
        stdin = sys.stdin.read() if "-" in args.files else None
        dirs = config.settings.runbook_dirs
        out = args.out or (dirs[0] if dirs else None)
        status, text = import_command(args.files, out, args.dry_run, stdin, config.severity)
    print(text, file=sys.stdout if status == 0 else sys.stderr)
    return status


def prepare_console(config: Config) -> None:
    """What ``warroom`` does between reading the config and importing Textual.

    The console-checks worker starts and makes the config's first checks
    while Textual loads, and the garbage collector stays off from now until
    the App has frozen what start-up built (``freeze_start_up``): full
    collections over the objects the imports create cost 0.03-0.06 s of a
    launch.  (``bench/launch_child.py`` calls this too.)
    """
    workers.prefetch(config)
    gc.disable()


def cmd_console(args: argparse.Namespace) -> int:
    """Open the console."""
    config = load(args)
    prepare_console(config)
    from tui.app import WarroomApp  # Textual only when the console opens

    app = WarroomApp(
        config,
        theme=args.theme,
        read_only=args.read_only or config.settings.read_only,
        checklist=args.checklist,
        freeze_start_up=True,
    )
    app.run()
    if app.actions.pending:  # the audit log could not be written: never lose an entry
        print(f"warroom: these audit entries could not be written to {config.audit_path}:",
              file=sys.stderr)
        for entry in app.actions.pending:
            print(entry.to_json(), file=sys.stderr)
        return 1
    return int(app.return_code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``warroom`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "runbook":
            return cmd_runbook(args)
        return cmd_console(args)
    except ConfigError as exc:
        print(f"warroom: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
