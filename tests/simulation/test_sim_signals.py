"""Stopping ``simulate -j 2`` with SIGTERM or SIGKILL leaves no worker behind, and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from emstat.errors import InputError
from emstat.simulation import executors, simulate
from emstat.simulation.errors import StudyWarning
from emstat.simulation.lock import LOCK_NAME, acquire, release

from .conftest import EXAMPLE

psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="signals and /proc as on Linux"
)

REPS = 200
DESIGN = dict(n=100, reps=REPS, seed=9, batch_size=2, select_k=[1, 2])
ARGS = ["--mixture", EXAMPLE, "--n", "100", "--reps", str(REPS), "--seed", "9", "--quiet",
        "--batch-size", "2", "--select-k", "1:2", "--workers", "2"]  # fmt: skip


def _start(out: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start the command; return it and its worker pids once it has saved two batches."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emstat.cli", "simulate", *ARGS, "--out-dir", str(out)],
        stdout=subprocess.PIPE,  # as `| tee log`: EOF only when every holder is gone
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while len(list((out / "parts").glob("s*.parquet"))) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended or stalled before it was stopped: {proc.communicate()}")
        time.sleep(0.05)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(children) >= 2, "two workers run"
    return proc, children


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(pids: list[int], seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


def test_sigterm_ends_workers_keeps_parts_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    proc, children = _start(out)
    try:
        # While it runs, no second run may write there, not even with --overwrite.
        with pytest.raises(InputError, match=f"in use by another emstat run \\(pid {proc.pid} "):
            simulate(EXAMPLE, out_dir=out, overwrite=True, **DESIGN)  # type: ignore[arg-type]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)  # returns once the pipes are closed
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert b"interrupted: finished batches are saved" in stderr
    assert b"Traceback" not in stderr
    assert _wait_gone(children) == []
    assert not (out / LOCK_NAME).exists()
    saved = len(list((out / "parts").glob("s*.parquet")))
    assert 2 <= saved < REPS // 2
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    computed: list[int] = []
    real = executors.run_batch
    monkeypatch.setattr(
        executors, "run_batch", lambda t: (computed.extend(t.replicates), real(t))[1]
    )
    simulate(EXAMPLE, out_dir=out, workers=1, **DESIGN)  # type: ignore[arg-type]
    assert len(computed) == REPS - 2 * saved, "only the replicates not saved are computed"
    rows = pd.read_parquet(out / "replicates.parquet")
    assert sorted(rows["replicate"].unique()) == list(range(REPS))
    assert not rows.duplicated(["replicate", "component", "parameter"]).any()
    assert json.loads((out / "run.json").read_text())["resumed"]


def test_sigkill_of_the_parent_takes_its_workers_along(tmp_path: Path) -> None:
    out = tmp_path / "o"
    proc, children = _start(out)
    os.kill(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=20)  # a worker still holding stdout would block here
    finally:
        proc.kill()
    assert _wait_gone(children) == []
    # The dead run's lock is stale: the next run breaks it and says so.
    with pytest.warns(StudyWarning, match=f"stale lock .*pid {proc.pid} "):
        held = acquire(out)
    release(held)
