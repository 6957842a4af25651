"""Starting R in the process leaves child processes a working Python."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

from emstat import _r
from emstat.errors import EmstatError

pytestmark = pytest.mark.r


def test_starting_r_keeps_the_library_path_of_child_processes() -> None:
    before = os.environ.get("LD_LIBRARY_PATH")
    try:
        _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    assert os.environ.get("LD_LIBRARY_PATH") == before
    # A worker pool or a Dask nanny is a child process that imports ssl.
    child = subprocess.run([sys.executable, "-c", "import ssl"], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
