"""Emission parameters held at given values, and the standard errors of family emissions.

The oracles are written here: a scaled forward algorithm in plain numpy, a direct
numerical maximisation of its log-likelihood (scipy) over the free parameters, and a
central-difference Hessian in log-ratio coordinates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit
from scipy.stats import norm, poisson

import emstat
from emstat.errors import InputError

TRANS = np.array([[0.9, 0.1], [0.2, 0.8]])
HALF = np.array([0.5, 0.5])


def forward_loglik(log_b: np.ndarray, start: np.ndarray, trans: np.ndarray) -> float:
    """log p(x) of one sequence by the scaled forward recursion."""
    alpha = start * np.exp(log_b[0] - log_b[0].max())
    total = log_b[0].max() + np.log(alpha.sum())
    alpha /= alpha.sum()
    for row in log_b[1:]:
        alpha = (alpha @ trans) * np.exp(row - row.max())
        total += row.max() + np.log(alpha.sum())
        alpha /= alpha.sum()
    return float(total)


def chain(rng: np.random.Generator, n: int) -> np.ndarray:
    states = np.empty(n, dtype=int)
    states[0] = 0
    for t in range(1, n):
        states[t] = rng.choice(2, p=TRANS[states[t - 1]])
    return states


@pytest.fixture(scope="module")
def normal_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    states = chain(rng, 150)
    x = np.array([0.3, 3.0])[states] + rng.normal(size=150) * np.array([1.0, 1.4])[states]
    return pd.DataFrame({"x": x})


@pytest.fixture(scope="module")
def count_frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    states = chain(rng, 150)
    return pd.DataFrame({"count": rng.poisson(np.array([1.0, 6.0])[states])})


def estimate(fit, name: str) -> np.ndarray:
    table = fit.params.set_index(["state", "parameter"])
    return np.array([table.loc[(s, name), "estimate"] for s in (1, 2)])


def row(fit, state: int, name: str) -> pd.Series:
    return fit.params.set_index(["state", "parameter"]).loc[(state, name)]


def direct_maximum(negloglik, x0: np.ndarray) -> float:
    """The maximum of a log-likelihood by scipy, polished by a second run."""
    first = minimize(negloglik, x0, method="Nelder-Mead", options={"maxiter": 20_000})
    best = minimize(negloglik, first.x, method="BFGS", options={"gtol": 1e-9})
    return -min(first.fun, best.fun)


# --- fixed values stay fixed, and the fit is the constrained maximum ----------------------------


def test_fixed_gaussian_mean_is_the_constrained_maximum(normal_frame):
    x = normal_frame["x"].to_numpy()
    free = emstat.fit_hmm(normal_frame, 2, start=HALF)
    fit = emstat.fit_hmm(normal_frame, 2, start=HALF, fixed={"mean[x]": [0.0, None]})
    assert estimate(fit, "mean[x]")[0] == 0.0
    assert fit.n_params == free.n_params - 1
    assert fit.bic == pytest.approx(-2 * fit.loglik + fit.n_params * np.log(len(x)), rel=1e-12)

    def negloglik(v: np.ndarray) -> float:
        trans = np.array([[1 - expit(v[0]), expit(v[0])], [expit(v[1]), 1 - expit(v[1])]])
        means = np.array([0.0, v[2]])
        sd = np.exp(v[3:5])
        return -forward_loglik(norm.logpdf(x[:, None], means, sd), HALF, trans)

    # from a rough start, not from the EM estimate
    oracle = direct_maximum(negloglik, np.array([logit(0.2), logit(0.2), 2.0, 0.0, 0.0]))
    assert fit.loglik == pytest.approx(oracle, abs=1e-6)
    assert fit.loglik < free.loglik  # the constraint binds


def test_fixed_gaussian_variance_is_the_constrained_maximum(normal_frame):
    x = normal_frame["x"].to_numpy()
    fit = emstat.fit_hmm(normal_frame, 2, start=HALF, fixed={"var[x]": [None, 4.0]})
    assert estimate(fit, "var[x]")[1] == 4.0

    def negloglik(v: np.ndarray) -> float:
        trans = np.array([[1 - expit(v[0]), expit(v[0])], [expit(v[1]), 1 - expit(v[1])]])
        sd = np.array([np.exp(v[4]), 2.0])
        return -forward_loglik(norm.logpdf(x[:, None], v[2:4], sd), HALF, trans)

    oracle = direct_maximum(negloglik, np.array([logit(0.2), logit(0.2), 0.0, 2.0, 0.0]))
    assert fit.loglik == pytest.approx(oracle, abs=1e-6)


def test_fixed_poisson_rate_is_the_constrained_maximum(count_frame):
    y = count_frame["count"].to_numpy()
    free = emstat.fit_hmm(count_frame, 2, family="poisson", start=HALF)
    fit = emstat.fit_hmm(
        count_frame, 2, family="poisson", start=HALF, fixed={"rate[count]": [None, 5.0]}
    )
    assert estimate(fit, "rate[count]")[1] == 5.0
    assert fit.n_params == free.n_params - 1

    def negloglik(v: np.ndarray) -> float:
        trans = np.array([[1 - expit(v[0]), expit(v[0])], [expit(v[1]), 1 - expit(v[1])]])
        rates = np.array([np.exp(v[2]), 5.0])
        return -forward_loglik(poisson.logpmf(y[:, None], rates), HALF, trans)

    oracle = direct_maximum(negloglik, np.array([logit(0.2), logit(0.2), 0.0]))
    assert fit.loglik == pytest.approx(oracle, abs=1e-6)


def test_fixed_level_probability_leaves_the_rest_to_the_other_levels():
    casino = emstat.load_dataset("casino")
    kwargs = dict(family="categorical", columns=["face"], sequence="session", order="roll")
    free = emstat.fit_hmm(casino, k=2, **kwargs)
    fit = emstat.fit_hmm(casino, k=2, fixed={"prob[face=6]": [None, 1 / 6]}, **kwargs)
    probs = np.array([estimate(fit, f"prob[face={f}]") for f in range(1, 7)])  # (levels, states)
    assert probs[5, 1] == 1 / 6
    assert probs[:, 1].sum() == pytest.approx(1.0, abs=1e-12)
    assert fit.n_params == free.n_params - 1
    assert row(fit, 2, "prob[face=6]")["note"] == "fixed"
    assert np.isnan(row(fit, 2, "prob[face=6]")["std_err"])
    assert np.isfinite(row(fit, 2, "prob[face=1]")["std_err"])


def test_fixed_parameters_have_no_standard_error_and_the_others_do(normal_frame):
    fit = emstat.fit_hmm(normal_frame, 2, start=HALF, fixed={"mean[x]": [0.0, None]})
    held = row(fit, 1, "mean[x]")
    assert held["note"] == "fixed" and np.isnan(held["std_err"])
    for state, name in [(2, "mean[x]"), (1, "var[x]"), (2, "var[x]"), (1, "to[2]")]:
        assert (
            np.isfinite(row(fit, state, name)["std_err"]) and row(fit, state, name)["std_err"] > 0
        )


def test_fixed_whole_mean_vector_with_correlated_coordinates():
    rng = np.random.default_rng(5)
    states = chain(rng, 200)
    centres = np.array([[0.0, 0.0], [3.0, 1.0]])
    xy = centres[states] + rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=200)
    frame = pd.DataFrame(xy, columns=["a", "b"])
    fit = emstat.fit_hmm(
        frame, 2, model="VVV", fixed={"mean[a]": [0.5, None], "mean[b]": [-0.5, None]}
    )
    assert estimate(fit, "mean[a]")[0] == 0.5 and estimate(fit, "mean[b]")[0] == -0.5
    assert np.all(np.diff(fit.trace) > -1e-8)  # EM's ascent: the M-step is the constrained one


# --- bad input: one line naming what is wrong --------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "kwargs", "message"),
    [
        (
            {"mu[x]": [0.0, None]},
            {},
            "'mu[x]', not an emission parameter of this model; "
            "its parameters are 'mean[x]', 'var[x]'",
        ),
        ({"transitions": [0.0, None]}, {}, "constrain the chain by transitions= and start="),
        (
            {"mean[x]": [0.0, None, 1.0]},
            {},
            "fixed['mean[x]'] must be 2 numbers (None where free), one per state",
        ),
        ({"var[x]": [-1.0, None]}, {}, "fixed['var[x]'] must be numbers > 0"),
        ({"mean[x]": ["a", None]}, {}, "fixed['mean[x]'] must be 2 numbers"),
        (
            {"var[x]": [1.0, None]},
            {"model": "E"},
            "variances cannot be fixed with model 'E': its states share one volume",
        ),
        ([0.0, None], {}, "fixed must map parameter names"),
    ],
)
def test_bad_fixed_values_are_refused(normal_frame, fixed, kwargs, message):
    with pytest.raises(InputError) as info:
        emstat.fit_hmm(normal_frame, 2, fixed=fixed, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_fixed_probabilities_are_refused():
    casino = emstat.load_dataset("casino")
    kwargs = dict(family="categorical", columns=["face"], sequence="session", order="roll")
    with pytest.raises(InputError, match=r"prob\[face=6\]'\] must be probabilities in \[0, 1\]"):
        emstat.fit_hmm(casino, k=2, fixed={"prob[face=6]": [1.5, None]}, **kwargs)
    with pytest.raises(InputError, match=r"sum to 1\.2, more than 1"):
        emstat.fit_hmm(
            casino, k=2, fixed={"prob[face=5]": [0.6, None], "prob[face=6]": [0.6, None]}, **kwargs
        )


def test_part_of_a_correlated_mean_is_refused():
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 7})
    with pytest.raises(InputError, match=r"state 1 fixes some coordinates of its mean.*'VVV'"):
        emstat.fit_hmm(frame, 2, model="VVV", fixed={"mean[a]": [0.0, None]})


# --- the casino's standard errors: inside the space, and an independent Hessian ----------------


def test_casino_standard_errors_without_warnings_match_an_independent_hessian():
    casino = emstat.load_dataset("casino")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = emstat.fit_hmm(
            casino, k=2, family="categorical", columns=["face"], sequence="session", order="roll"
        )
        table = fit.params.set_index(["state", "parameter"])
    start = np.array([table.loc[(s, "start"), "estimate"] for s in (1, 2)])
    trans = np.array([[table.loc[(s, f"to[{j}]"), "estimate"] for j in (1, 2)] for s in (1, 2)])
    probs = np.array(
        [[table.loc[(s, f"prob[face={f}]"), "estimate"] for f in range(1, 7)] for s in (1, 2)]
    )
    # one probability sits on the edge (estimated at 0): held there, and said so
    edge = probs <= 1e-8
    assert edge.sum() == 1
    state, level = map(int, np.argwhere(edge)[0])
    assert "on the boundary" in table.loc[(state + 1, f"prob[face={level + 1}]"), "note"]
    assert np.isnan(table.loc[(state + 1, f"prob[face={level + 1}]"), "std_err"])

    ordered = casino.sort_values(["session", "roll"])
    sequences = [g["face"].to_numpy() - 1 for _, g in ordered.groupby("session")]

    # coordinates: logits of the transitions out of each state; log-ratios of the free
    # levels to the last level in each state (the held level stays at its estimate)
    free_levels = [[f for f in range(5) if not edge[s, f]] for s in range(2)]

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.array([[1 - expit(v[0]), expit(v[0])], [expit(v[1]), 1 - expit(v[1])]])
        p = probs.copy()
        at = 2
        for s in range(2):
            cols = [*free_levels[s], 5]
            w = np.exp(np.r_[v[at : at + len(cols) - 1], 0.0])
            at += len(cols) - 1
            p[s, cols] = w / w.sum() * (1 - probs[s, edge[s]].sum())
        return t, p

    def loglik(v: np.ndarray) -> float:
        t, p = unpack(v)
        with np.errstate(divide="ignore"):
            return sum(forward_loglik(np.log(p.T[seq]), start, t) for seq in sequences)

    v0 = np.concatenate(
        [
            [logit(trans[0, 1]), logit(trans[1, 0])],
            *[np.log(probs[s, free_levels[s]] / probs[s, 5]) for s in range(2)],
        ]
    )
    n, h = v0.size, 1e-4
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = (
                loglik(v0 + ei + ej)
                - loglik(v0 + ei - ej)
                - loglik(v0 - ei + ej)
                + loglik(v0 - ei - ej)
            ) / (4 * h * h)
    covariance = np.linalg.inv(-hessian)

    def reported(v: np.ndarray) -> np.ndarray:
        t, p = unpack(v)
        return np.r_[t[0, 1], t[1, 0], p.reshape(-1)]

    jacobian = np.column_stack(
        [
            (reported(v0 + np.eye(n)[i] * h) - reported(v0 - np.eye(n)[i] * h)) / (2 * h)
            for i in range(n)
        ]
    )
    expected = np.sqrt(np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian))
    got = np.r_[
        table.loc[(1, "to[2]"), "std_err"],
        table.loc[(2, "to[1]"), "std_err"],
        [table.loc[(s, f"prob[face={f}]"), "std_err"] for s in (1, 2) for f in range(1, 7)],
    ]
    keep = ~edge.reshape(-1)
    keep = np.r_[True, True, keep]
    np.testing.assert_allclose(got[keep], expected[keep], rtol=2e-3)


def test_a_saved_fit_keeps_its_fixed_parameters(normal_frame, tmp_path):
    fit = emstat.fit_hmm(normal_frame, 2, start=HALF, fixed={"mean[x]": [0.0, None]})
    loaded = emstat.hmm.load_hmm(fit.save(tmp_path / "fit.json"))
    assert loaded.n_params == fit.n_params
    np.testing.assert_allclose(loaded.params["std_err"], fit.params["std_err"], rtol=1e-12)
    np.testing.assert_array_equal(loaded.hmm.emission_fixed, fit.hmm.emission_fixed)
