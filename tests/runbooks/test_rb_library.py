"""The built-in library and user runbook directories."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.runbooks import signals
from core.runbooks.library import BUILTIN_DIR, builtin_library, load_library, match_runbook
from core.runbooks.lint import lint_paths
from core.runbooks.model import CONTEXT_VARIABLES
from core.runbooks.template import fill

from .conftest import FIXTURES


def test_every_builtin_runbook_lints_clean() -> None:
    files = sorted(BUILTIN_DIR.glob("*.toml"))
    assert len(files) >= 20
    problems = lint_paths([BUILTIN_DIR])
    assert problems == [], "\n".join(str(p) for p in problems)


def test_builtins_load_and_cover_every_signal() -> None:
    library = builtin_library()
    assert library.errors == ()
    for signal in signals.ALL_SIGNALS:
        assert library.match(signal) is not None, signal
    for extra in ("failed-deployment", "security-breach", "server-unresponsive",
                  "backup-restore-test"):
        assert library.get(extra) is not None, extra


def _values(runbook_vars: dict[str, object]) -> dict[str, str]:
    values = {name: f"v-{name}" for name in CONTEXT_VARIABLES}
    values["compose"] = "docker compose -p shop"
    values.update({name: f"v-{name}" for name in runbook_vars})
    return values


def test_every_builtin_command_fills() -> None:
    for runbook in builtin_library():
        values = _values(dict(runbook.variables))
        for step in runbook.steps:
            if step.command:
                step.render(values)
            if step.destructive:
                assert step.confirm_word(values)


def test_api_down_runbook_has_logs_restart_and_self_verifying_check() -> None:
    rb = match_runbook(signals.CONTAINER_EXITED)
    assert rb is not None and signals.ENDPOINT_DOWN in rb.match
    values = {"container": "shop-api-1"}
    commands = {s.kind + ":" + fill(s.command, values) for s in rb.steps if s.command}
    assert "check:docker logs --tail 100 shop-api-1 2>&1" in commands
    assert "action:docker restart shop-api-1" in commands
    verify = next(s for s in rb.steps if s.expect is not None)
    assert verify.kind == "check" and verify.retry_for > 0
    assert "{{.State.Health.Status}}" in fill(verify.command, values)
    assert verify.expect.evaluate(0, "healthy\n")[0]
    assert not verify.expect.evaluate(0, "unhealthy\n")[0]
    assert not verify.expect.evaluate(0, "starting\n")[0]


def test_connections_runbook_terminates_idle_sessions() -> None:
    rb = match_runbook(signals.POSTGRES_CONNECTIONS_HIGH)
    assert rb is not None
    action = next(s for s in rb.steps if s.kind == "action")
    assert action.runner == "sql" and "pg_terminate_backend" in action.command
    sql = action.render(rb.resolve_variables({}, {"idle_minutes": "0"}))
    assert "make_interval(mins => '0'::int)" in sql and "state = 'idle'" in sql
    assert rb.variables["idle_minutes"].ask


def test_user_runbook_overrides_builtin_by_id() -> None:
    library = load_library([FIXTURES / "user_override"])
    entry = library.entries["service-down"]
    assert not entry.builtin and entry.overrides is not None
    assert library.get("service-down").title == "Our own service-down procedure"  # type: ignore[union-attr]
    assert library.match(signals.CONTAINER_EXITED).id == "service-down"  # type: ignore[union-attr]
    assert library.match(signals.CONTAINER_RESTARTING).id == "queue-stuck"  # type: ignore[union-attr]
    assert len(library) == len(builtin_library()) + 1


def test_broken_user_file_is_reported_and_the_others_load(tmp_path: Path) -> None:
    library = load_library([FIXTURES / "user_broken", tmp_path / "missing"])
    assert library.get("still-loads") is not None
    assert library.get("broken-one") is None
    messages = [str(e) for e in library.errors]
    assert any("broken.toml" in m and "{contaner}" in m and "step 1 (oops)" in m for m in messages)
    assert any("does not exist" in m for m in messages)
    assert library.get("service-down") is not None


def test_two_user_files_with_one_id(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(
            (FIXTURES / "user_override" / "queue-stuck.toml").read_text()
        )
    library = load_library([tmp_path])
    assert library.get("queue-stuck") is not None
    assert any("already used" in str(e) for e in library.errors)


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_builtin_file_name_is_its_id(path: Path) -> None:
    assert re.search(r'^id = "([^"]+)"', path.read_text(), re.M).group(1) == path.stem  # type: ignore[union-attr]


def test_a_runbook_the_checker_fails_on_costs_only_that_runbook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.runbooks.library as library_module

    (tmp_path / "odd.toml").write_text('id = "odd"\n')
    real = library_module.load_runbook

    def load(path: Path) -> object:
        if path.name == "odd.toml":
            raise KeyError("a checker's own bug")
        return real(path)

    monkeypatch.setattr(library_module, "load_runbook", load)
    library = load_library([tmp_path])
    assert [str(e) for e in library.errors] == [
        f"{tmp_path / 'odd.toml'}: could not be checked: KeyError: \"a checker's own bug\""]
    assert len(library) == len(builtin_library()) and "odd" not in library
