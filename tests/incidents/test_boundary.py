"""core.incidents stays UI-free, and core.config can import its rules table without a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULES = ("checklist", "detector", "journal", "model", "replay", "report", "rules",
           "container_rules", "rules_config", "severity", "tracker", "watcher")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return set(out.stdout.split())


def test_incidents_import_neither_textual_nor_rich_nor_the_config():
    modules = loaded_after("; ".join(f"import core.incidents.{m}" for m in MODULES))
    assert not {m for m in modules if m.split(".")[0] in ("textual", "rich")}
    assert "core.config" not in modules


def test_rules_config_imports_nothing_of_warroom():
    modules = loaded_after("import core.incidents.rules_config")
    ours = {m for m in modules if m == "core" or m.startswith("core.")}
    assert ours == {"core", "core.incidents", "core.incidents.rules_config"}
