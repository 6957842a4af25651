"""One study, one writer: the lock in --out-dir."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emstat.errors import InputError
from emstat.simulation import simulate
from emstat.simulation.errors import StudyWarning
from emstat.simulation.lock import LOCK_NAME, acquire, release

from .conftest import SEPARATED


def _write_lock(directory: Path, pid: int, host: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))
    return path


@pytest.fixture
def live_pid():  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_run_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path, live_pid: int
) -> None:
    out = tmp_path / "o"
    simulate(SEPARATED, n=40, reps=2, seed=1, out_dir=out)
    before = (out / "replicates.parquet").read_bytes()
    lock = _write_lock(out, live_pid)
    with pytest.raises(InputError, match=f"in use by another emstat run \\(pid {live_pid} on "):
        simulate(SEPARATED, n=40, reps=3, seed=1, out_dir=out, overwrite=True)
    assert (out / "replicates.parquet").read_bytes() == before, "--overwrite must not wipe it"
    assert json.loads(lock.read_text())["pid"] == live_pid, "the owner's lock stays"


def test_a_stale_lock_of_a_killed_run_is_broken_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "o"
    dead = _dead_pid()
    _write_lock(out, dead)
    with pytest.warns(StudyWarning, match=f"broke a stale lock .*pid {dead} on .* is gone"):
        simulate(SEPARATED, n=40, reps=2, seed=1, out_dir=out)
    assert pd.read_parquet(out / "replicates.parquet")["replicate"].nunique() == 2
    assert not (out / LOCK_NAME).exists()


def test_a_reused_pid_is_not_the_owner(tmp_path: Path, live_pid: int) -> None:
    path = _write_lock(tmp_path, live_pid)
    payload = json.loads(path.read_text())
    path.write_text(json.dumps({**payload, "started": "1"}))  # started at another time
    with pytest.warns(StudyWarning, match="stale lock"):
        held = acquire(tmp_path)
    assert json.loads(held.read_text())["pid"] == os.getpid()
    release(held)
    assert not held.exists()


def test_a_lock_from_another_host_is_never_broken(tmp_path: Path) -> None:
    lock = _write_lock(tmp_path / "o", 12345, host="elsewhere.example")
    with pytest.raises(InputError, match=r"pid 12345 on elsewhere\.example"):
        simulate(SEPARATED, n=40, reps=2, out_dir=tmp_path / "o")
    assert lock.is_file()


def test_the_lock_is_released_when_a_run_is_refused_or_fails(tmp_path: Path) -> None:
    out = tmp_path / "o"
    simulate(SEPARATED, n=40, reps=2, seed=1, out_dir=out)
    with pytest.raises(InputError, match="different design"):
        simulate(SEPARATED, n=40, reps=5, seed=1, out_dir=out)
    assert not (out / LOCK_NAME).exists()
