"""Each public module imports first in a fresh interpreter (no import cycle bites a user)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "emstat.plotting",
    "emstat.report",
    "emstat.report.figures",
    "emstat.report.family",
    "emstat.segment",
    "emstat.sklearn",
    "emstat.mixture",
    "emstat.categorical",
    "emstat.simulation",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
