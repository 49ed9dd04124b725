"""core.incidents stays UI-free and never imports core.config at run time (no import cycle)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_incidents_import_neither_textual_nor_rich_nor_config():
    code = (
        "import sys, core.incidents, core.incidents.report, core.incidents.watcher;"
        "bad = [m for m in ('textual', 'rich', 'core.config') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""
