"""Plots of fits with a noise component, missing cells and known labels."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.report import build_document
from emstat.report.document import to_qmd


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.fixture(scope="module")
def noisy(faithful: pd.DataFrame) -> Any:
    return emstat.fit_mixture(faithful, k=2, model="EEE", noise=True)


def _collection(ax: Any, label: str) -> Any:
    found = [c for c in ax.collections if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.collections]
    return found[0]


@pytest.mark.parametrize("kind", ["classification", "uncertainty"])
def test_noise_rows_are_drawn_as_component_0(noisy: Any, faithful: pd.DataFrame, kind: str) -> None:
    ax = noisy.plot(kind)
    noise_rows = faithful[noisy.predict(faithful) == 0].to_numpy()
    assert len(noise_rows) > 0
    np.testing.assert_array_equal(_collection(ax, "noise").get_offsets(), noise_rows)
    drawn = sum(len(c.get_offsets()) for c in ax.collections)
    assert drawn == len(faithful)  # every row once: noise and components
    assert "noise" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_noise_rows_in_one_dimension_sit_on_row_0(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful[["waiting"]], k=2, noise=True)
    ax = fit.plot("classification")
    predicted = fit.predict(faithful[["waiting"]])
    offsets = _collection(ax, "noise").get_offsets()
    np.testing.assert_array_equal(offsets[:, 0], faithful["waiting"][predicted == 0])
    assert (offsets[:, 1] == 0).all()
    fit.plot("uncertainty")  # draws without error


def test_noise_only_fit_draws(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=0, model="EEE", noise=True)
    ax = fit.plot("classification")
    assert len(_collection(ax, "noise").get_offsets()) == len(faithful)


@pytest.fixture(scope="module")
def holes(faithful: pd.DataFrame) -> pd.DataFrame:
    frame = faithful.copy()
    frame.iloc[::5, 1] = np.nan
    return frame


@pytest.fixture(scope="module")
def gappy(holes: pd.DataFrame) -> Any:
    return emstat.fit_mixture(holes, k=2, model="VVV")


@pytest.mark.parametrize("kind", ["classification", "uncertainty"])
def test_a_fit_with_missing_cells_draws_its_complete_rows(
    gappy: Any, holes: pd.DataFrame, kind: str
) -> None:
    ax = gappy.plot(kind)
    complete = holes.dropna().to_numpy()
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert len(offsets) == len(complete)
    np.testing.assert_array_equal(np.sort(offsets, axis=0), np.sort(complete, axis=0))
    assert ax.get_title() == f"complete rows: {len(complete)} of {len(holes)}"


def test_a_fit_with_missing_cells_draws_from_its_kept_rows(gappy: Any) -> None:
    from emstat.plotting import mixture_view, view_note

    view = mixture_view(gappy)  # no data=: the rows the fit keeps
    assert view.given == 272 and view.values.shape[0] == 272 - 55
    assert view_note(view).startswith("The figures draw the 217 complete rows of 272")


def test_known_labels_rows_are_ringed(faithful: pd.DataFrame) -> None:
    labels = pd.Series(np.nan, index=faithful.index, dtype=object)
    rows = faithful.index[::12]
    labels[rows] = np.where(faithful.loc[rows, "eruptions"] > 3, "long", "short")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = emstat.fit_mixture(faithful, k=2, labels=labels)
    ax = fit.plot("classification")  # the fit keeps its rows
    ringed = _collection(ax, "labelled").get_offsets()
    np.testing.assert_array_equal(ringed, faithful.loc[rows].to_numpy())


def test_report_of_a_noise_fit_counts_noise_rows(noisy: Any, faithful: pd.DataFrame) -> None:
    text = to_qmd(build_document(noisy, data=faithful), "r")
    counts = noisy.predict(faithful).value_counts()
    assert (
        f"component 1: {counts.get(1, 0)}, component 2: {counts.get(2, 0)}, "
        f"noise: {counts.get(0, 0)} observations" in text
    )


def test_density_in_one_dimension_adds_the_uniform_noise(faithful: pd.DataFrame) -> None:
    x = faithful[["waiting"]]
    fit = emstat.fit_mixture(x, k=2, noise=True)
    ax = fit.plot("density")
    lines = {line.get_label(): line for line in ax.lines}
    grid = lines["mixture"].get_xdata()
    inside = (grid >= x["waiting"].min()) & (grid <= x["waiting"].max())
    flat = lines["noise"].get_ydata()
    np.testing.assert_allclose(flat[inside], fit.noise_weight * fit.vinv, rtol=1e-15)
    assert (flat[~inside] == 0).all()
    components = lines["component 1"].get_ydata() + lines["component 2"].get_ydata()
    np.testing.assert_allclose(lines["mixture"].get_ydata(), components + flat, rtol=1e-14)
    # the Gaussian parts are the fitted ones: weight times the normal density
    mean, var = fit.means.iloc[0, 0], fit.covariances[1].iloc[0, 0]
    normal = np.exp(-0.5 * (grid - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)
    np.testing.assert_allclose(
        lines["component 1"].get_ydata(), fit.weights.iloc[0] * normal, rtol=1e-12
    )
