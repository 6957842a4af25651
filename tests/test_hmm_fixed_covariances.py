"""Fixed emission variances and covariances beyond the 1-D model, and fixed values by state.

The oracle is the one of ``test_hmm_fixed``: the scaled forward algorithm in plain numpy,
maximised by scipy over the free parameters only, from a rough start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import multivariate_normal
from test_hmm_fixed import HALF, chain, direct_maximum, forward_loglik

import emstat
from emstat.errors import InputError


@pytest.fixture(scope="module")
def pair_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    states = chain(rng, 160)
    centres = np.array([[0.0, 0.0], [3.0, 2.0]])
    noise = rng.multivariate_normal([0, 0], [[1.0, 0.4], [0.4, 0.8]], size=160)
    return pd.DataFrame(
        centres[states] + noise * np.array([1.0, 1.5])[states, None], columns=["a", "b"]
    )


# One rough start for EM and for scipy (two regimes, so each climbs to the same maximum
# rather than to its label-swapped twin).
ROUGH = {
    "transitions": [[0.8, 0.2], [0.2, 0.8]],
    "mean[a]": [0.5, 2.0],
    "mean[b]": [0.5, 1.5],
    "var[a]": [1.0, 1.0],
    "var[b]": [1.0, 1.0],
    "cov[a,b]": [0.0, 0.0],
}
X0 = np.array([logit(0.2), logit(0.2), 0.5, 0.5, 2.0, 1.5, 0.0, 0.0, 0.0])


def two_state_trans(v: np.ndarray) -> np.ndarray:
    return np.array([[1 - expit(v[0]), expit(v[0])], [expit(v[1]), 1 - expit(v[1])]])


def gaussian_loglik(xy: np.ndarray, trans, means, covariances) -> float:
    log_b = np.column_stack(
        [multivariate_normal(means[j], covariances[j]).logpdf(xy) for j in range(2)]
    )
    return forward_loglik(log_b, HALF, trans)


def test_a_fixed_diagonal_entry_of_vvi_is_the_constrained_maximum(pair_frame):
    xy = pair_frame.to_numpy()
    free = emstat.fit_hmm(pair_frame, 2, model="VVI", start=HALF, init=ROUGH)
    fit = emstat.fit_hmm(
        pair_frame, 2, model="VVI", start=HALF, init=ROUGH, fixed={"var[b]": {2: 1.0}}
    )
    table = fit.params.set_index(["state", "parameter"])
    assert table.loc[(2, "var[b]"), "estimate"] == 1.0
    assert table.loc[(2, "var[b]"), "note"] == "fixed"
    assert np.isfinite(table.loc[(2, "var[a]"), "std_err"])
    assert fit.n_params == free.n_params - 1
    assert fit.bic == pytest.approx(-2 * fit.loglik + fit.n_params * np.log(len(xy)), rel=1e-12)

    def negloglik(v: np.ndarray) -> float:
        means = v[2:6].reshape(2, 2)
        variances = np.array([[np.exp(v[6]), np.exp(v[7])], [np.exp(v[8]), 1.0]])
        return -gaussian_loglik(
            xy, two_state_trans(v), means, [np.diag(variances[0]), np.diag(variances[1])]
        )

    oracle = direct_maximum(negloglik, X0)
    assert fit.loglik == pytest.approx(oracle, abs=1e-6)
    assert fit.loglik < free.loglik


def test_a_fixed_covariance_matrix_of_vvv_is_the_constrained_maximum(pair_frame):
    xy = pair_frame.to_numpy()
    held = np.array([[1.0, 0.3], [0.3, 0.7]])
    fixed = {"var[a]": [1.0, None], "var[b]": [0.7, None], "cov[a,b]": [0.3, None]}
    free = emstat.fit_hmm(pair_frame, 2, model="VVV", start=HALF, init=ROUGH)
    fit = emstat.fit_hmm(pair_frame, 2, model="VVV", start=HALF, init=ROUGH, fixed=fixed)
    table = fit.params.set_index(["state", "parameter"])
    assert [table.loc[(1, n), "estimate"] for n in ("var[a]", "var[b]", "cov[a,b]")] == [
        1.0,
        0.7,
        0.3,
    ]
    assert fit.n_params == free.n_params - 3
    assert np.isfinite(table.loc[(2, "cov[a,b]"), "std_err"])
    assert np.all(np.diff(fit.trace) > -1e-8)

    def negloglik(v: np.ndarray) -> float:
        chol = np.array([[np.exp(v[6]), 0.0], [v[7], np.exp(v[8])]])
        return -gaussian_loglik(xy, two_state_trans(v), v[2:6].reshape(2, 2), [held, chol @ chol.T])

    oracle = direct_maximum(negloglik, X0)
    assert fit.loglik == pytest.approx(oracle, abs=1e-6)


def test_a_fixed_spherical_variance_of_vii_holds_and_counts_one(pair_frame):
    free = emstat.fit_hmm(pair_frame, 2, model="VII", start=HALF)
    fit = emstat.fit_hmm(
        pair_frame, 2, model="VII", start=HALF, fixed={"var[a]": {1: 0.9}, "var[b]": {1: 0.9}}
    )
    table = fit.params.set_index(["state", "parameter"])
    assert table.loc[(1, "var[a]"), "estimate"] == 0.9 == table.loc[(1, "var[b]"), "estimate"]
    assert table.loc[(2, "var[a]"), "estimate"] == table.loc[(2, "var[b]"), "estimate"]
    assert fit.n_params == free.n_params - 1
    assert np.all(np.diff(fit.trace) > -1e-8)


@pytest.mark.parametrize(
    ("model", "fixed", "message"),
    [
        ("EEI", {"var[a]": [1.0, None]}, "model 'EEI': its states share one volume and shape"),
        ("VEV", {"var[a]": [1.0, None]}, "model 'VEV': its states share one shape,"),
        ("VVI", {"cov[a,b]": [0.1, None]}, "state 1 fixes cov[a,b]; the diagonal model 'VVI'"),
        ("VII", {"var[a]": [1.0, None]}, "state 1: the spherical model 'VII' has one variance"),
        (
            "VII",
            {"var[a]": [1.0, None], "var[b]": [2.0, None]},
            "fix every var[...] of the state to one value",
        ),
        ("VVV", {"var[a]": [None, 1.0]}, "state 2 fixes part of its covariance"),
        (
            "VVV",
            {"var[a]": [1.0, None], "var[b]": [1.0, None], "cov[a,b]": [2.0, None]},
            "the fixed covariance of state 1 is not positive definite",
        ),
    ],
)
def test_fixed_covariances_the_m_step_cannot_hold_are_refused(pair_frame, model, fixed, message):
    with pytest.raises(InputError) as info:
        emstat.fit_hmm(pair_frame, 2, model=model, fixed=fixed)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("fixed", "message"),
    [
        ({"mean[a]": {3: 0.0}}, "fixed['mean[a]'] names state 3; a fit of k = 2 has states 1 to 2"),
        ({"mean[a]": {0: 0.0}}, "names state 0; states are numbered 1, 2, ..."),
        ({"mean[a]": {"one": 0.0}}, "names state 'one'; states are numbered"),
        ({"var[a]": {1: -1.0}}, "fixed['var[a]'] must be numbers > 0"),
    ],
)
def test_bad_states_in_fixed_are_refused(pair_frame, fixed, message):
    with pytest.raises(InputError) as info:
        emstat.fit_hmm(pair_frame, 2, model="VVI", fixed=fixed)
    assert message in str(info.value)


def test_fixed_by_state_equals_fixed_by_list(pair_frame):
    kwargs = dict(model="VVI", init=ROUGH)
    by_list = emstat.fit_hmm(pair_frame, 2, fixed={"mean[a]": [None, 2.5]}, **kwargs)
    by_state = emstat.fit_hmm(pair_frame, 2, fixed={"mean[a]": {2: 2.5}}, **kwargs)
    assert by_list.ok
    assert by_state.loglik == by_list.loglik
    pd.testing.assert_frame_equal(by_state.params, by_list.params)


# --- select_hmm ------------------------------------------------------------------------------


def test_select_hmm_fixes_by_state_and_gives_a_reason_where_the_state_is_missing(pair_frame):
    selection = emstat.select_hmm(
        pair_frame, k=[1, 2, 3], models=["VVI", "EEI"], fixed={"var[b]": {2: 1.0}}
    )
    table = selection.table.set_index(["k", "model"])
    assert "names state 2; a fit of k = 1 has state 1 only" in table.loc[(1, "VVI"), "reason"]
    assert "model 'EEI': its states share" in table.loc[(2, "EEI"), "reason"]
    for k in (2, 3):
        fit = selection.fits[(k, "VVI")]
        assert fit.params.set_index(["state", "parameter"]).loc[(2, "var[b]"), "estimate"] == 1.0
        assert table.loc[(k, "VVI"), "reason"] == ""
    alone = emstat.fit_hmm(pair_frame, 2, model="VVI", fixed={"var[b]": {2: 1.0}})
    assert selection.fits[(2, "VVI")].loglik == pytest.approx(alone.loglik, rel=1e-12)
    assert selection.fits[(2, "VVI")].n_params == alone.n_params


@pytest.mark.parametrize(
    ("fixed", "message"),
    [
        ({"mu[a]": {1: 0.0}}, "fixed names 'mu[a]', not an emission parameter"),
        ({"mean[a]": {5: 0.0}}, "fixed['mean[a]'] names state 5; a fit of k = 2 has states 1 to 2"),
        ({"var[a]": {1: 0.0}}, "fixed['var[a]'] must be numbers > 0"),
    ],
)
def test_select_hmm_refuses_fixed_values_no_cell_can_hold(pair_frame, fixed, message):
    with pytest.raises(InputError) as info:
        emstat.select_hmm(pair_frame, k=[1, 2], models=["VVI"], fixed=fixed)
    assert message in str(info.value)
