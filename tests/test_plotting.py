"""``result.plot()``: every kind draws on an Agg canvas, and its Axes hold the right numbers."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import emstat
from emstat.plotting import FAMILY_KINDS, MIXTURE_KINDS
from emstat.report import figures


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.fixture(scope="module")
def fit2(faithful: pd.DataFrame) -> emstat.MixtureResult:
    return emstat.fit_mixture(faithful, k=3, model="EEE")


@pytest.fixture(scope="module")
def fit3() -> tuple[emstat.MixtureResult, np.ndarray]:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (80, 3)), rng.normal(4, 1, (80, 3))])
    return emstat.fit_mixture(x, k=2, model="VVV"), x


@pytest.fixture(scope="module")
def fit1(faithful: pd.DataFrame) -> emstat.MixtureResult:
    return emstat.fit_mixture(faithful[["waiting"]], k=2)


def _scatter_offsets(ax: matplotlib.axes.Axes) -> list[np.ndarray]:
    return [np.asarray(c.get_offsets()) for c in ax.collections]


# --------------------------------------------------------------------------- Gaussian fits


@pytest.mark.parametrize("kind", MIXTURE_KINDS)
@pytest.mark.parametrize("which", ["fit1", "fit2"])
def test_every_kind_draws(kind: str, which: str, request: pytest.FixtureRequest) -> None:
    fit = request.getfixturevalue(which)
    ax = fit.plot(kind)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.lines or ax.collections or ax.patches
    ax.get_figure().canvas.draw()  # renders without error


def test_classification_points_are_the_data_by_component(
    fit2: emstat.MixtureResult, faithful: pd.DataFrame
) -> None:
    ax = fit2.plot("classification")
    labels = fit2.predict(faithful).to_numpy()
    offsets = _scatter_offsets(ax)
    assert len(offsets) == fit2.k
    for j in range(fit2.k):
        np.testing.assert_array_equal(offsets[j], faithful.to_numpy()[labels == j + 1])
    assert ax.get_xlabel() == "eruptions" and ax.get_ylabel() == "waiting"
    # one 95% ellipse per component, centred on its mean
    ellipses = [p for p in ax.patches if isinstance(p, matplotlib.patches.Ellipse)]
    np.testing.assert_allclose([e.center for e in ellipses], fit2.means.to_numpy())


def test_uncertainty_sizes_follow_one_minus_max_z(
    fit2: emstat.MixtureResult, faithful: pd.DataFrame
) -> None:
    ax = fit2.plot("uncertainty")
    proba = fit2.predict_proba(faithful).to_numpy()
    uncertainty = 1 - proba.max(axis=1)
    labels = proba.argmax(axis=1) + 1
    expected = 4 + 80 * uncertainty / uncertainty.max()
    for j, collection in enumerate(ax.collections[: fit2.k]):
        np.testing.assert_allclose(collection.get_sizes(), expected[labels == j + 1])


def test_a_pair_grid_has_an_axes_per_pair(fit3: tuple[emstat.MixtureResult, np.ndarray]) -> None:
    fit, x = fit3
    axes = fit.plot("classification")
    assert isinstance(axes, np.ndarray) and axes.shape == (3,)
    pairs = [(0, 1), (0, 2), (1, 2)]
    labels = fit.predict(x).to_numpy()
    for ax, (a, b) in zip(axes, pairs, strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel()) == (fit.columns[a], fit.columns[b])
        first = np.asarray(ax.collections[0].get_offsets())
        np.testing.assert_array_equal(first, x[labels == 1][:, [a, b]])
    # the user's own Axes are drawn on, and returned
    _, own = plt.subplots(1, 3)
    drawn = fit.plot("density", ax=own)
    assert list(drawn) == list(own)


def test_too_few_axes_is_one_clear_error(fit3: tuple[emstat.MixtureResult, np.ndarray]) -> None:
    fit, _ = fit3
    _, ax = plt.subplots()
    with pytest.raises(emstat.InputError, match="3 panels but ax holds 1 Axes"):
        fit.plot("classification", ax=ax)


def test_density_contours_are_the_pair_marginal_mixture(
    fit3: tuple[emstat.MixtureResult, np.ndarray],
) -> None:
    fit, x = fit3
    means = fit.means.to_numpy()
    covs = np.stack([fit.covariances[j + 1].to_numpy() for j in range(fit.k)])
    weights = fit.weights.to_numpy()
    gx, gy, density = figures._pair_density(x[:, [0, 2]], weights, means, covs, (0, 2), size=7)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    oracle = sum(
        w * stats.multivariate_normal(m[[0, 2]], c[np.ix_([0, 2], [0, 2])]).pdf(points)
        for w, m, c in zip(weights, means, covs, strict=True)
    )
    np.testing.assert_allclose(density.ravel(), oracle, rtol=1e-10)
    axes = fit.plot("density")
    np.testing.assert_array_equal(axes[1].collections[0].get_offsets(), x[:, [0, 2]])


def test_1d_density_is_the_mixture_over_a_histogram(
    fit1: emstat.MixtureResult, faithful: pd.DataFrame
) -> None:
    ax = fit1.plot("density")
    mixture = ax.lines[-1]
    grid = mixture.get_xdata()
    params = fit1.params.set_index(["component", "parameter"])["estimate"]
    oracle = sum(
        params[(j, "weight")]
        * stats.norm(params[(j, "mean[waiting]")], np.sqrt(params[(j, "var[waiting]")])).pdf(grid)
        for j in (1, 2)
    )
    np.testing.assert_allclose(mixture.get_ydata(), oracle, rtol=1e-10)
    heights = np.array([p.get_height() for p in ax.patches])
    widths = np.array([p.get_width() for p in ax.patches])
    assert float(heights @ widths) == pytest.approx(1.0)  # a density histogram


def test_1d_classification_puts_each_value_on_its_component(
    fit1: emstat.MixtureResult, faithful: pd.DataFrame
) -> None:
    ax = fit1.plot("classification")
    labels = fit1.predict(faithful[["waiting"]]).to_numpy()
    for j, offsets in enumerate(_scatter_offsets(ax)):
        np.testing.assert_array_equal(
            offsets[:, 0], faithful["waiting"].to_numpy()[labels == j + 1]
        )
        assert set(offsets[:, 1]) == {j + 1}


def test_trace_and_stopping_lines_hold_the_run(fit2: emstat.MixtureResult) -> None:
    trace = fit2.plot("trace").lines[0]
    np.testing.assert_array_equal(trace.get_ydata(), fit2.trace)
    np.testing.assert_array_equal(trace.get_xdata(), np.arange(1, len(fit2.trace) + 1))
    stopping = fit2.plot("stopping").lines[0]
    rel = np.abs(np.diff(fit2.trace)) / (1 + np.abs(fit2.trace[1:]))
    np.testing.assert_allclose(stopping.get_ydata(), np.where(rel > 0, rel, np.nan))


def test_unknown_kind_lists_the_kinds(fit2: emstat.MixtureResult) -> None:
    with pytest.raises(emstat.InputError, match="unknown plot kind 'pie'") as info:
        fit2.plot("pie")
    for kind in MIXTURE_KINDS:
        assert kind in str(info.value)


def test_a_loaded_fit_draws_the_data_it_is_given(
    fit2: emstat.MixtureResult, faithful: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = emstat.load_fit(fit2.save(tmp_path / "fit.json"))
    with pytest.raises(emstat.InputError, match="keeps no data"):
        loaded.plot("classification")
    ax = loaded.plot("classification", data=faithful)
    assert sum(len(o) for o in _scatter_offsets(ax)) == len(faithful)
    assert loaded.plot("trace").lines[0].get_ydata().size == len(fit2.trace)


# --------------------------------------------------------------------------- selections


def test_selection_curves_are_the_table(faithful: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        sel = emstat.select_mixture(faithful, k=range(1, 5))
    for convention in ("smaller", "mclust"):
        ax = sel.plot(convention=convention)
        lines = {line.get_label(): line for line in ax.lines}
        table = sel.table_for("bic", convention)
        assert [m for m in lines if not m.startswith("_")] == list(table.columns)
        for model in table.columns:
            np.testing.assert_array_equal(lines[model].get_xdata(), table.index.to_numpy())
            np.testing.assert_array_equal(lines[model].get_ydata(), table[model].to_numpy())
        circle = lines["_chosen"]
        assert circle.get_xdata()[0] == sel.best.k
        assert circle.get_ydata()[0] == table.loc[sel.best.k, sel.best.model]
    icl = sel.plot(criterion="icl")
    np.testing.assert_array_equal(icl.lines[0].get_ydata(), sel.table_for("icl")["EII"])
    top = sel.best_for("icl")  # the circle marks the fit the plotted criterion prefers
    circle = next(line for line in icl.lines if line.get_label() == "_chosen")
    assert circle.get_ydata()[0] == sel.table_for("icl").loc[top.k, top.model]
    with pytest.raises(emstat.InputError, match="choose criterion, criteria"):
        sel.plot("heatmap")


# --------------------------------------------------------------------------- other families


@pytest.fixture(scope="module")
def deaths_fit() -> emstat.FamilyMixtureResult:
    deaths = emstat.load_dataset("deaths")
    return emstat.fit_mixture(deaths, k=2, family="poisson", columns=["deaths"], weights="days")


def test_count_frequencies_against_the_poisson_mixture(
    deaths_fit: emstat.FamilyMixtureResult,
) -> None:
    deaths = emstat.load_dataset("deaths")
    ax = deaths_fit.plot("frequency")
    counts = np.arange(0, deaths["deaths"].max() + 1)
    observed = deaths.set_index("deaths")["days"].reindex(counts, fill_value=0).to_numpy()
    np.testing.assert_array_equal([p.get_height() for p in ax.patches], observed)
    params = deaths_fit.params.set_index(["component", "parameter"])["estimate"]
    total = deaths["days"].sum()
    oracle = sum(
        total * params[(j, "weight")] * stats.poisson(params[(j, "rate[deaths]")]).pmf(counts)
        for j in (1, 2)
    )
    mixture = next(line for line in ax.lines if line.get_label() == "mixture")
    np.testing.assert_allclose(mixture.get_ydata(), oracle, rtol=1e-9)
    np.testing.assert_array_equal(deaths_fit.plot("trace").lines[0].get_ydata(), deaths_fit.trace)


def test_family_kinds_are_those_of_its_columns(deaths_fit: emstat.FamilyMixtureResult) -> None:
    with pytest.raises(emstat.InputError, match=r"choose frequency, trace, stopping$"):
        deaths_fit.plot("levels")
    assert set(FAMILY_KINDS) >= {"frequency", "levels", "density"}


def test_level_bars_are_the_class_probabilities() -> None:
    carcinoma = emstat.load_dataset("carcinoma")
    fit = emstat.fit_mixture(carcinoma, k=2, family="categorical")
    axes = fit.plot("levels")
    assert axes.shape == (carcinoma.shape[1],)
    # at convergence each class's level probability is the responsibility-weighted share
    z = fit.predict_proba(carcinoma).to_numpy()
    for ax, column in zip(axes, carcinoma.columns, strict=True):
        assert ax.get_title() == column
        heights = np.array([p.get_height() for p in ax.patches]).reshape(fit.k, -1)
        levels = np.sort(carcinoma[column].unique())
        share = np.array([[z[carcinoma[column] == v, j].sum() for v in levels] for j in range(2)])
        np.testing.assert_allclose(heights, share / z.sum(axis=0)[:, None], atol=1e-5)
    one = fit.plot("levels", column="A")
    assert isinstance(one, matplotlib.axes.Axes) and one.get_title() == "A"
    with pytest.raises(emstat.InputError, match="not 'nope'"):
        fit.plot("levels", column="nope")


def test_normal_family_density_is_its_mixture(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=2, family="normal", columns=["waiting"])
    ax = fit.plot()  # the first kind its columns have
    params = fit.params.set_index(["component", "parameter"])["estimate"]
    grid = ax.lines[-1].get_xdata()
    names = sorted({p for _, p in params.index if p != "weight"})
    mean = next(p for p in names if p.startswith("mean"))
    var = next(p for p in names if p.startswith(("var", "sd")))
    scale = (lambda v: np.sqrt(v)) if var.startswith("var") else (lambda v: v)
    oracle = sum(
        params[(j, "weight")] * stats.norm(params[(j, mean)], scale(params[(j, var)])).pdf(grid)
        for j in (1, 2)
    )
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), oracle, rtol=1e-9)


def test_family_selection_draws_each_criterion() -> None:
    carcinoma = emstat.load_dataset("carcinoma")
    sel = emstat.select_mixture(carcinoma, k=[1, 2, 3], family="categorical")
    ax = sel.plot("criteria")
    lines = {line.get_label(): line for line in ax.lines}
    for name in ("bic", "aic", "icl"):
        expected = sel.table_for(name)["categorical"].to_numpy()
        np.testing.assert_array_equal(lines[name.upper()].get_ydata(), expected)


def test_categorical_trace() -> None:
    crimes = emstat.load_dataset("crimes")
    result = emstat.fit_categorical(crimes, counts="N")
    ax = result.plot()
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), result.trace)
    assert ax.get_ylabel() == "log-likelihood"
    with pytest.raises(emstat.InputError, match="unknown plot kind 'levels' for a categorical"):
        result.plot("levels")


def test_a_degenerate_fit_says_so() -> None:
    x = np.vstack([np.zeros((5, 2)), np.ones((5, 2)) + [[0.0, 1e-9]] * 5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = emstat.fit_mixture(x, k=2, model="VVV")
    assert not fit.ok
    with pytest.raises(emstat.InputError, match="degenerate"):
        fit.plot("classification")
