"""``HMMResult.sample`` for Poisson emissions with an exposure column and binomial ones with
a trials column: the rows' exposures / trials are given, checked and returned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.hmm import hmm_from_params

TRUTH = {"transitions": [[0.9, 0.1], [0.2, 0.8]], "start": [0.5, 0.5]}


@pytest.fixture(scope="module")
def poisson_truth():
    data = pd.DataFrame({"n": [0.0, 3.0], "days": [1.0, 2.0]})
    return hmm_from_params(
        {**TRUTH, "rate[n]": [1.0, 6.0]}, family="poisson", data=data, columns=["n"],
        exposure="days",
    )  # fmt: skip


@pytest.fixture(scope="module")
def binomial_truth():
    data = pd.DataFrame({"hits": [0.0, 3.0], "shots": [5.0, 5.0]})
    return hmm_from_params(
        {**TRUTH, "prob[hits]": [0.2, 0.7]}, family="binomial", data=data, columns=["hits"],
        trials="shots",
    )  # fmt: skip


def test_poisson_sample_uses_each_rows_exposure(poisson_truth):
    n = 40_000
    days = np.tile([1.0, 3.0], n // 2)
    draws = poisson_truth.sample(n, seed=2, exposure=days)
    np.testing.assert_array_equal(draws["days"], days)  # returned under the fit's column
    rates = np.array([1.0, 6.0])[draws["state"] - 1]
    # counts per unit of exposure have the state's rate; the standard error is tiny at this n
    assert draws["n"].sum() / (rates * days).sum() == pytest.approx(1.0, abs=0.01)
    for state, rate in ((1, 1.0), (2, 6.0)):
        rows = draws["state"] == state
        assert draws["n"][rows].sum() / days[rows].sum() == pytest.approx(rate, rel=0.03)
    again = poisson_truth.sample(n, seed=2, exposure=pd.DataFrame({"days": days}))
    pd.testing.assert_frame_equal(draws, again)


def test_binomial_sample_uses_each_rows_trials(binomial_truth):
    n = 40_000
    shots = np.tile([1.0, 10.0], n // 2)
    draws = binomial_truth.sample(n, seed=3, trials=shots)
    assert (draws["hits"] <= shots).all()
    assert (draws["hits"][shots == 1.0] <= 1).all()
    for state, prob in ((1, 0.2), (2, 0.7)):
        rows = draws["state"] == state
        assert draws["hits"][rows].sum() / shots[rows].sum() == pytest.approx(prob, abs=0.01)


def test_a_sample_refits_to_its_truth(poisson_truth):
    days = np.random.default_rng(0).integers(1, 6, size=3000).astype(float)
    draws = poisson_truth.sample(3000, seed=4, exposure=days)
    fit = emstat.fit_hmm(draws, 2, family="poisson", columns=["n"], exposure="days")
    rates = np.sort(fit.params.query("parameter == 'rate[n]'")["estimate"].to_numpy())
    np.testing.assert_allclose(rates, [1.0, 6.0], rtol=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "sampling needs each row's exposure: this fit's exposure is the column 'days'; "
             "give exposure= (5 numbers, or a DataFrame with column 'days')"),
        ({"exposure": [1.0, 2.0]}, "exposure= has 2 values; sampling 5 rows needs 5"),
        ({"exposure": [1.0, 2.0, 0.0, 1.0, 1.0]}, "the exposure of 'n' is 0 at row 2"),
        ({"exposure": pd.DataFrame({"hours": np.ones(5)})}, "has no column 'days'"),
        ({"exposure": ["a"] * 5}, "exposure= must be numbers"),
        ({"exposure": np.ones(5), "trials": np.ones(5)}, "trials= belongs to a binomial"),
    ],
)  # fmt: skip
def test_bad_exposures_are_refused(poisson_truth, kwargs, message):
    with pytest.raises(InputError) as info:
        poisson_truth.sample(5, seed=1, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "sampling needs each row's trials: this fit's trials is the column 'shots'"),
        ({"trials": [1.0, 2.5, 1.0]}, "the trials of 'hits' is 2.5 at row 1; trials are whole"),
    ],
)
def test_bad_trials_are_refused(binomial_truth, kwargs, message):
    with pytest.raises(InputError) as info:
        binomial_truth.sample(3, seed=1, **kwargs)
    assert message in str(info.value)


def test_gaussian_sample_refuses_an_exposure():
    truth = hmm_from_params({**TRUTH, "mean[x]": [0.0, 3.0], "var[x]": [1.0, 1.0]})
    with pytest.raises(InputError, match="exposure= belongs to Poisson, binomial and multinomial"):
        truth.sample(5, exposure=np.ones(5))
