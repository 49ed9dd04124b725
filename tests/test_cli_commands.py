"""`warroom runbook lint|import` and `warroom report` as a person runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import parse_config
from core.incidents.journal import JournalStore
from core.incidents.model import Finding
from core.incidents.severity import SeverityScheme
from core.incidents.tracker import IncidentTracker

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "runbooks"


def warroom(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, input=stdin)


def test_builtin_runbooks_lint_clean() -> None:
    proc = warroom("runbook", "lint", "core/runbooks/builtin")
    assert proc.returncode == 0, proc.stdout
    assert "no problems" in proc.stdout


def test_import_writes_runbooks_that_lint_clean(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    proc = warroom("runbook", "import", str(FIXTURES / "systemd_nginx.md"), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = sorted(out.glob("*.toml"))
    assert written, proc.stdout
    lint = warroom("runbook", "lint", str(out))
    assert lint.returncode == 0, lint.stdout


def test_import_from_stdin_dry_run_writes_nothing(tmp_path: Path) -> None:
    text = (FIXTURES / "placeholders.md").read_text()
    proc = warroom("runbook", "import", "-", "--dry-run", "--out", str(tmp_path / "x"),
                   stdin=text)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dry run" in proc.stdout
    assert not (tmp_path / "x").exists()


def test_report_regenerates_from_the_journal(tmp_path: Path) -> None:
    config_path = tmp_path / "c.toml"
    config_path.write_text(f'[settings]\ndata_dir = "{tmp_path}"\noperator = "alice"\n')
    config = parse_config(config_path.read_text())
    tracker = IncidentTracker(JournalStore(config.journal_dir, "alice"), SeverityScheme())
    finding = Finding("disk.full", "web1", "/", 1, "Disk full", "/ at 97 %",
                      evidence={"used_percent": 97.0, "url": "postgres://u:hunter2@db/x"})
    tracker.observe([finding], now=1_790_000_000.0)
    [incident] = tracker.incidents()
    proc = warroom("report", incident.id, "--config", str(config_path))
    assert proc.returncode == 0, proc.stderr
    report = Path(proc.stdout.strip()).read_text()
    assert "Disk full" in report and "hunter2" not in report
    missing = warroom("report", "20990101-0000-nope", "--config", str(config_path))
    assert missing.returncode == 1 and "no incident" in missing.stderr


def test_report_reads_the_journals_without_following_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from core.incidents import desk
    from tui import cli

    def no_watcher(*args: object, **kwargs: object) -> None:
        raise AssertionError("warroom report made a journal watcher")

    monkeypatch.setattr(desk, "JournalWatcher", no_watcher)  # (it stats every journal)
    config_path = tmp_path / "c.toml"
    config_path.write_text(f'[settings]\ndata_dir = "{tmp_path}"\noperator = "alice"\n')
    config = parse_config(config_path.read_text())
    tracker = IncidentTracker(JournalStore(config.journal_dir, "alice"), SeverityScheme())
    tracker.observe([Finding("disk.full", "web1", "/", 1, "Disk full", "/ at 97 %")],
                    now=1_790_000_000.0)
    [incident] = tracker.incidents()
    assert cli.main(["report", incident.id, "--config", str(config_path)]) == 0
    assert "Disk full" in Path(capsys.readouterr().out.strip()).read_text()
