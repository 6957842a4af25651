"""The ``emstat`` command ends without the interpreter's collector passes over what it
loaded (gc.freeze: half a second once numba's kernels are loaded); its output is whole."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gc, sys
from emstat.cli import main
sys.argv = ["emstat", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    print("exit", exc.code, "frozen", gc.get_freeze_count() > 0)
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CODE, *args], capture_output=True, text=True, check=True
    )


def test_main_freezes_the_heap_before_the_process_ends() -> None:
    out = _run("--help")
    assert "Statistical models fitted by the EM algorithm" in out.stdout
    assert out.stdout.strip().endswith("exit 0 frozen True")


def test_main_freezes_it_after_an_error_too() -> None:
    out = _run("simulate", "--n", "10", "-o", "/nonexistent/x")
    assert "give either --mixture FORMULA or --design FILE" in out.stderr
    assert out.stdout.strip().endswith("exit 2 frozen True")
