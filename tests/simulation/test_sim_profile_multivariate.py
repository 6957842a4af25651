"""A simulation study of a 2-D design compares profile intervals for every parameter."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from emstat.simulation import simulate

DESIGN_2D = {
    "weights": [0.6, 0.4],
    "means": [[0.0, 0.0], [4.0, 3.0]],
    "covariances": [[[1.0, 0.5], [0.5, 2.0]], [[0.6, -0.2], [-0.2, 0.8]]],
    "columns": ["x", "y"],
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def test_a_2d_study_has_a_profile_interval_for_every_covariance_entry(tmp_path: Path) -> None:
    summary = simulate(
        DESIGN_2D, n=150, reps=3, seed=4, intervals="profile", out_dir=tmp_path / "s"
    )
    rows = pd.read_parquet(tmp_path / "s" / "replicates.parquet")
    entries = rows[rows["parameter"].str.match("var|cov")]
    assert len(entries) == 3 * 2 * 3  # replicates x components x entries
    assert entries["ci_low_profile"].notna().all()
    assert (entries["ci_low_profile"] < entries["estimate"]).all()
    assert (entries["estimate"] < entries["ci_high_profile"]).all()
    variances = entries[entries["parameter"].str.startswith("var")]
    assert (variances["ci_low_profile"] > 0).all()
    assert summary["with_interval_profile"].min() == pytest.approx(1.0)
