"""A study's tables stay what they were: replicates.parquet (apart from ``seconds``) and
selection.parquet equal the reference written before the start-up and per-replicate
work was made faster (tests/reference/simulation_outputs/, see its script), on one
worker and on two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from emstat.simulation import simulate

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "simulation_outputs"

#: The studies compared (small versions of the seed's and of other kinds).
DESIGNS: dict[str, dict[str, Any]] = {
    "seed": dict(mixture="0.5*N(-0.8,1) + 0.5*N(0.8,1)", n=100, reps=40, k=2, model="V", seed=1),
    "poisson": dict(mixture="0.6*Pois(2) + 0.4*Pois(9)", n=80, reps=30, seed=3),
    "select": dict(
        mixture="0.5*N(-0.8,1) + 0.5*N(0.8,1)", n=100, reps=16, k=2, select_k=[1, 2, 3], seed=2
    ),
    # 2-D, one component more than the truth: an unmatched fitted component
    "two_d_k3": dict(
        mixture={
            "weights": [0.4, 0.6],
            "means": [[0.0, 0.0], [3.0, 1.0]],
            "covariances": [[[1.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 0.5]]],
        },
        n=120,
        reps=12,
        k=3,
        model="VVV",
        seed=4,
    ),
}


def _assert_same(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(frame.columns) == list(reference.columns)
    assert len(frame) == len(reference)
    for column in reference.columns:
        got, want = frame[column], reference[column]
        assert got.dtype == want.dtype, column
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=column)
        else:
            assert got.tolist() == want.tolist(), column


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_study_tables_equal_the_reference(tmp_path: Path, name: str, workers: int) -> None:
    out = tmp_path / "study"
    simulate(**DESIGNS[name], out_dir=out, workers=workers)
    rows = pd.read_parquet(out / "replicates.parquet")
    assert (rows["seconds"] >= 0).all()
    _assert_same(
        rows.drop(columns="seconds"), pd.read_parquet(REFERENCE / f"{name}_replicates.parquet")
    )
    selection = REFERENCE / f"{name}_selection.parquet"
    assert (out / "selection.parquet").exists() == selection.exists()
    if selection.exists():
        _assert_same(pd.read_parquet(out / "selection.parquet"), pd.read_parquet(selection))
