"""Loading and linting runbook files: errors name the file, line, step and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runbooks.lint import has_errors, lint_paths, lint_text
from core.runbooks.loader import RunbookError, load_runbook, parse_runbook
from core.runbooks.validate import Problem
from core.runbooks.writer import dumps

from .conftest import FIXTURES

LINT = FIXTURES / "lint"


def _find(problems: list[Problem], file: str, key: str, step: int | None = None) -> Problem:
    for p in problems:
        if p.file.endswith(file) and p.key == key and (step is None or p.step == step):
            return p
    raise AssertionError(f"no problem for {file} {key} step {step}: {[str(p) for p in problems]}")


def test_good_file_loads_and_lints_clean() -> None:
    rb = load_runbook(LINT / "good.toml")
    assert rb.id == "cache-flush" and len(rb.steps) == 3
    assert lint_paths([LINT / "good.toml"]) == []


def test_unknown_keys_wrong_types_and_severity_labels() -> None:
    problems = lint_paths([LINT / "bad_keys.toml"])
    severity = _find(problems, "bad_keys.toml", "severity")
    assert "ordinal 0 (worst) to 3" in severity.message and severity.line == 3
    colour = _find(problems, "bad_keys.toml", "colour")
    assert "unknown key" in colour.message
    typo = _find(problems, "bad_keys.toml", "comand", step=1)
    assert "did you mean 'command'" in typo.message and typo.line == 9
    timeout = _find(problems, "bad_keys.toml", "timeout", step=2)
    assert "expected a number" in timeout.message
    text = str(timeout)
    assert text.startswith(str(LINT / "bad_keys.toml") + ":15: step 2 (two), key 'timeout'")


def test_structure_errors() -> None:
    problems = lint_paths([LINT / "bad_structure.toml"])
    assert "did you mean 'disk.full'" in _find(problems, "bad_structure.toml", "match").message
    dup = _find(problems, "bad_structure.toml", "id", step=2)
    assert "duplicate step id" in dup.message and dup.line == 11
    var = _find(problems, "bad_structure.toml", "command", step=1)
    assert "{mountpoint}" in var.message and "did you mean 'mount'" in var.message
    nowhere = _find(problems, "bad_structure.toml", "choices", step=3)
    assert "'nowhere' does not exist" in nowhere.message
    confirm = _find(problems, "bad_structure.toml", "destructive", step=4)
    assert "confirmation" in confirm.message


def test_toml_syntax_error_has_a_line() -> None:
    (problem,) = lint_paths([LINT / "bad_syntax.toml"])
    assert problem.line == 6 and "TOML syntax error" in problem.message


def test_nesting_too_deep_for_the_toml_parser_is_a_problem_not_a_crash() -> None:
    (problem,) = lint_text("a = " + "[" * 600 + "]" * 600 + "\n", "deep.toml")
    assert "nested too deeply" in problem.message


def test_table_headers_are_found_with_spaces_and_comments() -> None:
    text = ('id = "t"\ntitle = "t"\n  [[ steps ]]  # one\nid = "a"\nkind = "chek"\n'
            'command = "ls"\n\n[[steps]]\nid = "b"\nkind = "chek"\ncommand = "ls"\n'
            "[" + " " * 3000 + "\n")
    problems = lint_text(text, "t.toml")
    assert [p.line for p in problems] == [12]  # the stray "[" line is a syntax error ...
    text = text.rsplit("\n[", 1)[0] + "\n"
    problems = lint_text(text, "t.toml")
    assert sorted((p.step, p.line) for p in problems) == [(1, 5), (2, 10)]  # ... steps located


def test_warnings_do_not_stop_loading() -> None:
    problems = lint_paths([LINT / "warnings_only.toml"])
    assert problems and not has_errors(problems)
    assert "looks state-changing" in _find(problems, "warnings_only.toml", "command", 1).message
    assert "no step uses it" in _find(problems, "warnings_only.toml", "variables.unused").message
    load_runbook(LINT / "warnings_only.toml")


def test_loader_refuses_a_file_with_errors_and_lists_them() -> None:
    with pytest.raises(RunbookError) as info:
        load_runbook(LINT / "bad_structure.toml")
    text = str(info.value)
    assert "bad_structure.toml:11: step 2 (look), key 'id'" in text
    assert len(info.value.problems) >= 5


def test_missing_file_and_directory_lint(tmp_path: Path) -> None:
    problems = lint_paths([tmp_path / "nope.toml", LINT])
    assert any("no such file" in p.message for p in problems)
    assert {Path(p.file).name for p in problems} >= {"bad_keys.toml", "bad_syntax.toml"}


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text((LINT / "good.toml").read_text())
    problems = lint_paths([tmp_path])
    assert any("also used by" in p.message for p in problems)


@pytest.mark.parametrize(
    "step, message",
    [
        ('kind = "manual"\ntitle = "x"\ncommand = "ls"', "runs no command"),
        ('kind = "check"', "needs a command"),
        ('kind = "decision"\nquestion = "q"\nchoices = [{label="a", next="end"}]', "two choices"),
        ('kind = "check"\ncommand = "ls"\ndestructive = true', "only actions"),
        ('kind = "check"\ncommand = "ls"\nnext = "s"', "cannot lead to itself"),
        ('kind = "check"\ncommand = "echo {"', "unexpected '{'"),
        ('kind = "check"\ncommand = "ls"\n[steps.expect]', "at least one"),
        ('kind = "check"\nrunner = "sql"\ncommand = "DELETE FROM t"', "looks state-changing"),
        ('kind = "action"\ncommand = "docker compose down"', "looks destructive"),
        ('kind = "action"\ncommand = "htop"', "interactive terminal"),
        ('kind = "chek"\ncommand = "ls"', "expected one of"),
        ('kind = "check"\ntype = "check"\ncommand = "ls"', "kind"),
        # patterns re.compile cannot take raise OverflowError or RecursionError, not re.error
        ('kind = "check"\ncommand = "ls"\n[steps.expect]\noutput_matches = "a{4294967296}"',
         "not a valid regular expression"),
        ('kind = "check"\ncommand = "ls"\n[steps.expect]\noutput_matches = "'
         + "(" * 600 + "a" + ")" * 600 + '"', "not a valid regular expression"),
        ('kind = "check"\ncommand = "ls\\u0000"', "NUL character"),
    ],
)
def test_step_rules(step: str, message: str) -> None:
    text = f'id = "t"\ntitle = "t"\n\n[[steps]]\nid = "s"\n{step}\n'
    problems = lint_text(text, "t.toml")
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    assert all(p.step in (1, None) for p in problems)


def test_dump_and_parse_round_trip() -> None:
    rb = load_runbook(LINT / "good.toml")
    assert parse_runbook(dumps(rb), "again.toml") == rb


def test_placeholder_inside_quotes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "quoted.toml"
    path.write_text('id = "q"\ntitle = "q"\n[[steps]]\nid = "s"\nkind = "check"\n'
                    'command = "sh -c \\"docker logs {service}\\""\n')
    problems = lint_paths([path])
    assert has_errors(problems)
    assert "inside quotes" in _find(problems, "quoted.toml", "command", 1).message
