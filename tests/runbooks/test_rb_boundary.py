"""core.runbooks never imports Textual or Rich."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_runbook_modules_do_not_import_textual_or_rich() -> None:
    code = (
        "import pkgutil, importlib, sys, core.runbooks as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module('core.runbooks.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
