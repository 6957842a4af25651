"""``HMMResult.sample(totals=...)`` for multinomial emissions: each row's total count is given,
checked, and the draws follow the states' category probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.hmm import hmm_from_params

PROBS = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])


@pytest.fixture(scope="module")
def truth():
    data = pd.DataFrame({"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]})
    return hmm_from_params(
        {"transitions": [[0.9, 0.1], [0.2, 0.8]], "start": [0.5, 0.5],
         "prob[a]": PROBS[:, 0], "prob[b]": PROBS[:, 1], "prob[c]": PROBS[:, 2]},
        family="multinomial", data=data, columns=["a", "b", "c"],
    )  # fmt: skip


def test_draws_keep_each_rows_total_and_each_states_probabilities(truth) -> None:
    n = 30_000
    totals = np.tile([5.0, 12.0, 0.0], n // 3)
    draws = truth.sample(n, seed=3, totals=totals)
    counts = draws[["a", "b", "c"]].to_numpy()
    np.testing.assert_array_equal(counts.sum(axis=1), totals)
    for state in (1, 2):
        rows = counts[draws["state"].to_numpy() == state]
        share = rows.sum(axis=0) / rows.sum()
        np.testing.assert_allclose(share, PROBS[state - 1], atol=0.01)
    # refitted, the chain and the probabilities come back (the truth as the oracle)
    fit = emstat.fit_hmm(draws[["a", "b", "c"]], 2, family="multinomial", seed=1)
    probs = fit.params[fit.params["parameter"].str.startswith("prob")]
    estimate = probs.pivot(index="state", columns="parameter", values="estimate").to_numpy()
    order = np.argsort(estimate[:, 0])  # state 1 of the truth has the smaller prob[a]
    np.testing.assert_allclose(estimate[order], PROBS, atol=0.015)
    np.testing.assert_allclose(
        fit.transitions.to_numpy()[np.ix_(order, order)], [[0.9, 0.1], [0.2, 0.8]], atol=0.02
    )


def test_totals_from_a_frame_are_its_rows_sums(truth) -> None:
    frame = pd.DataFrame({"a": [1, 0, 2], "b": [2, 0, 2], "c": [0, 0, 3], "other": [9, 9, 9]})
    draws = truth.sample(3, seed=1, totals=frame)
    np.testing.assert_array_equal(draws[["a", "b", "c"]].sum(axis=1), [3, 0, 7])
    assert (truth.sample(4, seed=1, totals=6)[["a", "b", "c"]].sum(axis=1) == 6).all()


@pytest.mark.parametrize(
    ("totals", "words"),
    [
        (None, "needs each row's total count: give totals= (4 numbers"),
        ([1, 2, 3], "totals= has 3 values; sampling 4 rows needs 4"),
        ([1, 2, 2.5, 3], "the total of a, b, c is 2.5 at row 2; totals are whole numbers >= 0"),
        ([1, -1, 2, 3], "is -1 at row 1"),
        ("many", "totals= must be numbers, got 'many'"),
        (pd.DataFrame({"a": [1] * 4, "b": [1] * 4}), "the totals= DataFrame has no column 'c'"),
    ],
)
def test_bad_totals_are_refused_in_one_line(truth, totals, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        truth.sample(4, seed=1, totals=totals)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_totals_belong_to_multinomial_emissions_only() -> None:
    counts = pd.DataFrame({"y": np.r_[np.zeros(20), np.ones(20) * 5.0, np.ones(10)]})
    fit = emstat.fit_hmm(counts, 2, family="poisson", seed=1)
    with pytest.raises(InputError, match="totals= belongs to a multinomial emission"):
        fit.sample(5, totals=3)
    gaussian = emstat.fit_hmm(
        pd.DataFrame({"x": np.r_[np.zeros(20), np.ones(20)] + np.arange(40) / 99}), 2
    )
    with pytest.raises(InputError, match="totals= belongs to Poisson, binomial and multinomial"):
        gaussian.sample(5, totals=3)
