"""The model: expectations, navigation, confirmation words, rendering, severity labels."""

from __future__ import annotations

import pytest

from core.config import DockerConfig, HostConfig, PostgresConfig, SeverityConfig
from core.runbooks.loader import parse_runbook
from core.runbooks.model import (
    Expect,
    host_variables,
    severity_label,
    severity_ordinal,
    sql_output,
)

RUNBOOK = """
id = "nav"
title = "Navigation"

[[steps]]
id = "a"
kind = "check"
command = "true"

[[steps]]
id = "ask"
kind = "decision"
question = "ok?"
choices = [{label = "yes", next = "end"}, {label = "no", next = "fix"}]

[[steps]]
id = "skip-me"
kind = "manual"
title = "never reached by 'no'"

[[steps]]
id = "fix"
kind = "action"
workdir = "{project_dir}"
command = "{compose} restart {service}"
next = "a"

[[steps]]
id = "wipe"
kind = "action"
destructive = true
command = "docker volume rm {service}_data"
"""


def test_expect_evaluates_every_condition() -> None:
    expect = Expect(exit_status=0, output_matches=r"^healthy\s*$")
    assert expect.evaluate(0, "healthy\n") == (True, "as expected")
    assert not expect.evaluate(0, "unhealthy\n")[0]
    assert not expect.evaluate(1, "healthy\n")[0]
    assert not expect.evaluate(None, "healthy\n")[0]
    assert not Expect(output_not_contains="ERROR").evaluate(0, "x ERROR y")[0]
    with pytest.raises(ValueError):
        Expect()


def test_navigation_follows_next_and_choices() -> None:
    rb = parse_runbook(RUNBOOK, "nav.toml")
    assert rb.next_step("a") == "ask"
    assert rb.next_step("ask", "yes") is None
    assert rb.next_step("ask", "no") == "fix"
    assert rb.next_step("fix") == "a"
    assert rb.next_step("wipe") is None
    with pytest.raises(KeyError):
        rb.next_step("ask", "maybe")


def test_render_quotes_and_prefixes_workdir() -> None:
    rb = parse_runbook(RUNBOOK, "nav.toml")
    values = {"project_dir": "/srv/my shop", "compose": "docker compose -p shop", "service": "api"}
    assert rb.step("fix").render(values) == (
        "cd '/srv/my shop' || exit 1; docker compose -p shop restart api"
    )
    assert rb.step("wipe").confirm_word(values) == "api"
    assert rb.missing_variables({"service": "api"}) == ["project_dir", "compose"]


def test_resolve_variables_answers_win() -> None:
    rb = parse_runbook(
        RUNBOOK + '\n[variables.n]\ndefault = "5"\nask = true\n', "nav.toml"
    )
    values = rb.resolve_variables({"service": "api", "n": "7", "db": ""}, {"n": "9"})
    assert values["n"] == "9" and values["service"] == "api" and "db" not in values
    assert rb.questions() == ["n"]


def test_severity_labels_follow_the_scheme() -> None:
    sev = SeverityConfig(labels=("SEV1", "SEV2", "SEV3", "SEV4"))
    assert severity_label(0) == "P0"
    assert severity_label(1, sev) == "SEV2"
    assert severity_ordinal("sev3", sev) == 2
    assert severity_ordinal(3) == 3
    with pytest.raises(ValueError):
        severity_ordinal("P9")


def test_host_variables_come_from_the_config() -> None:
    host = HostConfig(
        name="web1",
        address="10.0.0.5",
        docker=DockerConfig(project="shop", project_dir="/srv/shop", compose="docker compose"),
        postgres=PostgresConfig(database="shop", user="app", port=5433),
    )
    values = host_variables(host)
    assert values["host"] == "web1" and values["address"] == "10.0.0.5"
    assert values["db"] == "shop" and values["db_port"] == "5433"
    assert values["project_dir"] == "/srv/shop"


def test_sql_output_is_tab_separated() -> None:
    assert sql_output(["verdict", "n"], [("ok", 3), (None, 1)]) == "verdict\tn\nok\t3\nNULL\t1\n"


def test_confirm_names_a_variable_or_is_a_template() -> None:
    text = """
id = "c"
title = "c"

[[steps]]
id = "drop"
kind = "action"
destructive = true
confirm = "db"
runner = "sql"
command = "DROP TABLE scratch"

[[steps]]
id = "both"
kind = "action"
destructive = true
confirm = "{service}@{host}"
command = "docker compose down"
"""
    rb = parse_runbook(text, "c.toml")
    values = {"db": "shop", "service": "api", "host": "web1"}
    assert rb.step("drop").confirm_word(values) == "shop"
    assert rb.step("both").confirm_word(values) == "api@web1"
    with pytest.raises(Exception, match="unknown variable"):
        parse_runbook(text.replace('confirm = "db"', 'confirm = "dbb"'), "c.toml")
