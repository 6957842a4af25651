"""fit_hmm: the families, sequences, missing values, constraints, decoding and its oracles."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, norm, poisson

import emstat
from emstat.engine import Chunk, EMControl, add_stats
from emstat.errors import ConvergenceWarning, InputError
from emstat.hmm.fit import HMMFitter, prepare_hmm

TRANS = np.array([[0.9, 0.1], [0.2, 0.8]])


def simulate_states(rng, n, trans, start=None):
    k = trans.shape[0]
    states = np.empty(n, dtype=int)
    states[0] = rng.choice(k, p=np.full(k, 1 / k) if start is None else start)
    for t in range(1, n):
        states[t] = rng.choice(k, p=trans[states[t - 1]])
    return states


@pytest.fixture(scope="module")
def gaussian_frame():
    rng = np.random.default_rng(0)
    states = simulate_states(rng, 400, TRANS)
    x = np.array([-1.0, 2.0])[states] + rng.normal(size=400) * np.array([1.0, 0.7])[states]
    return pd.DataFrame({"x": x, "state": states + 1})


def brute_loglik(log_b, start, trans):
    n, k = log_b.shape
    total = -np.inf
    for path in itertools.product(range(k), repeat=n):
        lp = np.log(start[path[0]]) + log_b[0, path[0]]
        for t in range(1, n):
            lp += np.log(trans[path[t - 1], path[t]]) + log_b[t, path[t]]
        total = np.logaddexp(total, lp)
    return total


# --- k = 1 is the i.i.d. fit of the family -----------------------------------------------------


def test_one_state_gaussian_is_the_one_component_mixture(gaussian_frame):
    hmm = emstat.fit_hmm(gaussian_frame[["x"]], 1)
    mix = emstat.fit_mixture(gaussian_frame[["x"]], 1)
    assert hmm.loglik == pytest.approx(mix.loglik, rel=1e-12)
    assert hmm.n_params == mix.n_params == 2
    assert hmm.bic == pytest.approx(mix.bic, rel=1e-12)
    assert hmm.emission_params["mean[x]"].iloc[0] == pytest.approx(
        mix.means.to_numpy()[0, 0], rel=1e-12
    )
    # the observed information of one normal sample: sd / sqrt(n) and var sqrt(2 / n)
    n = gaussian_frame.shape[0]
    var = float(hmm.emission_params["var[x]"].iloc[0])
    table = hmm.params.set_index("parameter")
    assert table.loc["mean[x]", "std_err"] == pytest.approx(math.sqrt(var / n), rel=1e-4)
    assert table.loc["var[x]", "std_err"] == pytest.approx(var * math.sqrt(2 / n), rel=1e-4)
    assert table.loc["to[1]", "note"] == "fixed"


def test_one_state_poisson_is_the_one_component_mixture():
    counts = pd.DataFrame({"n": np.random.default_rng(1).poisson(3.0, size=200)})
    hmm = emstat.fit_hmm(counts, 1, family="poisson")
    mix = emstat.fit_mixture(counts, 1, family="poisson")
    assert hmm.loglik == pytest.approx(mix.loglik, rel=1e-12)
    assert hmm.emission_params["rate[n]"].iloc[0] == pytest.approx(counts["n"].mean(), rel=1e-12)
    assert hmm.loglik == pytest.approx(poisson.logpmf(counts["n"], counts["n"].mean()).sum())


# --- the likelihood is the brute-force one; Baum-Welch climbs it -------------------------------


def test_loglik_of_short_sequences_by_enumeration():
    x = np.array([0.3, -1.2, 2.5, np.nan, 1.9, 2.2, -0.4])
    frame = pd.DataFrame({"x": x})
    init = {"transitions": TRANS, "start": [0.3, 0.7], "mean[x]": [0.0, 2.0], "var[x]": [1.0, 0.5]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(frame, 2, init=init, control=EMControl(max_iter=1))
    # trace[0] is the log-likelihood at the start values
    log_b = np.where(
        np.isnan(x)[:, None],
        0.0,
        norm.logpdf(x[:, None], [0.0, 2.0], np.sqrt([1.0, 0.5])),
    )
    assert fit.trace[0] == pytest.approx(brute_loglik(log_b, np.array([0.3, 0.7]), TRANS))


@pytest.mark.parametrize("fused", [True, False])
def test_baum_welch_never_decreases(gaussian_frame, fused):
    prepared = prepare_hmm(gaussian_frame[["x"]])
    fitter = HMMFitter(prepared, EMControl(tol=1e-12, max_iter=200))
    model = fitter.model(2)
    if not fused:
        import dataclasses

        model = dataclasses.replace(model, fused=False)
    theta, _, _ = fitter.starts(model)[0]
    result = emstat.engine.fit_em(model, prepared.data, theta0=theta, control=fitter.control)
    assert result.converged
    assert np.all(np.diff(result.trace) >= -1e-9)


def test_fused_and_general_e_steps_agree(gaussian_frame):
    import dataclasses

    frame = gaussian_frame[["x"]].copy()
    frame.loc[[3, 50], "x"] = np.nan
    prepared = prepare_hmm(frame)
    fitter = HMMFitter(prepared, EMControl())
    model = fitter.model(2)
    theta, _, _ = fitter.starts(model)[0]
    fused, ll_fused = model.e_step(theta, prepared.data)
    general, ll_general = dataclasses.replace(model, fused=False).e_step(theta, prepared.data)
    assert ll_fused == pytest.approx(ll_general, rel=1e-13)
    np.testing.assert_allclose(fused.trans, general.trans, rtol=1e-11)
    np.testing.assert_allclose(fused.start, general.start, rtol=1e-11)
    np.testing.assert_allclose(fused.emission.sums, general.emission.sums, rtol=1e-11)
    np.testing.assert_allclose(fused.emission.second, general.emission.second, rtol=1e-11)


def test_statistics_add_over_chunks_of_sequences():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=90), "id": np.repeat([1, 2, 3], 30)})
    prepared = prepare_hmm(frame, columns=["x"], sequence="id")
    fitter = HMMFitter(prepared, EMControl())
    model = fitter.model(2)
    theta, _, _ = fitter.starts(model)[0]
    whole, loglik = model.e_step(theta, prepared.data)
    parts = []
    for rows, seqs in ((slice(0, 30), [0]), (slice(30, 90), [1, 2])):
        emissions = prepared.emission.encode(frame.iloc[rows])
        offsets = np.array([0, 30]) if len(seqs) == 1 else np.array([0, 30, 60])
        data = emstat.hmm.model.HMMData(emissions, offsets, np.array(seqs), 3)
        parts.append(model.e_step(theta, Chunk(data)))
    total = add_stats(parts[0][0], parts[1][0])
    assert parts[0][1] + parts[1][1] == pytest.approx(loglik, rel=1e-13)
    np.testing.assert_allclose(total.trans, whole.trans, rtol=1e-12)
    np.testing.assert_allclose(total.emission.sums, whole.emission.sums, rtol=1e-12)


# --- missing values ----------------------------------------------------------------------------


def test_partly_missing_rows_marginalise_the_gaussian():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 2))
    x[5, 0] = np.nan
    x[9, 1] = np.nan
    x[12] = np.nan
    frame = pd.DataFrame(x, columns=["a", "b"])
    fit = emstat.fit_hmm(frame, 2, model="VVV")
    assert fit.ok and np.all(np.diff(fit.trace) >= -1e-9)
    theta = fit.theta
    log_b = fit.hmm.emission.log_density(theta.emission, fit.data_.emissions)
    means = fit.emission_params[["mean[a]", "mean[b]"]].to_numpy()
    for j in range(2):
        cov = theta.emission.covariances[j]
        assert log_b[5, j] == pytest.approx(norm.logpdf(x[5, 1], means[j, 1], np.sqrt(cov[1, 1])))
        assert log_b[9, j] == pytest.approx(norm.logpdf(x[9, 0], means[j, 0], np.sqrt(cov[0, 0])))
        assert log_b[12, j] == 0.0
        assert log_b[0, j] == pytest.approx(multivariate_normal.logpdf(x[0], means[j], cov))
    # a stationary point: no small move of a mean raises the log-likelihood
    shifted = dict(_init_of(fit))
    for eps in (1e-4, -1e-4):
        moved = dict(shifted, **{"mean[a]": list(np.asarray(shifted["mean[a]"]) + eps)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            probe = emstat.fit_hmm(frame, 2, model="VVV", init=moved, control=EMControl(max_iter=1))
        assert probe.trace[0] <= fit.loglik + 1e-9


def _init_of(fit):
    params = fit.emission_params
    return {
        "transitions": fit.transitions.to_numpy(),
        "start": fit.start,
        **{name: params[name].to_numpy() for name in params.columns},
    }


def test_rows_missing_everything_are_steps_without_emission():
    """A missing row between two observed ones: the two-step transition links them."""
    x = np.array([0.1, np.nan, 2.0])
    frame = pd.DataFrame({"x": x})
    init = {"transitions": TRANS, "start": [0.5, 0.5], "mean[x]": [0.0, 2.0], "var[x]": [1.0, 1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = emstat.fit_hmm(frame, 2, init=init, control=EMControl(max_iter=1))
    b0 = norm.pdf(0.1, [0.0, 2.0], 1.0)
    b2 = norm.pdf(2.0, [0.0, 2.0], 1.0)
    expected = np.log(((0.5 * b0) @ (TRANS @ TRANS)) @ b2)
    assert fit.trace[0] == pytest.approx(expected, rel=1e-13)


def test_missing_counts_are_marginalised():
    rng = np.random.default_rng(4)
    states = simulate_states(rng, 300, TRANS)
    counts = rng.poisson(np.array([1.0, 6.0])[states]).astype(float)
    counts[::17] = np.nan
    fit = emstat.fit_hmm(pd.DataFrame({"n": counts}), 2, family="poisson")
    assert fit.ok and fit.converged
    assert fit.n == np.isfinite(counts).sum()
    rates = np.sort(fit.emission_params["rate[n]"].to_numpy())
    assert rates[0] == pytest.approx(1.0, abs=0.4) and rates[1] == pytest.approx(6.0, abs=1.0)


# --- sequences ---------------------------------------------------------------------------------


def test_sequence_of_length_one_and_interleaved_ids():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=41), "id": ["a"] * 20 + ["b"] + ["c"] * 20})
    fit = emstat.fit_hmm(frame, 2, columns=["x"], sequence="id")
    assert fit.n_sequences == 3
    interleaved = frame.iloc[np.r_[0:10, 20, 10:20, 21:41]]
    fit2 = emstat.fit_hmm(interleaved.reset_index(drop=True), 2, columns=["x"], sequence="id")
    assert fit2.loglik == pytest.approx(fit.loglik, rel=1e-12)
    # decoding comes back in the caller's row order
    states = fit.viterbi(frame)
    post = fit.posterior(frame)
    assert states.shape == (41,) and list(post.index) == list(frame.index)
    lone = post.loc[20].to_numpy()
    assert lone.sum() == pytest.approx(1.0)


def test_lengths_equal_a_sequence_column(gaussian_frame):
    frame = gaussian_frame[["x"]].copy()
    frame["id"] = np.repeat([1, 2, 3, 4], 100)
    by_id = emstat.fit_hmm(frame, 2, columns=["x"], sequence="id")
    by_lengths = emstat.fit_hmm(frame[["x"]], 2, lengths=[100] * 4)
    assert by_id.loglik == pytest.approx(by_lengths.loglik, rel=1e-12)
    assert by_id.n_sequences == by_lengths.n_sequences == 4


def test_order_column_sorts_within_sequences(gaussian_frame):
    frame = gaussian_frame[["x"]].copy()
    frame["time"] = np.arange(400)
    reversed_rows = frame.iloc[::-1].reset_index(drop=True)
    fit = emstat.fit_hmm(frame, 2, columns=["x"], order="time")
    again = emstat.fit_hmm(reversed_rows, 2, columns=["x"], order="time")
    assert again.loglik == pytest.approx(fit.loglik, rel=1e-12)
    np.testing.assert_array_equal(again.viterbi(reversed_rows)[::-1], fit.viterbi(frame))


def test_start_per_sequence():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=60), "id": np.repeat([1, 2, 3], 20)})
    fit = emstat.fit_hmm(frame, 2, columns=["x"], sequence="id", start_per_sequence=True)
    shared = emstat.fit_hmm(frame, 2, columns=["x"], sequence="id")
    assert fit.start.shape == (3, 2)
    assert fit.n_params == shared.n_params + 2
    assert fit.loglik >= shared.loglik - 1e-6


# --- constraints -------------------------------------------------------------------------------


def test_structural_zeros_stay_zero():
    rng = np.random.default_rng(7)
    trans = np.array([[0.95, 0.05, 0.0], [0.0, 0.95, 0.05], [0.0, 0.0, 1.0]])
    states = simulate_states(rng, 300, trans, start=np.array([1.0, 0.0, 0.0]))
    x = np.array([0.0, 3.0, 6.0])[states] + rng.normal(size=300)
    mask = trans > 0
    fit = emstat.fit_hmm(
        pd.DataFrame({"x": x}), 3, transitions=mask, start=[True, False, False], model="E"
    )
    estimated = fit.transitions.to_numpy()
    assert np.all(estimated[~mask] == 0.0)
    assert fit.start.tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(estimated.sum(axis=1), 1.0)
    assert fit.n_params == 2 + 3 + 1  # two free transitions, three means, one variance
    table = fit.params.set_index(["state", "parameter"])
    assert table.loc[(2, "to[1]"), "std_err"] == 0.0
    assert table.loc[(2, "to[1]"), "note"] == "fixed"
    assert np.isfinite(table.loc[(1, "to[2]"), "std_err"])


def test_fixed_values_stay_fixed(gaussian_frame):
    fixed = np.array([[0.9, np.nan], [np.nan, np.nan]])
    fit = emstat.fit_hmm(gaussian_frame[["x"]], 2, transitions=fixed)
    estimated = fit.transitions.to_numpy()
    assert estimated[0, 0] == 0.9 and estimated[0, 1] == pytest.approx(0.1, abs=1e-15)
    free = emstat.fit_hmm(gaussian_frame[["x"]], 2)
    assert fit.n_params == free.n_params - 1
    assert fit.loglik <= free.loglik + 1e-8


# --- decoding, sampling, restarts, saving ------------------------------------------------------


def test_sample_then_refit_recovers_the_truth():
    truth = emstat.hmm.hmm_from_params(
        {"transitions": TRANS, "start": [0.5, 0.5], "mean[x]": [-1.0, 2.0], "var[x]": [1.0, 0.5]}
    )
    drawn = truth.sample(20_000, seed=1)
    assert list(drawn.columns) == ["x", "state"]
    # the chain's own statistics: the stationary share of state 1 is 2/3
    assert np.mean(drawn["state"] == 1) == pytest.approx(2 / 3, abs=0.03)
    refit = emstat.fit_hmm(drawn[["x"]], 2)
    order = np.argsort(refit.emission_params["mean[x]"].to_numpy())
    np.testing.assert_allclose(refit.transitions.to_numpy()[np.ix_(order, order)], TRANS, atol=0.02)
    np.testing.assert_allclose(
        refit.emission_params.to_numpy()[order], [[-1.0, 1.0], [2.0, 0.5]], atol=0.05
    )
    # the truth's parameters lie inside the 95% intervals (a loose, seeded check)
    table = refit.params
    inside = (table["ci_low"] <= table["estimate"]) & (table["estimate"] <= table["ci_high"])
    assert inside[table["std_err"].notna()].all()
    states = refit.viterbi(drawn[["x"]])
    assert np.mean(order[states - 1] == drawn["state"].to_numpy() - 1) > 0.9
    several = truth.sample(30, seed=2, lengths=[10, 20])
    assert several["sequence"].tolist() == [1] * 10 + [2] * 20


def test_model_from_params_of_a_family():
    frame = pd.DataFrame({"face": [1, 2, 3, 4, 5, 6]})
    truth = emstat.hmm.hmm_from_params(
        {
            "transitions": [[0.95, 0.05], [0.1, 0.9]],
            "start": [1.0, 0.0],
            **{f"prob[face={v}]": [1 / 6, 0.1 if v < 6 else 0.5] for v in range(1, 7)},
        },
        family="categorical",
        data=frame,
    )
    drawn = truth.sample(500, seed=3)
    assert set(drawn["face"]) <= set(range(1, 7)) and drawn["state"].iloc[0] == 1
    assert truth.score(drawn[["face"]]) < 0
    with pytest.raises(InputError, match=r"params\['rate\[n\]'\] must be numbers > 0"):
        emstat.hmm.hmm_from_params(
            {"transitions": [[1.0]], "start": [1.0], "rate[n]": [-1.0]},
            family="poisson",
            columns=["n"],
        )


def test_predict_is_the_posterior_argmax(gaussian_frame):
    fit = emstat.fit_hmm(gaussian_frame[["x"]], 2)
    post = fit.posterior(gaussian_frame[["x"]])
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fit.predict(gaussian_frame[["x"]]), post.to_numpy().argmax(1) + 1)
    assert fit.score(gaussian_frame[["x"]]) == pytest.approx(fit.loglik, rel=1e-12)


def test_restarts_report_every_start(gaussian_frame):
    fit = emstat.fit_hmm(gaussian_frame[["x"]], 2, n_init=4, seed=3)
    assert fit.restarts.shape[0] == 4
    assert fit.loglik == pytest.approx(fit.restarts["loglik"].max())
    assert set(fit.restarts["init"]) == {"kmeans++"}


def test_cap_is_not_convergence(gaussian_frame):
    with pytest.warns(ConvergenceWarning, match="iteration cap"):
        fit = emstat.fit_hmm(gaussian_frame[["x"]], 2, max_iter=2)
    assert not fit.converged and fit.stop_reason == "max_iter" and fit.n_iter == 2
    assert len(fit.trace) == 3


def test_save_and_load(tmp_path, gaussian_frame):
    fit = emstat.fit_hmm(gaussian_frame[["x"]], 2, transitions=[[True, True], [True, True]])
    path = fit.save(tmp_path / "hmm.json")
    loaded = emstat.hmm.load_hmm(path)
    assert loaded.score(gaussian_frame[["x"]]) == pytest.approx(fit.loglik, rel=1e-12)
    np.testing.assert_array_equal(
        loaded.viterbi(gaussian_frame[["x"]]), fit.viterbi(gaussian_frame[["x"]])
    )
    np.testing.assert_allclose(loaded.params["std_err"], fit.params["std_err"], rtol=1e-12)
    assert loaded.n_params == fit.n_params and loaded.converged == fit.converged
    bad = fit.to_dict() | {"n_params": 99}
    (tmp_path / "bad.json").write_text(__import__("json").dumps(bad))
    with pytest.raises(InputError, match="n_params is 99"):
        emstat.hmm.load_hmm(tmp_path / "bad.json")


def test_categorical_casino_and_unseen_level():
    rng = np.random.default_rng(9)
    trans = np.array([[0.95, 0.05], [0.1, 0.9]])
    states = simulate_states(rng, 2000, trans)
    fair, loaded = np.full(6, 1 / 6), np.array([0.1] * 5 + [0.5])
    rolls = np.array([rng.choice(6, p=loaded if s else fair) + 1 for s in states])
    frame = pd.DataFrame({"face": rolls})
    fit = emstat.fit_hmm(frame, 2, family="categorical", n_init=3, seed=1)
    assert fit.ok and fit.model == "categorical"
    truth = {
        "transitions": trans,
        "start": [0.5, 0.5],
        **{f"prob[face={v}]": [1 / 6, 0.1 if v < 6 else 0.5] for v in range(1, 7)},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        at_truth = emstat.fit_hmm(
            frame, 2, family="categorical", init=truth, control=EMControl(max_iter=1)
        )
    assert fit.loglik > at_truth.trace[0]
    six = fit.emission_params["prob[face=6]"].to_numpy()
    assert sorted(six) == pytest.approx([1 / 6, 0.5], abs=0.07)
    with pytest.raises(InputError, match="'face' holds 7 at row 1, a level never seen in fitting"):
        fit.viterbi(pd.DataFrame({"face": [1, 7, 3]}))


def test_select_hmm_table():
    rng = np.random.default_rng(10)
    states = simulate_states(rng, 300, TRANS)
    frame = pd.DataFrame({"x": np.array([-2.0, 2.0])[states] + rng.normal(size=300)})
    selection = emstat.select_hmm(frame, k=range(1, 4), models=["E", "V"])
    table = selection.table
    assert list(table.columns) == [
        "k",
        "model",
        "loglik",
        "n_params",
        "bic",
        "aic",
        "icl",
        "converged",
        "reason",
    ]
    assert table.shape[0] == 6
    assert selection.best.k == 2
    assert (table["icl"] >= table["bic"] - 1e-9).all()
    tiny = emstat.select_hmm(frame.iloc[:2], k=[1, 3], models=["V"])
    assert "need at least 3 rows" in tiny.table.set_index("k").loc[3, "reason"]


# --- bad input: one clear line each ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sequence": "id_nan"}, "sequence column 'id_nan' is missing at row 2"),
        ({"transitions": [[True, True], [False, False]]}, "row 2 of the transitions allows no"),
        ({"start": [0.5, 0.6]}, "the start is fixed and sums to 1.1"),
        ({"init": {"start": [0.5, 0.6]}}, "not a distribution: it sums to 1.1"),
        ({"init": {"transitions": [[0.5, 0.6], [0.5, 0.5]]}}, "not a distribution"),
        ({"k": 9}, "k = 9 states need at least 9 rows"),
        ({"lengths": [3, 3], "sequence": "id"}, "either as a sequence column or as lengths"),
        ({"lengths": [3, 2]}, "lengths sum to 5; the data have 6 rows"),
        ({"order": "when", "sequence": "id"}, "share the order value"),
        ({"init": {"mean[y]": [0, 1]}}, "init names 'mean\\[y\\]', not a parameter"),
        ({"family": "poisson", "model": "VVV"}, "Gaussian covariance model"),
    ],
)
def test_bad_input(kwargs, match):
    frame = pd.DataFrame(
        {
            "x": [0.1, 0.5, 2.0, 2.2, 0.3, 1.9],
            "id": [1, 1, 1, 2, 2, 2],
            "id_nan": [1, 1, np.nan, 2, 2, 2],
            "when": [1, 2, 2, 1, 2, 3],
        }
    )
    options = {"k": 2, "columns": ["x"]} | kwargs
    k = options.pop("k")
    with pytest.raises(InputError, match=match) as info:
        emstat.fit_hmm(frame, k, **options)
    assert "\n" not in str(info.value)


def test_unsorted_index_is_refused_naming_the_row():
    frame = pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2]}, index=[10, 11, 13, 12])
    with pytest.raises(InputError, match="row 12 comes after row 13"):
        emstat.fit_hmm(frame, 2)
    fit = emstat.fit_hmm(frame.sort_index(), 2)
    assert fit.n_rows == 4


def test_standard_errors_do_not_depend_on_the_parametrisation():
    """Observed information in log-ratios (emstat) against one in the probabilities
    themselves, with a plain numpy forward pass as the likelihood."""
    from statsmodels.tools.numdiff import approx_hess3

    rng = np.random.default_rng(11)
    states = simulate_states(rng, 400, TRANS)
    counts = rng.poisson(np.array([2.0, 7.0])[states])
    frame = pd.DataFrame({"n": counts})
    fit = emstat.fit_hmm(frame, 2, family="poisson", start=[0.5, 0.5])

    def loglik(v):
        a01, a10, r1, r2 = v
        trans = np.array([[1 - a01, a01], [a10, 1 - a10]])
        log_b = poisson.logpmf(counts[:, None], [r1, r2])
        alpha = 0.5 * np.exp(log_b[0])
        total = np.log(alpha.sum())
        alpha /= alpha.sum()
        for t in range(1, counts.size):
            alpha = (alpha @ trans) * np.exp(log_b[t])
            total += np.log(alpha.sum())
            alpha /= alpha.sum()
        return total

    a = fit.transitions.to_numpy()
    rates = fit.emission_params["rate[n]"].to_numpy()
    v = np.array([a[0, 1], a[1, 0], *rates])
    assert loglik(v) == pytest.approx(fit.loglik, rel=1e-12)
    se = np.sqrt(np.diag(np.linalg.inv(-approx_hess3(v, loglik))))
    table = fit.params.set_index(["state", "parameter"])["std_err"]
    assert table[(1, "to[2]")] == pytest.approx(se[0], rel=1e-3)
    assert table[(1, "to[1]")] == pytest.approx(se[0], rel=1e-3)
    assert table[(2, "to[1]")] == pytest.approx(se[1], rel=1e-3)
    assert table[(1, "rate[n]")] == pytest.approx(se[2], rel=1e-3)
    assert table[(2, "rate[n]")] == pytest.approx(se[3], rel=1e-3)
    assert table[(1, "start")] == 0.0


def test_one_column_by_name(gaussian_frame):
    fit = emstat.fit_hmm(gaussian_frame, 2, columns="x")
    assert fit.columns == ["x"]
