"""fill(): every value is one quoted word; templates are strict about braces."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from core.runbooks.template import (
    TemplateError,
    escape,
    fill,
    placeholders,
    quoted_placeholders,
    unescape,
)

HOSTILE = [
    "a; rm -rf /",
    "$(reboot)",
    "`id`",
    "x' ; echo pwned; '",
    'x" ; echo pwned; "',
    "line1\nline2",
    "--help",
    "*",
    "~root",
    "a b\tc",
    "$HOME",
    "{not a placeholder}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_one_literal_argument(value: str) -> None:
    command = fill("printf '%s\\0' {service}", {"service": value})
    assert shlex.split(command) == ["printf", "%s\\0", value]
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert out == value.encode() + b"\0"


def test_sql_quoting_doubles_quotes() -> None:
    assert fill("SELECT {x}", {"x": "it's"}, quote="sql") == "SELECT 'it''s'"
    assert fill("SELECT {n}::int", {"n": "5"}, quote="sql") == "SELECT '5'::int"


def test_compose_prefix_is_split_and_each_word_quoted() -> None:
    compose = "docker compose -f docker-compose.prod.yml --env-file .env.production"
    assert fill("{compose} ps", {"compose": compose}) == compose + " ps"
    tricky = fill("{compose} ps", {"compose": "docker compose -f 'my file.yml'"})
    assert shlex.split(tricky) == ["docker", "compose", "-f", "my file.yml", "ps"]
    with pytest.raises(TemplateError):
        fill("SELECT {compose}", {"compose": "docker compose"}, quote="sql")


def test_literal_braces_are_escaped_by_doubling() -> None:
    template = "docker inspect -f '{{{{.State.Status}}}}' {container}"
    assert fill(template, {"container": "api"}) == "docker inspect -f '{{.State.Status}}' api"
    assert fill("echo {{1..3}}", {}) == "echo {1..3}"
    assert escape("a {b} }") == "a {{b}} }}"
    assert fill(escape("curl -w '%{http_code}'"), {}) == "curl -w '%{http_code}'"
    assert unescape("x {{y}} {z}") == "x {y} {z}"


@pytest.mark.parametrize("bad", ["docker inspect {{.X}", "echo {a b}", "echo {", "echo }", "{1x}"])
def test_malformed_templates_are_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        fill(bad, {"a": "1"})


def test_unknown_and_empty_variables_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"\{dir\}"):
        fill("rm -rf {dir}/", {})
    with pytest.raises(TemplateError, match="empty"):
        fill("rm -rf {dir}/", {"dir": ""})
    assert fill("aws s3 ls s3://{bucket}/{prefix}", {"bucket": "b", "prefix": ""}) == (
        "aws s3 ls s3://b/"
    )


def test_placeholders_in_order_and_inside_quotes() -> None:
    assert placeholders("{a} {b} {a} {{c}}") == ["a", "b"]
    assert quoted_placeholders("sh -c 'ls {dir}' {ok}") == ["dir"]
    assert quoted_placeholders("docker inspect -f '{{{{.Name}}}}' {c}") == []
