"""Reports of component-family mixtures: the tables hold the fit, the figures are right."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emstat
from emstat.families.base import ColumnData
from emstat.mixture.family_fit import FamilyMixtureResult, load_family_fit
from emstat.plotting import count_frequencies, level_shares
from emstat.report import build_document, report
from emstat.report.document import Document, Section
from emstat.report.markdown import fmt_fixed, fmt_sig
from emstat.report.registry import _REGISTRY, register_report

from .conftest import Rendered, pdf_text


@pytest.fixture(scope="module")
def deaths_fit() -> FamilyMixtureResult:
    deaths = emstat.load_dataset("deaths")
    return emstat.fit_mixture(deaths, k=2, family="poisson", columns=["deaths"], weights="days")


@pytest.fixture(scope="module")
def carcinoma_selection() -> emstat.SelectionResult:
    carcinoma = emstat.load_dataset("carcinoma")
    return emstat.select_mixture(
        carcinoma, k=range(1, 5), family="categorical", init="random", n_init=10
    )


def _cells(qmd: str) -> set[str]:
    """Every cell of every pipe table in ``qmd``, stripped of bold."""
    return {
        cell.strip().strip("*")
        for line in qmd.splitlines()
        if line.startswith("|")
        for cell in line.strip("|").split("|")
    }


# ------------------------------------------------------------------ expected frequencies


def _frequencies(fit: FamilyMixtureResult, j: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = fit.data_
    assert rows is not None
    block = rows.blocks[j]
    counts = np.arange(0, int(np.nanmax(block.values)) + 1)
    w = np.ones(rows.n) if rows.case_weights is None else rows.case_weights
    observed, expected = count_frequencies(
        fit.family.parts[j], fit.theta.components[j], fit.theta.weights, block, w, counts
    )
    return counts, observed, expected


def test_poisson_expected_frequencies_with_case_weights_match_scipy(deaths_fit) -> None:
    counts, observed, expected = _frequencies(deaths_fit)
    deaths = emstat.load_dataset("deaths")
    rate = deaths_fit.theta.components[0][:, 0]
    weight = deaths_fit.theta.weights
    days = deaths["days"].to_numpy(dtype=float)
    for c in counts:
        assert observed[c] == days[deaths["deaths"] == c].sum()
        for j in range(2):
            direct = weight[j] * days.sum() * stats.poisson.pmf(c, rate[j])
            assert math.isclose(expected[c, j], direct, rel_tol=1e-10)
    assert observed.sum() == 1096


def test_poisson_expected_frequencies_use_each_rows_exposure_and_skip_missing() -> None:
    rng = np.random.default_rng(3)
    exposure = rng.uniform(0.5, 3.0, 300)
    x = rng.poisson(np.where(rng.random(300) < 0.4, 1.0, 6.0) * exposure).astype(float)
    x[[5, 17, 40]] = np.nan  # the row's other column still counts
    frame = pd.DataFrame({"x": x, "y": rng.normal(size=300), "t": exposure})
    fit = emstat.fit_mixture(frame, k=2, family={"x": "poisson", "y": "normal"}, exposure="t")
    counts, observed, expected = _frequencies(fit)
    seen = ~np.isnan(x)
    rate, weight = fit.theta.components[0][:, 0], fit.theta.weights
    for c in counts:
        assert observed[c] == np.sum(x[seen] == c)
        for j in range(2):
            direct = weight[j] * stats.poisson.pmf(c, rate[j] * exposure[seen]).sum()
            assert math.isclose(expected[c, j], direct, rel_tol=1e-9, abs_tol=1e-300)


def test_binomial_expected_frequencies_use_each_rows_trials() -> None:
    rng = np.random.default_rng(4)
    trials = rng.integers(1, 12, 250)
    x = rng.binomial(trials, np.where(rng.random(250) < 0.5, 0.2, 0.7)).astype(float)
    fit = emstat.fit_mixture(
        pd.DataFrame({"x": x, "n": trials}), k=2, family="binomial", columns=["x"], trials="n"
    )
    counts, observed, expected = _frequencies(fit)
    prob, weight = fit.theta.components[0][:, 0], fit.theta.weights
    for c in counts:  # counts above a row's trials have probability 0 there
        assert observed[c] == np.sum(x == c)
        for j in range(2):
            direct = weight[j] * stats.binom.pmf(c, trials, prob[j]).sum()
            assert math.isclose(expected[c, j], direct, rel_tol=1e-9)
    assert np.isfinite(expected).all()


def test_level_shares_are_weighted_and_skip_missing_cells() -> None:
    block = ColumnData(np.array([0.0, 1.0, np.nan, 1.0, 2.0]))
    share = level_shares(block, np.array([1.0, 2.0, 5.0, 1.0, 4.0]), 3)
    np.testing.assert_allclose(share, [1 / 8, 3 / 8, 4 / 8])


# ------------------------------------------------------------------ the fit's report


def test_deaths_qmd_holds_the_fit(deaths_fit, tmp_path: Path) -> None:
    written = report(deaths_fit, tmp_path / "deaths.qmd", data_name="deaths")
    qmd = written[0].read_text()
    cells = _cells(qmd)
    params = deaths_fit.params
    for column in ("estimate", "ci_low", "ci_high"):
        for value in params[column]:
            assert fmt_sig(value) in cells, (column, value)
    for value in params["std_err"]:
        assert fmt_sig(value, 2) in cells
    assert {"logit", "log"} <= cells
    assert "Poisson mixture of deaths" in qmd.split("---")[1]
    assert "**10** rows with case weights summing to **1096**" in qmd
    assert f"log-likelihood {fmt_fixed(deaths_fit.loglik, 4)}" in qmd
    assert f"BIC {fmt_fixed(deaths_fit.bic, 2)}" in qmd
    assert f"after {deaths_fit.n_iter} iterations" in qmd
    assert "smaller is better" in qmd
    assert "| deaths | Poisson(deaths) | 0" in qmd  # no missing cells
    doc = build_document(deaths_fit)
    names = [f.name for f in doc.figures]
    assert names == ["trace", "column-1-deaths"]
    for name in names:
        assert (tmp_path / "deaths_figures" / f"{name}.png").stat().st_size > 1000
        assert f"deaths_figures/{name}.png" in qmd
    assert "restarts" not in qmd  # one start: no restarts table


def test_missing_cells_are_counted_per_column() -> None:
    frame = pd.DataFrame(
        {"a": ["x", "y", None, "x", "y", "y"], "b": [1.0, None, 2.0, None, 5.0, 4.0]}
    )
    fit = emstat.fit_mixture(frame, k=1, family={"a": "categorical", "b": "normal"})
    qmd = "\n".join(str(b) for s in build_document(fit).sections for b in s.blocks)
    assert "| a      | Categorical(a: 2 levels) | 1" in qmd
    assert "| b      | Normal(b)                | 2" in qmd
    assert "3 missing cell(s) in all" in qmd
    names = [f.name for f in build_document(fit).figures]
    assert names == ["trace", "levels", "column-2-b"]


def test_a_fit_loaded_from_file_is_drawn_from_the_data_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.poisson(np.repeat([1.0, 7.0], 100)).astype(float)})
    fit = emstat.fit_mixture(frame, k=2, family="poisson")
    loaded = load_family_fit(fit.to_dict())
    doc = build_document(loaded)
    assert [f.name for f in doc.figures] == ["trace"]
    assert "keeps no data" in doc.sections[0].blocks[1]
    drawn = build_document(loaded, data=frame)
    assert [f.name for f in drawn.figures] == ["trace", "column-1-x"]
    with pytest.raises(emstat.InputError, match="the data have 50 rows, but the fit was made"):
        build_document(loaded, data=frame.head(50))


def test_unknown_option_names_the_family_report(deaths_fit, tmp_path: Path) -> None:
    with pytest.raises(emstat.InputError) as info:
        report(deaths_fit, tmp_path / "r.qmd", bogus=1)
    assert str(info.value) == (
        "report() has no option 'bogus' for a component-family mixture fit; its options are "
        "formats, engine, overwrite, mkdir, data, data_name, title, command, seed"
    )
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the selection's report


def test_carcinoma_selection_qmd_chooses_k_and_holds_the_criteria(
    carcinoma_selection, tmp_path: Path
) -> None:
    sel = carcinoma_selection
    fits = [sel.fits[(k, "categorical")] for k in sel.ks]
    # BIC computed here from the log-likelihoods: the k the report must name
    bic = [-2 * f.loglik + f.n_params * math.log(118) for f in fits]
    chosen = sel.ks[int(np.argmin(bic))]
    assert chosen == sel.best.k == 3
    written = emstat.report(sel, tmp_path / "carcinoma.qmd", data_name="carcinoma")
    qmd = written[0].read_text()
    assert f"BIC chooses **k = {chosen}**" in qmd
    cells = _cells(qmd)
    for fit, value in zip(fits, bic, strict=True):
        assert fmt_fixed(value) in cells
        assert fmt_fixed(fit.aic) in cells and fmt_fixed(fit.icl) in cells
        assert fmt_fixed(fit.loglik, 4) in cells
    assert f"**{fmt_fixed(min(bic))}**" in qmd
    assert "−2 log L + penalty: smaller is better" in qmd
    header = qmd.split("---")[1]
    assert "Categorical (latent classes) mixture of A, B, C, D, E, F, G" in header
    for value in sel.best.params["estimate"]:
        assert fmt_sig(value) in cells
    restarts = sel.best.restarts
    assert f"**{fmt_fixed(restarts['loglik'].max(), 4)}**" in qmd  # the restart kept
    names = [f.name for f in build_document(sel).figures]
    assert names == ["criteria-by-k", "trace", "levels"]
    for name in names:
        assert (tmp_path / "carcinoma_figures" / f"{name}.png").is_file()
    # the function and the method give the same document
    again = report(sel, tmp_path / "again.qmd", data_name="carcinoma", seed=0)
    body = again[0].read_text().split("---", 2)[2].replace("again_figures", "carcinoma_figures")
    assert body == qmd.split("---", 2)[2]


def test_gaussian_selection_keeps_its_own_report() -> None:
    sel = emstat.select_mixture(emstat.load_dataset("faithful"), k=[1, 2], models=["EEE"])
    doc = build_document(sel)
    assert doc.title == "Gaussian mixture model selection: the data"
    assert doc.figures[0].name == "bic-by-k"


# ------------------------------------------------------------------ the registry


def test_a_new_result_type_is_reported_once_registered(tmp_path: Path) -> None:
    class Custom:
        pass

    with pytest.raises(emstat.InputError, match=r"report\(\) takes a selection.*got Custom"):
        report(Custom(), tmp_path / "c.qmd")

    def custom_document(result: Custom, *, title: str = "custom") -> Document:
        return Document(title=title, sections=[Section("Only", ["text"])])

    register_report(Custom, custom_document, "a custom result")
    try:
        written = report(Custom(), tmp_path / "c.qmd", title="Mine")
        assert 'title: "Mine"' in written[0].read_text()
        with pytest.raises(emstat.InputError, match="no option 'x' for a custom result"):
            report(Custom(), tmp_path / "c.qmd", x=1)
    finally:
        del _REGISTRY[Custom]


def test_a_list_of_three_categorical_fits_is_refused(tmp_path: Path) -> None:
    crimes = emstat.load_dataset("crimes")
    fit = emstat.fit_categorical(crimes, counts="N")
    with pytest.raises(emstat.InputError, match=r"report\(\) takes .*; got list"):
        report([fit, fit, fit], tmp_path / "c.qmd")
    assert build_document([fit, fit]).title == "Incomplete categorical data: the data"


# ------------------------------------------------------------------ rendered


pytest_render = pytest.mark.usefixtures("renderers")


@pytest_render
def test_deaths_renders_to_html_and_pdf(deaths_report: Rendered, deaths_fit) -> None:
    html = deaths_report.html_text
    assert html.count("data:image/png;base64,") == len(deaths_report.doc.figures) == 2
    for value in deaths_fit.params["estimate"]:
        assert f">{fmt_sig(value)}<" in html
    assert "Poisson mixture of deaths" in html
    text = pdf_text(deaths_report.pdf)
    assert fmt_fixed(deaths_fit.loglik, 4) in text


@pytest_render
def test_carcinoma_renders_to_html_and_pdf(carcinoma_report: Rendered) -> None:
    html = carcinoma_report.html_text
    assert html.count("data:image/png;base64,") == 3
    assert re.search(r"BIC chooses <strong>k = 3</strong>", html)
    assert "Sign convention" in html
    text = pdf_text(carcinoma_report.pdf)
    assert "Choice of k" in text and "Fit to the data" in text


def test_the_reproducing_call_fits_the_same_model(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    trials = rng.integers(5, 15, 200)
    frame = pd.DataFrame(
        {
            "y": np.r_[rng.normal(0, 1, 100), rng.normal(4, 1, 100)],
            "s": rng.binomial(trials, np.repeat([0.2, 0.7], 100)),
            "n": trials,
        }
    )
    fit = emstat.fit_mixture(
        frame, k=2, family={"y": "normal", "s": "binomial"}, trials="n", max_iter=500
    )
    code = build_document(fit).metadata["command"]
    assert "trials='n'" in code and "max_iter=500" in code
    monkeypatch.setattr(pd, "read_csv", lambda *args, **kwargs: frame)
    scope: dict[str, object] = {}
    exec(code, scope)
    assert scope["fit"].loglik == pytest.approx(fit.loglik, abs=1e-9)


def test_restarts_without_timings_have_no_seconds_column(carcinoma_selection) -> None:
    from emstat.report.mixture import restarts_table

    timed = carcinoma_selection.best.restarts
    assert "seconds" in restarts_table(timed).columns
    out = restarts_table(timed.drop(columns="seconds"))
    assert list(out.columns) == [
        "restart", "start", "log-likelihood", "iterations", "converged", "stopped by"
    ]  # fmt: skip
