"""Reports of hidden Markov models: tables hold the fit, figures draw what they say."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from scipy import stats

import emstat
from emstat.errors import InputError
from emstat.report import build_document, hmm_figures, report
from emstat.report.hmm import emission_panels, transition_table
from emstat.report.markdown import fmt_fixed, fmt_sig

from .conftest import pdf_text


@pytest.fixture(scope="module")
def casino() -> pd.DataFrame:
    return emstat.load_dataset("casino")


@pytest.fixture(scope="module")
def casino_fit(casino: pd.DataFrame) -> emstat.HMMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emstat.fit_hmm(
            casino, 2, family="categorical", columns=["face"], sequence="session", order="roll"
        )


@pytest.fixture(scope="module")
def gaussian() -> tuple[emstat.HMMSelection, pd.DataFrame]:
    rng = np.random.default_rng(4)
    states = np.repeat(np.tile([0, 1], 10), 30)
    x = np.where(states == 0, -2.0, 2.0) + rng.normal(size=states.size)
    frame = pd.DataFrame({"x": x, "subject": np.repeat([1, 2], 300)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = emstat.select_hmm(frame, k=[1, 2, 3], models=["V", "E"], sequence="subject")
    return selection, frame


def _cells(qmd: str) -> set[str]:
    return {
        cell.strip().strip("*")
        for line in qmd.splitlines()
        if line.startswith("|")
        for cell in line.strip("|").split("|")
    }


# ------------------------------------------------------------------ figures


def test_state_path_shades_every_run_of_the_path_in_its_state_colour() -> None:
    states = np.array([0, 0, 1, 1, 1, 0, 2, 2])
    ax = hmm_figures.state_path_plot(np.arange(8.0), np.arange(8.0), states, 3)
    spans = list(ax.patches)
    runs = [(0, 0), (2, 1), (5, 0), (6, 2)]  # (first step, state)
    assert len(spans) == len(runs)
    for patch, (first, state) in zip(spans, runs, strict=True):
        x0 = patch.get_x() if hasattr(patch, "get_x") else patch.get_xy()[0][0]
        assert x0 == pytest.approx(first - 0.5)
        colour = to_rgba(hmm_figures.state_colour(state))
        assert patch.get_facecolor()[:3] == pytest.approx(colour[:3])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["state 1", "state 2", "state 3"]


def test_transition_matrix_writes_every_cell() -> None:
    matrix = np.array([[0.9, 0.1], [0.25, 0.75]])
    ax = hmm_figures.transition_matrix_plot(matrix)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["0.900", "0.100", "0.250", "0.750"])
    np.testing.assert_allclose(ax.images[0].get_array(), matrix)


def test_gaussian_emission_curves_are_the_weighted_normal_densities() -> None:
    ax = hmm_figures.gaussian_emission_plot(
        np.array([-1.0, 0.0, 3.0]), np.array([0.0, 3.0]), np.array([1.0, 0.25]),
        np.array([0.7, 0.3]),
    )  # fmt: skip
    lines = {line.get_label(): line for line in ax.get_lines()}
    grid = lines["state 2"].get_xdata()
    np.testing.assert_allclose(lines["state 2"].get_ydata(), 0.3 * stats.norm.pdf(grid, 3, 0.5))
    total = lines["all states"].get_ydata()
    np.testing.assert_allclose(
        total, 0.7 * stats.norm.pdf(grid, 0, 1) + 0.3 * stats.norm.pdf(grid, 3, 0.5)
    )


def test_discrete_emission_bars_are_the_probabilities() -> None:
    probabilities = np.array([[0.2, 0.8], [0.6, 0.4]])
    ax = hmm_figures.discrete_emission_plot(["a", "b"], probabilities, np.array([0.5, 0.5]))
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, probabilities.reshape(-1))


# ------------------------------------------------------------------ documents


def test_fit_document_holds_the_transitions_and_estimates(
    casino_fit: emstat.HMMResult, casino: pd.DataFrame
) -> None:
    doc = build_document(casino_fit, data=casino, data_name="casino")
    qmd = "\n".join(b for s in doc.sections for b in s.blocks if isinstance(b, str))
    cells = _cells(qmd)
    trans = casino_fit.transitions.to_numpy()
    for value in trans.reshape(-1):
        assert fmt_sig(value) in cells
    assert fmt_sig(casino_fit.start[0]) in cells
    params = casino_fit.params
    six = params[params["parameter"] == "prob[face=6]"]
    for estimate in six["estimate"]:
        assert fmt_sig(estimate) in cells
    assert fmt_fixed(casino_fit.loglik, 4) in qmd
    names = [f.name for f in doc.figures]
    assert names == ["transitions", "state-path", "emission-face", "trace"]
    assert "900** steps in **3** sequence" in qmd


def test_state_path_figure_follows_the_viterbi_path(
    casino_fit: emstat.HMMResult, casino: pd.DataFrame
) -> None:
    doc = build_document(casino_fit, data=casino)
    figure = next(f for f in doc.figures if f.name == "state-path").figure
    axes = figure.axes
    assert len(axes) == 3  # one panel per session
    path = np.asarray(casino_fit.viterbi(casino))[casino["session"].to_numpy() == 2]
    runs = 1 + int(np.count_nonzero(np.diff(path)))
    assert len(axes[1].patches) == runs
    assert axes[1].get_title() == "session 2"
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), casino["face"][300:600])


def test_emission_panels_read_every_family_from_params(casino_fit: emstat.HMMResult) -> None:
    ((column, kind, values),) = emission_panels(casino_fit)
    assert (column, kind) == ("face", "categorical")
    assert list(values) == ["1", "2", "3", "4", "5", "6"]
    np.testing.assert_allclose(sum(values[level] for level in values), np.ones(2), atol=1e-12)
    counts = pd.DataFrame({"n": np.random.default_rng(1).poisson(np.repeat([2, 9], 100))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = emstat.fit_hmm(counts, 2, family="poisson", columns=["n"])
    ((column, kind, values),) = emission_panels(fit)
    assert (column, kind) == ("n", "poisson")
    np.testing.assert_allclose(np.sort(values["rate"]), np.sort(fit.emission_params["rate[n]"]))
    doc = build_document(fit, data=counts)
    assert "emission-n" in [f.name for f in doc.figures]


def test_selection_document_table_and_choice(gaussian: tuple) -> None:
    selection, frame = gaussian
    doc = build_document(selection, data=frame, data_name="two regimes")
    qmd = "\n".join(b for s in doc.sections for b in s.blocks if isinstance(b, str))
    table = selection.table.dropna(subset=["bic"])
    cells = _cells(qmd)
    for value in table["bic"]:
        assert fmt_fixed(value, 2) in cells
    best = selection.best
    assert best.k == 2
    assert f"BIC chooses **k = {best.k}** ({best.model})" in qmd
    assert doc.figures[0].name == "criteria-by-k"
    assert doc.figures[0].figure.axes[0].get_xlabel() == "number of hidden states k"
    assert transition_table(best)["to 1"].tolist() == [
        fmt_sig(v) for v in best.transitions.to_numpy()[:, 0]
    ]


def test_report_refuses_data_of_another_size(
    casino_fit: emstat.HMMResult, casino: pd.DataFrame
) -> None:
    with pytest.raises(InputError, match="900"):
        build_document(casino_fit, data=casino.head(100))


@pytest.mark.usefixtures("renderers")
def test_rendered_hmm_report_shows_the_numbers(gaussian: tuple, tmp_path: Path) -> None:
    selection, frame = gaussian
    written = report(selection, tmp_path / "hmm.html", formats=["html", "pdf"], data=frame,
                     engine="pandoc")  # fmt: skip
    html = (tmp_path / "hmm.html").read_text()
    best = selection.best
    assert fmt_fixed(best.loglik, 4) in html
    assert fmt_sig(best.transitions.to_numpy()[0, 1]) in html
    assert html.count("data:image/png;base64") == len(build_document(selection, data=frame).figures)
    text = pdf_text(tmp_path / "hmm.pdf")
    assert fmt_fixed(best.loglik, 4) in text
    assert [p.suffix for p in written] == [".qmd", ".html", ".pdf"]
