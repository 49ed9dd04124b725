"""The pure functions behind `warroom runbook lint` and `warroom runbook import`."""

from __future__ import annotations

from pathlib import Path

from core.runbooks.cli import import_command, lint_command
from core.runbooks.library import load_library

from .conftest import FIXTURES

LINT = FIXTURES / "lint"


def test_lint_command_exit_codes_and_text() -> None:
    code, text = lint_command([str(LINT / "good.toml")])
    assert code == 0 and "1 runbook file checked: no problems" in text
    code, text = lint_command([str(LINT / "warnings_only.toml")])
    assert code == 0 and "warning:" in text
    code, text = lint_command([str(LINT)])
    assert code == 1
    assert f"{LINT / 'bad_keys.toml'}:9: step 1 (one), key 'comand': unknown key" in text
    assert "5 runbook files checked" in text
    assert lint_command([])[0] == 2


def test_import_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, text = import_command(
        [str(FIXTURES / "structure.md"), str(FIXTURES / "cleartext_secret.md")], out, dry_run=True
    )
    assert code == 0
    assert not out.exists()
    assert "dry run: 3 runbooks would be written" in text
    assert "queue-backlog  [lines 20–39]  2 steps: 1 check, 1 action" in text
    assert "severity: none stated" in text
    assert "line 35: HTML comment" in text
    assert "lines 37–39: table (2 rows)" in text
    assert "Contents (table of contents)" in text
    assert "line 10: a clear-text secret" in text
    assert "Hunter2Secret" not in text


def test_import_writes_runbooks_that_load(tmp_path: Path) -> None:
    files = [str(FIXTURES / n) for n in ("german.md", "systemd_nginx.md", "mojibake_macroman.md")]
    code, text = import_command(files, tmp_path)
    assert code == 0, text
    written = sorted(p.name for p in tmp_path.glob("*.toml"))
    assert "festplatte-voll.toml" in written and "redis-unreachable.toml" in written
    assert f"wrote {len(written)} runbooks to {tmp_path}" in text
    assert "severity P1 (from 'hoch')" in text
    assert lint_command([str(tmp_path)])[0] == 0
    assert load_library([tmp_path]).errors == ()


def test_import_from_stdin_and_errors(tmp_path: Path) -> None:
    markdown = "## Restart the API\n\n```bash\ndocker restart api\n```\n"
    code, text = import_command(["-"], tmp_path, stdin_text=markdown)
    assert code == 0 and (tmp_path / "restart-the-api.toml").is_file()
    assert "<stdin>: 1 runbook" in text
    assert import_command(["-"], tmp_path)[0] == 1
    code, text = import_command([str(tmp_path / "missing.md")], tmp_path)
    assert code == 1 and "cannot read" in text
    (tmp_path / "empty.md").write_text("# Nothing\n\nJust prose.\n")
    code, text = import_command([str(tmp_path / "empty.md")], tmp_path, dry_run=True)
    assert code == 1 and "0 runbooks" in text
    assert import_command([], tmp_path)[0] == 2


def test_same_id_from_two_files_is_renamed(tmp_path: Path) -> None:
    one = tmp_path / "a.md"
    one.write_text("## Restart the API\n\n```bash\ndocker restart api\n```\n")
    two = tmp_path / "b.md"
    two.write_text(one.read_text())
    code, _ = import_command([str(one), str(two)], tmp_path / "out")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.toml")) == [
        "restart-the-api-2.toml", "restart-the-api.toml"
    ]


def test_builtin_ids_are_not_shadowed(tmp_path: Path) -> None:
    markdown = "## Service down\n\n1. Restart: `docker restart api`\n"
    code, text = import_command(["-"], tmp_path, stdin_text=markdown)
    assert code == 0 and (tmp_path / "service-down-imported.toml").is_file()
    assert "renamed so the built-in runbook 'service-down' stays" in text
    library = load_library([tmp_path])
    assert library.get("service-down") is not None and library.entries["service-down"].builtin
    assert library.get("service-down-imported") is not None
