"""An interrupted study (SIGKILL mid-run) resumes to exactly the uninterrupted result."""

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

from emstat.simulation import simulate

from .conftest import EXAMPLE, read_replicates

REPS = 60
ARGS = ["--mixture", EXAMPLE, "--n", "100", "--reps", str(REPS), "--seed", "9", "--quiet",
        "--batch-size", "3", "--select-k", "1:2"]  # fmt: skip


def _command(out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "emstat.simulation", *ARGS, "--out-dir", str(out),
            "--workers", str(workers)]  # fmt: skip


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(_command(out, 1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    parts = out / "parts"
    while time.monotonic() < deadline and len(list(parts.glob("s*.parquet"))) < 3:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()!r}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = len(list(parts.glob("s*.parquet")))
    assert 3 <= saved < REPS // 3, "kill the run part way"
    assert not (out / "replicates.parquet").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    resumed = subprocess.run(_command(out, 2), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"]

    reference = tmp_path / "whole"
    simulate(EXAMPLE, n=100, reps=REPS, seed=9, select_k=[1, 2], out_dir=reference, workers=2)
    pd.testing.assert_frame_equal(read_replicates(out), read_replicates(reference))
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "selection.parquet"), pd.read_parquet(reference / "selection.parquet")
    )
    summary = pd.read_csv(out / "summary.csv").drop(columns=["mean_iter"])
    expected = pd.read_csv(reference / "summary.csv").drop(columns=["mean_iter"])
    pd.testing.assert_frame_equal(summary, expected)
