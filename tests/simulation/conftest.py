"""Shared helpers of the simulation tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

#: Two well-separated 1-D components: EM converges in a few iterations.
SEPARATED = "0.4*N(-3,1) + 0.6*N(3,0.5)"
#: The issue's example: poorly separated, EM takes ~50 iterations.
EXAMPLE = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A results table without ``seconds``, the one column that is wall-clock time."""
    return frame.drop(columns=["seconds"], errors="ignore").reset_index(drop=True)


def read_replicates(out_dir: Path) -> pd.DataFrame:
    return comparable(pd.read_parquet(out_dir / "replicates.parquet"))


@pytest.fixture
def design_toml(tmp_path: Path) -> Path:
    """A 2-D design file crossing two separations and two covariance models."""
    path = tmp_path / "design.toml"
    path.write_text(
        """
reps = 6
seed = 3

[mixture]
columns = ["a", "b"]
weights = [0.3, 0.7]
means = [[0.0, 0.0], [4.0, 1.0]]
covariances = [[[1.0, 0.3], [0.3, 0.5]], [[0.8, 0.0], [0.0, 1.2]]]

[grid]
n = [150]
separation = [1.0, 2.0]
model = ["VVV", "EEE"]

[fit]
tol = 1e-6
"""
    )
    return path
