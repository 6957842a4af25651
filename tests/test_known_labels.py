"""Known labels (semi-supervised fits) against mclust's MclustSSC and independent oracles.

``tests/reference/known_labels_{iris,banknote}.json`` were made by
``tests/reference/make_known_labels_reference.py`` (mclust 6.0.0,
``MclustSSC.fit`` per model and ``MclustSSC``'s BIC table), from a fixed 10%
of labelled rows drawn by numpy with seed 1.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.errors import InputError
from emstat.mixture.known_labels import OBJECTIVE_TEXT

REFERENCE = Path(__file__).resolve().parent / "reference"
MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE"]
MODELS += ["VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"]
# mclust 6.0's own inner M-steps: the default, exact ones reach other estimates.
MCLUST_OWN = {"VEE", "EVE", "VVE"}


def _reference(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"known_labels_{name}.json").read_text())


def _labelled(name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reference data with its class column holding only the labelled rows' classes."""
    ref = _reference(name)
    frame = pd.read_csv(REFERENCE / ref["dataset"]["csv"])
    column = ref["dataset"]["class_column"]
    labels = pd.Series([None] * len(frame), dtype=object)
    rows = ref["labels"]["rows"]
    labels[rows] = frame[column].astype(str)[rows]
    return frame.assign(**{column: labels}), ref


def _run(ref: dict[str, Any], model: str) -> dict[str, Any]:
    return next(run for run in ref["runs"] if run["model"] == model)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore", emstat.ConvergenceWarning)


