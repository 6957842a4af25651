"""A replicate's rows when the fit has more or fewer components than the truth: the
unmatched ones last with NaN truths, the matched ones in the truth's order."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from emstat.mixture import fit_mixture
from emstat.simulation import mixture_from_formula
from emstat.simulation import replicate as rep

TRUTH = mixture_from_formula("0.3*N(-4,1) + 0.7*N(4,1)")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rows_follow_the_truths_order_and_unmatched_components_come_last(k) -> None:
    rng = np.random.default_rng(11)
    data, _ = TRUTH.draw(300, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_mixture(data, k, model="V", seed=3)
    names, truths = rep.truth_table(TRUTH)
    columns = rep._aligned_rows(fit, TRUTH, names, truths)
    # the oracle: the assignment of least total squared distance, by brute force
    fitted = fit.params_.means[:, 0]
    true = TRUTH.means[:, 0]
    if k <= 2:  # each fitted component gets a distinct true one
        candidates = [list(enumerate(ts)) for ts in itertools.permutations(range(2), k)]
    else:  # each true component gets a distinct fitted one
        candidates = [
            [(j, t) for t, j in enumerate(js)] for js in itertools.permutations(range(k), 2)
        ]
    pairs = min(candidates, key=lambda ps: sum((fitted[j] - true[t]) ** 2 for j, t in ps))
    nearest = [-1] * k
    for j, t in pairs:
        nearest[j] = t
    matched = sorted((t, j) for j, t in enumerate(nearest) if t >= 0)
    unmatched = [j for j, t in enumerate(nearest) if t < 0]
    expected_components = [t + 1 for t, _ in matched] + list(range(3, 3 + len(unmatched)))
    p = len(names)
    assert columns["component"].tolist() == [c for c in expected_components for _ in range(p)]
    assert columns["parameter"].tolist() == names * k
    want_truth = [truths[t] for t, _ in matched] + [np.full(p, np.nan)] * len(unmatched)
    np.testing.assert_array_equal(columns["truth"], np.concatenate(want_truth))
    estimates = fit.params_arrays.estimate.reshape(k, p)
    want = np.concatenate([estimates[j] for _, j in matched] + [estimates[j] for j in unmatched])
    np.testing.assert_array_equal(columns["estimate"], want)
    # the rows are the caller's: editing them does not reach the next replicate's
    columns["parameter"][0] = "edited"
    columns["truth"][0] = -1.0
    again = rep._aligned_rows(fit, TRUTH, names, truths)
    assert again["parameter"][0] == "weight" and again["truth"][0] != -1.0
