"""Baum-Welch against hmmlearn 0.3.3 from the same start (its covars_prior=0: the MLE).

hmmlearn's ``monitor_.history[0]`` is the log-likelihood at the start, and
its parameters after n iterations are those of n M-steps: the same as
emstat's ``trace[:n]`` and ``theta`` after ``max_iter = n``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.engine import EMControl
from emstat.errors import ConvergenceWarning

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def stored():
    reference = json.loads((REFERENCE / "hmm_gaussian.json").read_text())
    data = pd.read_csv(REFERENCE / "hmm_gaussian.csv")
    return reference, data


def _capped(n_iter):
    """Exactly n_iter M-steps: a rule that only an unchanged log-likelihood meets."""
    return EMControl(tol=0.0, criterion="abs", max_iter=n_iter)


def _start(reference):
    start = reference["start"]
    return {
        "transitions": start["transmat"],
        "start": start["startprob"],
        "mean[x]": [m[0] for m in start["means"]],
        "var[x]": [v[0] for v in start["covars_diag"]],
    }


def test_stored_history_is_the_trace(stored):
    reference, data = stored
    history = np.array(reference["fit_covars_prior_0"]["monitor"]["history"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(data[["x"]], 2, init=_start(reference), control=_capped(history.size))
    np.testing.assert_allclose(fit.trace[: history.size], history, rtol=1e-12)


def test_tight_fit_reaches_the_stored_maximum(stored):
    reference, data = stored
    tight = reference["fit_covars_prior_0"]["own_tight_mle"]
    # tight: until the log-likelihood no longer changes in floating point
    fit = emstat.fit_hmm(
        data[["x"]], 2, init=_start(reference), control=EMControl(tol=0.0, criterion="abs")
    )
    assert fit.converged and fit.stop_reason == "converged"
    np.testing.assert_allclose(fit.transitions.to_numpy(), tight["transmat"], rtol=1e-8)
    params = fit.emission_params
    np.testing.assert_allclose(params["mean[x]"], tight["means"], rtol=1e-8)
    np.testing.assert_allclose(params["var[x]"], tight["variances"], rtol=1e-8)
    assert fit.start[0] == pytest.approx(1.0, abs=1e-12) and fit.start[1] < 1e-20
    assert fit.loglik == pytest.approx(tight["loglik"], rel=1e-12)
    assert fit.score(data[["x"]]) == pytest.approx(
        reference["fit_covars_prior_0"]["score_loglik"], rel=1e-9
    )
    viterbi = reference["fit_covars_prior_0"]["viterbi"]
    path = "".join(str(s - 1) for s in fit.viterbi(data[["x"]]))
    assert path == viterbi["full_path"]
    assert fit.viterbi_logprob(data[["x"]]) == pytest.approx(viterbi["log_prob"], rel=1e-9)


def test_stored_fit_after_hmmlearns_iterations(stored):
    """hmmlearn stopped after 13 iterations: emstat's 13 M-steps give its parameters."""
    reference, data = stored
    run = reference["fit_covars_prior_0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(
            data[["x"]],
            2,
            init=_start(reference),
            control=_capped(run["monitor"]["iter"]),
        )
    assert not fit.converged and fit.stop_reason == "max_iter"
    fitted = run["fitted"]
    np.testing.assert_allclose(fit.transitions.to_numpy(), fitted["transmat"], rtol=1e-10)
    np.testing.assert_allclose(fit.emission_params["mean[x]"], fitted["means"], rtol=1e-10)
    np.testing.assert_allclose(fit.emission_params["var[x]"], fitted["variances"], rtol=1e-10)


hmmlearn = pytest.importorskip(
    "hmmlearn", reason="hmmlearn is not installed (pip install hmmlearn)"
)


def _run_hmmlearn(model, x, lengths=None):
    model.fit(x, lengths)
    return model


