"""Data on which R's cat stops with "assigns zero prob. to an observed event".

cat's prelim.cat keeps rows whose count is 0; when EM drives a cell to zero
and such a row maps only to it, cat errors.  emstat ignores count-0 rows
(they carry no likelihood).  The answer is checked by a certificate that
needs no reference: the observed-data log-likelihood is concave in the cell
probabilities p, so for any p on the simplex

    max loglik - loglik(p) <= max_c g_c - sum_c p_c g_c,   g = gradient,

and the estimate is optimal when that gap is ~0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from emstat.categorical import fit_categorical
from emstat.engine import EMControl
from emstat.errors import ConvergenceWarning

from ._refdata import read_reference_csv

LONG = EMControl(tol=1e-4, criterion="param", max_iter=50_000)


def _gradient(p: np.ndarray, frame: pd.DataFrame, variables: list[str], counts: str) -> np.ndarray:
    """d loglik / d p, written out row by row."""
    grad = np.zeros_like(p)
    for _, row in frame.iterrows():
        n = row[counts]
        if n == 0:
            continue
        index = tuple(slice(None) if pd.isna(row[v]) else int(row[v]) - 1 for v in variables)
        grad[index] += n / p[index].sum()
    return grad


def _optimality_gap(p: np.ndarray, frame: pd.DataFrame, variables: list[str], counts: str) -> float:
    g = _gradient(p, frame, variables, counts)
    return float(g.max() - np.sum(p * g))


@pytest.mark.parametrize("name", ["cat_belt.csv", "cat_older.csv"])
def test_zero_count_rows_do_not_break_the_fit(name: str) -> None:
    frame = read_reference_csv(name)
    assert (frame["Freq"] == 0).any()  # the trap cat falls into
    variables = [c for c in frame.columns if c != "Freq"]
    res = fit_categorical(frame, "Freq", control=LONG)
    assert res.converged
    assert np.isfinite(res.loglik)
    # cat's failure mode happened: some cells are exactly zero ...
    assert (res.theta == 0).any()
    # ... and the estimate is still the MLE, to within a small log-likelihood gap
    assert _optimality_gap(res.theta, frame, variables, "Freq") < 1e-4
    # rows with count 0 change nothing
    dropped = fit_categorical(frame[frame["Freq"] > 0], "Freq", control=LONG)
    np.testing.assert_array_equal(res.theta, dropped.theta)


def test_default_rule_on_belt_warns_instead_of_failing() -> None:
    """Under cat's own rule EM creeps towards zero cells: a named warning, never cat's error."""
    frame = read_reference_csv("cat_belt.csv")
    with pytest.warns(ConvergenceWarning, match="iteration cap"):
        res = fit_categorical(frame, "Freq")
    assert not res.converged and res.n_iter == 1000


def test_older_full_converges_under_cats_rule() -> None:
    frame = read_reference_csv("cat_older.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = fit_categorical(frame, "Freq")
    assert res.converged
    assert _optimality_gap(res.theta, frame, list(frame.columns[:-1]), "Freq") < 1e-4


def test_log_linear_model_on_belt() -> None:
    frame = read_reference_csv("cat_belt.csv")
    margins = [["I1", "I2", "D", "S"], ["B1", "B2", "D", "S"]]
    res = fit_categorical(frame, "Freq", margins=margins, control=LONG)
    assert res.converged and np.isfinite(res.loglik)
    sat = fit_categorical(frame, "Freq", control=LONG)
    test = sat.lrt(res)
    assert test.df == sat.n_params - res.n_params > 0
    assert test.statistic >= 0