def _relative(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --------------------------------------------------------------------------- mclust


@pytest.mark.parametrize("name", ["iris", "banknote"])
@pytest.mark.parametrize("model", MODELS)
def test_mclust_compatible_fit_equals_mclustssc(name: str, model: str) -> None:
    frame, ref = _labelled(name)
    run = _run(ref, model)
    fit = emstat.fit_mixture(
        frame, ref["k"], model, labels=ref["dataset"]["class_column"], mclust_compatible=True
    )
    assert fit.ok
    assert fit.loglik == pytest.approx(run["loglik"], rel=1e-10)
    assert fit.bic_mclust == pytest.approx(run["bic"], rel=1e-10)
    assert fit.n_params == run["df"]
    assert _relative(fit.params_.weights, run["weights"]) < 1e-6
    assert _relative(fit.params_.means, run["means"]) < 1e-6
    assert _relative(fit.params_.covariances, run["covariances"]) < 1e-6
    assert fit.known_labels.component.tolist() == run["classification"]


@pytest.mark.parametrize("name", ["iris", "banknote"])
@pytest.mark.parametrize("model", [m for m in MODELS if m not in MCLUST_OWN])
def test_default_fit_equals_mclustssc_where_the_m_steps_agree(name: str, model: str) -> None:
    frame, ref = _labelled(name)
    run = _run(ref, model)
    fit = emstat.fit_mixture(frame, ref["k"], model, labels=ref["dataset"]["class_column"])
    assert fit.loglik == pytest.approx(run["loglik"], rel=1e-10)
    assert _relative(fit.params_.covariances, run["covariances"]) < 1e-6
    assert fit.known_labels.component.tolist() == run["classification"]


@pytest.mark.parametrize("name", ["iris", "banknote"])
def test_select_mixture_with_labels_is_mclustssc(name: str) -> None:
    frame, ref = _labelled(name)
    selection = emstat.select_mixture(
        frame,
        labels=ref["dataset"]["class_column"],
        mclust_compatible=True,
        convention="mclust",
    )
    assert selection.ks == [ref["k"]]  # G = the number of classes
    assert selection.models == ref["selection"]["models"]
    np.testing.assert_allclose(
        selection.table.to_numpy().ravel(), ref["selection"]["bic"], rtol=1e-10
    )
    assert selection.best.model == ref["selection"]["best_model"]
    assert "known labels: " in selection.summary()


# --------------------------------------------------------------------------- oracles


def _iris_labels(fraction: float = 0.1, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(REFERENCE / "known_labels_iris.csv")
    rows = np.random.default_rng(seed).random(len(frame)) < fraction
    labels = frame["Species"].where(rows)
    return frame.drop(columns="Species"), labels


def test_loglik_is_that_of_the_data_and_the_known_labels() -> None:
    x, labels = _iris_labels()
    fit = emstat.fit_mixture(x, 3, "VVV", labels=labels)
    theta = fit.params_
    log_dens = np.column_stack(
        [
            np.log(theta.weights[j])
            + multivariate_normal(theta.means[j], theta.covariances[j]).logpdf(x.to_numpy())
            for j in range(3)
        ]
    )
    known = labels.notna().to_numpy()
    classes = sorted(labels.dropna().unique())
    codes = np.array([classes.index(c) for c in labels[known]])
    expected = log_dens[known, codes].sum() + logsumexp(log_dens[~known], axis=1).sum()
    assert fit.loglik == pytest.approx(expected, rel=1e-12)
    assert fit.trace[-1] == fit.loglik  # the trace follows the objective: the same number
    assert fit.bic == pytest.approx(-2 * expected + fit.n_params * math.log(150), rel=1e-12)


def test_known_rows_keep_their_class_at_the_fixed_point() -> None:
    x, labels = _iris_labels()
    fit = emstat.fit_mixture(x, 3, "VVV", labels=labels, tol=1e-12)
    known = labels.notna().to_numpy()
    inferred = np.array(fit.predict_proba(x))
    classes = sorted(labels.dropna().unique())
    resp = inferred.copy()
    resp[known] = np.eye(3)[[classes.index(c) for c in labels[known]]]
    # One M-step from those responsibilities returns the fit: a known row's z is its class.
    np.testing.assert_allclose(resp.mean(axis=0), fit.params_.weights, rtol=1e-6)
    means = resp.T @ x.to_numpy() / resp.sum(axis=0)[:, None]
    np.testing.assert_allclose(means, fit.params_.means, rtol=1e-6)
    # ... and not from the inferred responsibilities of the known rows.
    unfixed = inferred.T @ x.to_numpy() / inferred.sum(axis=0)[:, None]
    assert np.max(np.abs(unfixed - fit.params_.means)) > 1e-4


def test_every_row_labelled_gives_each_class_its_own_mle() -> None:
    frame = pd.read_csv(REFERENCE / "known_labels_iris.csv")
    x = frame.drop(columns="Species").to_numpy()
    fit = emstat.fit_mixture(frame, 3, "VVV", labels="Species")
    for j, species in enumerate(["setosa", "versicolor", "virginica"]):
        rows = x[frame["Species"] == species]
        np.testing.assert_allclose(fit.params_.means[j], rows.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(
            fit.params_.covariances[j], np.cov(rows.T, bias=True), rtol=1e-10
        )
    np.testing.assert_allclose(fit.params_.weights, [1 / 3] * 3, rtol=1e-12)
    assert (fit.known_labels.classification == frame["Species"]).all()


def test_case_weight_two_equals_the_row_twice() -> None:
    x, labels = _iris_labels(0.2)
    weights = np.where(np.arange(150) % 3 == 0, 2.0, 1.0)
    repeated = np.repeat(np.arange(150), weights.astype(int))
    weighted = emstat.fit_mixture(x, 3, "EEE", labels=labels, weights=weights)
    twice = emstat.fit_mixture(
        x.iloc[repeated].reset_index(drop=True),
        3,
        "EEE",
        labels=labels.iloc[repeated].reset_index(drop=True),
    )
    assert weighted.loglik == pytest.approx(twice.loglik, rel=1e-10)
    np.testing.assert_allclose(weighted.params_.means, twice.params_.means, rtol=1e-8)


def test_labels_column_with_weights_column_or_array() -> None:
    frame, _ = _labelled("iris")
    weights = np.where(np.arange(150) % 4 == 0, 3.0, 1.0)
    by_array = emstat.fit_mixture(frame, 3, "EEE", labels="Species", weights=weights)
    by_column = emstat.fit_mixture(frame.assign(w=weights), 3, "EEE", labels="Species", weights="w")
    assert by_array.columns == by_column.columns == list(frame.columns[:4])
    assert by_array.loglik == pytest.approx(by_column.loglik, rel=1e-12)
    assert by_array.n == 150 + 2 * 38


def test_classes_are_components_in_sorted_or_categorical_order() -> None:
    x, labels = _iris_labels(0.3)
    order = ["virginica", "setosa", "versicolor"]
    fit = emstat.fit_mixture(x, 3, "VVV", labels=pd.Categorical(labels, categories=order))
    assert fit.known_labels.classes == tuple(order)
    setosa_mean = x[labels == "setosa"].mean().to_numpy()
    assert np.argmin(np.linalg.norm(fit.params_.means - setosa_mean, axis=1)) == 1
    numbers = labels.map({"setosa": 1, "versicolor": 2, "virginica": 3})  # float, NaN gaps
    by_number = emstat.fit_mixture(x, 3, "VVV", labels=numbers)
    assert by_number.known_labels.classes == (1, 2, 3)
    assert by_number.known_labels.classification.iloc[0] == "1"


def test_labels_series_is_matched_by_index() -> None:
    x, labels = _iris_labels()
    positional = emstat.fit_mixture(x, 3, "VVV", labels=labels.to_numpy())
    shuffled = labels.sample(frac=1.0, random_state=0)
    by_index = emstat.fit_mixture(x, 3, "VVV", labels=shuffled)
    assert by_index.loglik == positional.loglik


def test_more_components_than_classes() -> None:
    x, labels = _iris_labels(0.3)
    two = labels.where(labels != "virginica")
    fit = emstat.fit_mixture(x, 3, "VVV", labels=two)
    assert fit.ok
    assert fit.known_labels.names(3) == ["setosa", "versicolor", "class3"]
    assert set(fit.known_labels.classification) <= {"setosa", "versicolor", "class3"}


def test_summary_states_the_labels_and_the_objective_and_saving_keeps_them(
    tmp_path: Path,
) -> None:
    x, labels = _iris_labels()
    fit = emstat.fit_mixture(x, 3, "VVV", labels=labels)
    text = fit.summary()
    n_known = int(labels.notna().sum())
    assert f"known labels: {n_known} of 150 rows labelled, 3 classes" in text
    assert OBJECTIVE_TEXT in text
    assert "log(pi_c f_c(x))" in text
    loaded = emstat.load_fit(fit.save(tmp_path / "fit.json"))
    assert loaded.known_labels is not None
    assert loaded.known_labels.classes == ("setosa", "versicolor", "virginica")
    assert loaded.known_labels.n_known == n_known
    assert loaded.loglik == fit.loglik
    with pytest.raises(InputError, match="not kept in a saved fit"):
        _ = loaded.known_labels.classification


def test_refits_without_the_labels_are_refused() -> None:
    x, labels = _iris_labels()
    fit = emstat.fit_mixture(x, 3, "VVV", labels=labels)
    with pytest.raises(InputError, match="known labels"):
        fit.bootstrap(n_boot=2)
    assert "known labels" in (fit.std_error_reason or "")


def test_fits_without_labels_are_unchanged() -> None:
    faithful = emstat.load_dataset("faithful")
    assert emstat.fit_mixture(faithful, 3, "EEE").loglik == pytest.approx(-1126.3262, abs=1e-4)
    assert emstat.fit_mixture(faithful, 3, "EEE").known_labels is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("labels", "options", "message"),
    [
        (["a"] * 10, {}, "labels have 10 values; the data have 150 rows"),
        ("nope", {}, "no labels column 'nope' in the data"),
        ([None] * 150, {}, "labels know no row's class"),
        (["a", "b", "c", "d"] + [None] * 146, {}, "the labels have 4 classes"),
        (["a", 1.0] + [None] * 148, {}, "labels mix values of kinds"),
        (
            pd.Categorical(["a"] + [None] * 149, categories=["a", "b"]),
            {},
            "label class 'b' is never seen",
        ),
        (["a"] + [None] * 149, {"init": "kmeans++"}, "init cannot be combined with labels"),
        (["a"] + [None] * 149, {"family": "poisson"}, "labels serve the Gaussian family only"),
        ("Species", {"columns": ["Species", "Petal.Width"]}, "both modelled and used as labels"),
    ],
)
def test_bad_labels_are_refused_in_one_line(labels: Any, options: Any, message: str) -> None:
    frame = pd.read_csv(REFERENCE / "known_labels_iris.csv")
    if not isinstance(labels, str):
        frame = frame.drop(columns="Species")
    with pytest.raises(InputError, match=message) as caught:
        emstat.fit_mixture(frame, 3, "VVV", labels=labels, **options)
    assert "\n" not in str(caught.value)


def test_a_labels_series_with_other_rows_is_refused() -> None:
    x, labels = _iris_labels()
    moved = labels.set_axis(labels.index + 1000)
    with pytest.raises(InputError, match="the labels' index does not match the data's rows"):
        emstat.fit_mixture(x, 3, "VVV", labels=moved)


def test_labels_of_data_out_of_memory_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    pd.read_csv(REFERENCE / "known_labels_iris.csv").to_csv(path, index=False)
    with pytest.raises(InputError, match="labels need the data in memory"):
        emstat.fit_mixture([path], 3, labels="Species")


def test_select_refuses_k_below_the_classes() -> None:
    frame, _ = _labelled("iris")
    with pytest.raises(InputError, match="k must be at least the number of classes"):
        emstat.select_mixture(frame, k=[2, 3], labels="Species")


# --------------------------------------------------------------------------- CLI


def _labelled_csv(tmp_path: Path) -> Path:
    frame, _ = _labelled("iris")
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_fit_with_labels_column(tmp_path: Path) -> None:
    path = _labelled_csv(tmp_path)
    result = CliRunner().invoke(
        app, ["fit", str(path), "-k", "3", "-m", "VEV", "--labels", "Species"]
    )
    assert result.exit_code == 0, result.output
    assert "d = 4" in result.output  # the labels column is not modelled
    assert "known labels: 15 of 150 rows labelled" in result.output
    assert "log-likelihood -199.09488" in result.output  # MclustSSC's VEV: -199.0948888


def test_cli_select_with_labels_defaults_to_the_classes(tmp_path: Path) -> None:
    path = _labelled_csv(tmp_path)
    result = CliRunner().invoke(
        app, ["select", str(path), "--labels", "Species", "--models", "VVV,VEV", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "best: model VEV with k = 3" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fit", "-k", "2", "--labels", "Species"], "the labels have 3 classes"),
        (["fit", "-k", "3", "--labels", "Specie"], "no labels column 'Specie'"),
        (["select", "--labels", "Specie"], "no labels column 'Specie'"),
    ],
)
def test_cli_bad_labels_exit_2(tmp_path: Path, arguments: list[str], message: str) -> None:
    path = _labelled_csv(tmp_path)
    result = CliRunner().invoke(app, [arguments[0], str(path), *arguments[1:]])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_selection_on_worker_processes_equals_the_serial_one() -> None:
    x, labels = _iris_labels()
    models = ["VVV", "EEE", "VEV"]
    serial = emstat.select_mixture(x, labels=labels, models=models)
    forked = emstat.select_mixture(x, labels=labels, models=models, workers=2)
    np.testing.assert_array_equal(serial.table.to_numpy(), forked.table.to_numpy())


def test_one_dimension_defaults_to_e_and_v() -> None:
    x, labels = _iris_labels()
    selection = emstat.select_mixture(x[["Petal.Length"]], labels=labels)
    assert (selection.ks, selection.models) == ([3], ["E", "V"])
    fit = emstat.fit_mixture(x["Petal.Length"], 3, labels=labels.to_numpy())
    assert fit.model == "V"
    assert fit.known_labels.classes == ("setosa", "versicolor", "virginica")


def test_labelled_selection_computes_no_hierarchical_start(monkeypatch: Any) -> None:
    from emstat.mixture import hc

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a labelled fit needs no hc tree")

    monkeypatch.setattr(hc, "hc_tree", refuse)
    x, labels = _iris_labels()
    selection = emstat.select_mixture(x, labels=labels, models=["VVV", "EEE"], workers=2)
    assert all(fit.ok for fit in selection.fits.values())