def test_live_categorical_hmm():
    """The dishonest casino: a fair and a loaded die, hmmlearn's CategoricalHMM."""
    from hmmlearn import hmm

    rng = np.random.default_rng(11)
    trans = np.array([[0.95, 0.05], [0.1, 0.9]])
    faces = np.array([np.full(6, 1 / 6), [0.1] * 5 + [0.5]])
    states = [0]
    for _ in range(599):
        states.append(rng.choice(2, p=trans[states[-1]]))
    rolls = np.array([rng.choice(6, p=faces[s]) for s in states])
    start = {
        "transitions": [[0.8, 0.2], [0.2, 0.8]],
        "start": [0.6, 0.4],
        **{f"prob[face={v}]": [1 / 6, 0.1 if v < 5 else 0.5] for v in range(6)},
    }
    n_iter = 40
    model = hmm.CategoricalHMM(
        2, n_iter=n_iter, tol=-np.inf, init_params="", params="ste", n_features=6
    )
    model.startprob_ = np.array(start["start"])
    model.transmat_ = np.array(start["transitions"])
    model.emissionprob_ = np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]])
    _run_hmmlearn(model, rolls[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(
            pd.DataFrame({"face": rolls}),
            2,
            family="categorical",
            init=start,
            control=_capped(n_iter),
        )
    np.testing.assert_allclose(fit.trace[:n_iter], model.monitor_.history, rtol=1e-10)
    np.testing.assert_allclose(fit.transitions.to_numpy(), model.transmat_, rtol=1e-8)
    np.testing.assert_allclose(fit.start, model.startprob_, rtol=1e-8, atol=1e-300)
    np.testing.assert_allclose(fit.emission_params.to_numpy(), model.emissionprob_, rtol=1e-8)
    assert fit.score(pd.DataFrame({"face": rolls})) == pytest.approx(
        model.score(rolls[:, None]), rel=1e-10
    )
    path = fit.viterbi(pd.DataFrame({"face": rolls})) - 1
    np.testing.assert_array_equal(path, model.predict(rolls[:, None]))


def test_live_many_sequences_full_covariance():
    """Twenty sequences of a 2-D Gaussian HMM (full covariances), hmmlearn's lengths."""
    from hmmlearn import hmm

    rng = np.random.default_rng(12)
    lengths = rng.integers(1, 60, size=20)
    k, d = 2, 2
    means = np.array([[0.0, 0.0], [2.0, 1.0]])
    covars = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]]])
    trans = np.array([[0.9, 0.1], [0.15, 0.85]])
    rows = []
    for length in lengths:
        s = rng.choice(2)
        for _ in range(length):
            rows.append(rng.multivariate_normal(means[s], covars[s]))
            s = rng.choice(2, p=trans[s])
    x = np.array(rows)
    start = {
        "transitions": [[0.7, 0.3], [0.3, 0.7]],
        "start": [0.5, 0.5],
        "mean[x1]": [-0.5, 1.5],
        "mean[x2]": [0.0, 0.5],
        "var[x1]": [1.0, 1.0],
        "cov[x1,x2]": [0.0, 0.0],
        "var[x2]": [1.0, 1.0],
    }
    n_iter = 30
    model = hmm.GaussianHMM(
        k,
        covariance_type="full",
        n_iter=n_iter,
        tol=-np.inf,
        init_params="",
        params="stmc",
        covars_prior=0.0,
    )
    model.startprob_ = np.array(start["start"])
    model.transmat_ = np.array(start["transitions"])
    model.means_ = np.column_stack([start["mean[x1]"], start["mean[x2]"]])
    model.covars_ = np.tile(np.eye(d), (k, 1, 1))
    _run_hmmlearn(model, x, lengths)
    frame = pd.DataFrame(x, columns=["x1", "x2"])
    frame["subject"] = np.repeat(np.arange(lengths.size), lengths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(
            frame,
            k,
            columns=["x1", "x2"],
            sequence="subject",
            model="VVV",
            init=start,
            control=_capped(n_iter),
        )
    assert fit.n_sequences == lengths.size
    np.testing.assert_allclose(fit.trace[:n_iter], model.monitor_.history, rtol=1e-10)
    np.testing.assert_allclose(fit.transitions.to_numpy(), model.transmat_, rtol=1e-8)
    np.testing.assert_allclose(fit.start, model.startprob_, rtol=1e-8)
    params = fit.emission_params
    np.testing.assert_allclose(params[["mean[x1]", "mean[x2]"]], model.means_, rtol=1e-8)
    np.testing.assert_allclose(params["cov[x1,x2]"], model.covars_[:, 0, 1], rtol=1e-8)
    np.testing.assert_allclose(params["var[x2]"], model.covars_[:, 1, 1], rtol=1e-8)
    assert fit.score(frame) == pytest.approx(model.score(x, lengths), rel=1e-10)
    np.testing.assert_array_equal(
        fit.viterbi(frame) - 1, model.predict(x, lengths), err_msg="Viterbi paths differ"
    )
