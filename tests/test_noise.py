"""The noise component: its likelihood, its EM, predictions, saving, the default start, bad input.

Oracles independent of the code under test: scipy's normal densities, a
direct maximisation of the observed-data log-likelihood, the hypervolume
of a rectangle known in closed form.  mclust's own numbers are checked in
tests/test_noise_mclust.py.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import emstat
from emstat.errors import InputError
from emstat.mixture.noise import log_hypervolume, nearest_neighbour_clutter
from emstat.mixture.result import load_fit

REFERENCE = Path(__file__).resolve().parent / "reference"


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def clusters_with_outliers(seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """Two Gaussian clusters of 200 rows and 40 uniform outliers in a wide box (last)."""
    rng = np.random.default_rng(seed)
    rows = np.vstack(
        [
            rng.normal([0.0, 0.0], 1.0, (200, 2)),
            rng.normal([5.0, 4.0], [1.0, 0.5], (200, 2)),
            rng.uniform([-8.0, -8.0], [13.0, 12.0], (40, 2)),
        ]
    )
    truth = np.r_[np.zeros(400, dtype=bool), np.ones(40, dtype=bool)]
    return pd.DataFrame(rows, columns=["a", "b"]), truth


def faithful() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mclust_noise_faithful.csv")


def mixture_log_density(fit: emstat.MixtureResult, x: np.ndarray) -> np.ndarray:
    """log(π_0 V⁻¹ + Σ π_k N(x | μ_k, Σ_k)) by scipy, row by row."""
    density = np.full(x.shape[0], fit.noise_weight * fit.vinv)
    for j, covariance in fit.covariances.items():
        density += fit.weights[j] * stats.multivariate_normal(
            fit.means.loc[j].to_numpy(), covariance.to_numpy()
        ).pdf(x)
    return np.log(density)


# --- the likelihood and EM ---------------------------------------------------------------
@pytest.mark.parametrize("model", ["VVV", "EEI", "VII", "EVE"])
def test_loglik_and_score_samples_are_the_noise_mixtures_density(model: str) -> None:
    frame, _ = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, model, noise=True)
    oracle = mixture_log_density(fit, frame.to_numpy())
    assert fit.loglik == pytest.approx(oracle.sum(), rel=1e-11)
    assert fit.score_samples(frame).to_numpy() == pytest.approx(oracle, rel=1e-10, abs=1e-10)
    # EM on the noise mixture never lowers its log-likelihood
    assert np.all(np.diff(fit.trace) >= -1e-9 * np.abs(fit.trace[1:]))


def test_em_stops_at_a_fixed_point_of_the_proportions() -> None:
    frame, _ = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, "VVV", noise=True, tol=1e-12)
    resp = fit.predict_proba(frame)
    assert fit.noise_weight == pytest.approx(resp[0].mean(), abs=1e-6)
    assert fit.weights.to_numpy() == pytest.approx(resp[[1, 2]].mean().to_numpy(), abs=1e-6)


def test_em_reaches_the_maximum_that_a_direct_optimiser_finds() -> None:
    """k = 1, VVV, with noise: six free parameters maximised by L-BFGS from a moved start."""
    frame, _ = clusters_with_outliers()
    x = frame.to_numpy()[200:]  # one cluster and the outliers
    fit = emstat.fit_mixture(x, 1, "VVV", noise=True, tol=1e-13)
    log_vinv = math.log(fit.vinv)

    def negative_loglik(p: np.ndarray) -> float:
        noise = 1.0 / (1.0 + math.exp(-p[0]))
        chol = np.array([[math.exp(p[3]), 0.0], [p[4], math.exp(p[5])]])
        gauss = stats.multivariate_normal(p[1:3], chol @ chol.T).logpdf(x)
        return -float(np.logaddexp(math.log(noise) + log_vinv, math.log1p(-noise) + gauss).sum())

    start = np.array([-1.0, 4.0, 3.0, 0.3, 0.2, -0.3])
    best = optimize.minimize(negative_loglik, start, method="L-BFGS-B", options={"ftol": 1e-15})
    assert fit.loglik == pytest.approx(-best.fun, rel=1e-9)
    assert fit.loglik >= -best.fun - 1e-7
    assert fit.noise_weight == pytest.approx(1.0 / (1.0 + math.exp(-best.x[0])), abs=1e-4)
    assert fit.means.to_numpy()[0] == pytest.approx(best.x[1:3], abs=1e-3)


def test_a_fit_without_noise_is_unchanged() -> None:
    frame, _ = clusters_with_outliers()
    plain = emstat.fit_mixture(frame, 2, "VVV")
    assert plain.vinv is None and plain.noise_weight is None and not plain.has_noise
    assert list(plain.predict_proba(frame).columns) == [1, 2]
    assert plain.weights.sum() == pytest.approx(1.0, abs=1e-14)


def test_parameters_count_one_proportion_and_vinv_more() -> None:
    frame, _ = clusters_with_outliers()
    plain = emstat.fit_mixture(frame, 3, "EEE")
    noisy = emstat.fit_mixture(frame, 3, "EEE", noise=True)
    assert noisy.n_params == plain.n_params + 2
    assert noisy.bic == pytest.approx(-2 * noisy.loglik + noisy.n_params * math.log(440), 1e-12)


# --- the hypervolume ---------------------------------------------------------------------
def test_hypervolume_is_the_smaller_of_the_bounding_and_principal_boxes() -> None:
    # a 4 x 1 grid rectangle turned by 30 degrees: its principal box is the rectangle
    u, v = np.meshgrid(np.linspace(0, 4, 41), np.linspace(0, 1, 11))
    flat = np.column_stack([u.ravel(), v.ravel()])
    angle = math.radians(30)
    turned = flat @ np.array(
        [[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]]
    )
    assert math.exp(log_hypervolume(turned)) == pytest.approx(4.0, rel=1e-12)
    # axis-aligned, the bounding box is the rectangle too
    assert math.exp(log_hypervolume(flat)) == pytest.approx(4.0, rel=1e-12)
    assert math.exp(log_hypervolume(np.array([[1.0], [3.5], [2.0]]))) == pytest.approx(2.5)


def test_default_vinv_is_one_over_the_hypervolume() -> None:
    frame, _ = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, noise=True)
    assert fit.vinv == pytest.approx(math.exp(-log_hypervolume(frame.to_numpy())), rel=1e-14)


# --- predictions -------------------------------------------------------------------------
def test_predictions_carry_the_noise_as_component_0() -> None:
    frame, truth = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, "VVV", noise=True)
    proba = fit.predict_proba(frame)
    assert list(proba.columns) == [1, 2, 0]  # the noise last, as mclust's z
    assert proba.sum(axis=1).to_numpy() == pytest.approx(np.ones(440), abs=1e-12)
    labels = fit.predict(frame)
    assert set(labels) == {0, 1, 2}
    far = pd.DataFrame({"a": [40.0], "b": [-30.0]}, index=["far"])
    assert fit.predict(far).loc["far"] == 0
    # most of the drawn outliers away from the clusters end as noise
    assert (labels[truth] == 0).mean() > 0.6
    assert (labels[~truth] == 0).mean() < 0.05


def test_summary_and_params_show_the_noise_proportion_and_vinv() -> None:
    frame, _ = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, "VVV", noise=True)
    text = fit.summary()
    assert f"proportion {fit.noise_weight:.6g}" in text and f"Vinv = {fit.vinv:.6g}" in text
    noise_rows = fit.params[fit.params["component"] == 0].set_index("parameter")["estimate"]
    assert noise_rows["weight"] == fit.noise_weight and noise_rows["Vinv"] == fit.vinv
    weights = fit.params[fit.params["parameter"] == "weight"]["estimate"]
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert "noise component (not implemented)" in (fit.std_error_reason or "")


def test_noise_only_fit() -> None:
    frame = faithful()
    fit = emstat.fit_mixture(frame, 0, noise="noise_start")
    values = frame.drop(columns="noise_start")
    assert fit.k == 0 and fit.noise_weight == 1.0 and fit.n_params == 1
    assert fit.loglik == pytest.approx(332 * math.log(fit.vinv), rel=1e-14)
    assert (fit.predict(values) == 0).all()
    assert fit.predict_proba(values)[0].to_numpy() == pytest.approx(np.ones(332))
    assert "noise only" in fit.summary()


@pytest.mark.parametrize("k", [0, 2])
def test_saved_fit_with_noise_loads_with_the_same_predictions(k: int, tmp_path: Path) -> None:
    frame = faithful()
    fit = emstat.fit_mixture(frame, k, "EEE", noise="noise_start")
    loaded = load_fit(fit.save(tmp_path / "fit.json"))
    values = frame.drop(columns="noise_start")
    assert (loaded.noise_weight, loaded.vinv, loaded.k) == (fit.noise_weight, fit.vinv, k)
    assert loaded.bic == pytest.approx(fit.bic, rel=1e-14)
    pd.testing.assert_frame_equal(loaded.predict_proba(values), fit.predict_proba(values))


def test_a_saved_noise_fit_with_inconsistent_weights_is_refused(tmp_path: Path) -> None:
    fit = emstat.fit_mixture(faithful(), 2, "EEE", noise="noise_start")
    payload = fit.to_dict()
    payload["noise_weight"] = 0.5
    with pytest.raises(InputError, match=r"weights sum to .* \(with noise_weight 0.5\), not 1"):
        emstat.MixtureResult.from_dict(payload)
    payload = fit.to_dict()
    payload["Vinv"] = -1.0
    with pytest.raises(InputError, match="Vinv must be > 0"):
        emstat.MixtureResult.from_dict(payload)


def test_sampling_and_refitting_intervals_are_refused_with_noise() -> None:
    fit = emstat.fit_mixture(faithful(), 2, "EEE", noise="noise_start")
    with pytest.raises(InputError, match="noise component"):
        fit.sample(10)
    with pytest.raises(InputError, match=r"bootstrap replicates are not available .* noise"):
        fit.bootstrap(n_boot=5)


# --- the default start ---------------------------------------------------------------------
def test_nearest_neighbour_clutter_marks_the_sparse_rows() -> None:
    frame, truth = clusters_with_outliers()
    marked = nearest_neighbour_clutter(frame.to_numpy())
    assert marked[truth].mean() > 0.6
    assert marked[~truth].mean() < 0.05


def test_where_no_row_looks_like_clutter_one_row_starts_as_noise() -> None:
    # a regular grid: no clutter; at most its corners, whose neighbours are farthest
    u, v = np.meshgrid(np.arange(12.0), np.arange(12.0))
    grid = np.column_stack([u.ravel(), v.ravel()])
    marked = nearest_neighbour_clutter(grid)
    assert 1 <= marked.sum() <= 4
    assert set(map(tuple, grid[marked])) <= {(0.0, 0.0), (0.0, 11.0), (11.0, 0.0), (11.0, 11.0)}


def test_noise_true_starts_from_the_clutter_rows() -> None:
    frame, _ = clusters_with_outliers()
    fit = emstat.fit_mixture(frame, 2, "VVV", noise=True)
    start = nearest_neighbour_clutter(frame.to_numpy())
    given = emstat.fit_mixture(frame, 2, "VVV", noise=start)
    assert fit.loglik == given.loglik
    assert f"noise start: {start.sum()} of 440 rows" in fit.init


def test_noise_start_as_series_aligns_by_index() -> None:
    frame, truth = clusters_with_outliers()
    frame.index = [f"r{i}" for i in range(440)]
    start = pd.Series(truth, index=frame.index)[::-1]
    by_index = emstat.fit_mixture(frame, 2, "VVV", noise=start)
    by_position = emstat.fit_mixture(frame, 2, "VVV", noise=truth)
    assert by_index.loglik == by_position.loglik


# --- selection ---------------------------------------------------------------------------
def test_selection_with_noise_takes_k_0_and_workers() -> None:
    frame = faithful()
    one = emstat.select_mixture(frame, k=[0, 2, 3], models=["EEE", "VVV"], noise="noise_start")
    assert one.ks == [0, 2, 3]
    assert one.table.loc[0, "EEE"] == one.table.loc[0, "VVV"]
    many = emstat.select_mixture(
        frame, k=[0, 2, 3], models=["EEE", "VVV"], noise="noise_start", workers=2
    )
    pd.testing.assert_frame_equal(one.table, many.table)


def test_selection_cell_beyond_the_rows_outside_the_noise_is_nan() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 9.0], "b": [1.0, 0.0, 2.0, 1.5, -7.0]})
    selection = emstat.select_mixture(
        frame, k=[0, 1, 5], models=["EII"], noise=[False, False, False, False, True]
    )
    assert math.isnan(selection.table.loc[5, "EII"])
    assert "outside the noise start" in selection.reasons.loc[5, "EII"]


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"noise": True, "Vinv": 0.0}, r"Vinv must be a finite number > 0 .* got 0.0"),
        ({"noise": True, "Vinv": -2}, r"Vinv must be a finite number > 0 .* got -2"),
        ({"noise": True, "Vinv": math.inf}, r"Vinv must be a finite number > 0 .* got inf"),
        ({"noise": True, "Vinv": math.nan}, r"Vinv must be a finite number > 0 .* got nan"),
        ({"noise": True, "Vinv": True}, r"Vinv must be a finite number > 0 .* got True"),
        ({"noise": True, "Vinv": "1"}, r"Vinv must be a finite number > 0 .* got '1'"),
        ({"Vinv": 0.01}, "pass noise=True or a noise start with it"),
        ({"noise": "nope"}, "no noise start column 'nope' in the data; columns: 'a', 'b', 'start'"),
        ({"noise": "start", "columns": ["a", "start"]}, "both modelled and used as the noise"),
        ({"noise": [True, False]}, r"one entry per row \(440\), got shape \(2,\)"),
        ({"noise": "bad"}, r"True/False for each row; row 3 \(counting from 0\) holds 2"),
        ({"noise": "gap"}, r"True/False for each row; row 0 \(counting from 0\) holds nan"),
        ({"noise": "none"}, "marks no row as noise"),
        ({"noise": "every"}, "marks every row as noise"),
        ({"noise": True, "family": "poisson"}, "serves the Gaussian family only"),
        ({"noise": True, "weights": "w"}, "does not take case weights"),
        ({"noise": True, "init": np.zeros(440, dtype=int)}, "init is a method"),
    ],
)
def test_bad_noise_input_is_one_clear_line(options: dict[str, object], message: str) -> None:
    frame, truth = clusters_with_outliers()
    frame["start"] = truth
    frame["bad"] = np.where(np.arange(440) == 3, 2, 0)
    frame["gap"] = np.nan
    frame["none"] = False
    frame["every"] = True
    frame["w"] = 1.0
    columns = options.pop("columns", ["a", "b"])  # type: ignore[arg-type]
    shown = frame[["a", "b", "start"]] if options.get("noise") == "nope" else frame
    with pytest.raises(InputError, match=message) as caught:
        emstat.fit_mixture(shown, 2, columns=columns, **options)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_data_without_volume_are_refused_for_noise() -> None:
    x = np.linspace(0.0, 1.0, 50)
    on_a_line = pd.DataFrame({"a": x, "b": 2.0 * x + 1.0})
    with pytest.raises(InputError, match=r"hypervolume is 0.*drop a column or give Vinv"):
        emstat.fit_mixture(on_a_line, 1, noise=True)
    # a constant column is refused before (no Gaussian mixture fits it)
    with pytest.raises(InputError, match="column 'b' is constant"):
        emstat.fit_mixture(pd.DataFrame({"a": x, "b": 1.0}), 1, noise=True)


def test_too_many_components_for_the_rows_outside_the_noise() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 9.0], "b": [1.0, 0.0, 2.0, -7.0]})
    with pytest.raises(InputError, match="k = 4 exceeds the 3 distinct rows outside the noise"):
        emstat.fit_mixture(frame, 4, "EII", noise=[False, False, False, True])


def test_noise_needs_data_in_memory(tmp_path: Path) -> None:
    frame, _ = clusters_with_outliers()
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="needs the data in memory"):
        emstat.fit_mixture([path, path], 2, noise=True)


def test_selection_refuses_a_k_below_0_with_noise() -> None:
    with pytest.raises(InputError, match="at least 1, got -1"):
        emstat.select_mixture(faithful(), k=[0, -1], noise="noise_start")


def test_a_subset_start_fits_the_noise_mixture_as_mclust_on_large_data() -> None:
    # more rows outside the noise than hc_subset: hc on a seeded subset of them, then
    # (as mclust) an M-step on the subset and an E-step on every row outside the noise
    frame = faithful()
    full = emstat.fit_mixture(frame, 2, "VVV", noise="noise_start")
    subset = emstat.fit_mixture(frame, 2, "VVV", noise="noise_start", hc_subset=100)
    assert subset.converged
    assert subset.loglik == pytest.approx(full.loglik, rel=1e-4)
    assert subset.noise_weight == pytest.approx(full.noise_weight, abs=1e-3)


def test_random_starts_with_noise_keep_the_best() -> None:
    fit = emstat.fit_mixture(
        faithful(), 2, "VVV", noise="noise_start", init="kmeans++", n_init=3, seed=1
    )
    assert fit.restarts is not None and len(fit.restarts) == 3
    assert fit.loglik == pytest.approx(fit.restarts["loglik"].max(), rel=1e-15)


def test_k_0_needs_noise_and_false_is_no_number_of_components() -> None:
    with pytest.raises(InputError, match="at least 1, got 0"):
        emstat.fit_mixture(faithful().drop(columns="noise_start"), 0)
    with pytest.raises(InputError, match="must be a whole number, got False"):
        emstat.fit_mixture(faithful(), False, noise="noise_start")  # type: ignore[arg-type]
