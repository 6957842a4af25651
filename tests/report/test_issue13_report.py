"""Reports and notebook tables of fits with missing cells, known labels, CEM/SEM, a prior, noise.

Each report must say what the option did, with the fit's own numbers, and
its "reproduce in Python" code must fit the same model again: the tests run
that code on the same data and compare the log-likelihood.
"""

from __future__ import annotations

import re
import warnings
from html import unescape
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.report import build_document, write_report
from emstat.report.document import Document, to_qmd
from emstat.report.markdown import fmt_sig, md_escape


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.fixture(scope="module")
def holes(faithful: pd.DataFrame) -> pd.DataFrame:
    """faithful with 39 eruptions and 1 whole row missing (fixed positions)."""
    frame = faithful.copy()
    frame.iloc[::7, 0] = np.nan
    frame.iloc[3, :] = np.nan
    return frame


@pytest.fixture(scope="module")
def labels(faithful: pd.DataFrame) -> pd.Series:
    """Every 9th row labelled long or short by its eruption; the rest unknown."""
    known = pd.Series(np.nan, index=faithful.index, dtype=object)
    rows = faithful.index[::9]
    known[rows] = np.where(faithful.loc[rows, "eruptions"] > 3, "long", "short")
    return known


def _fit(data: pd.DataFrame, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropped empty row, a slow SEM
        return emstat.fit_mixture(data, **options)


def _text(doc: Document) -> str:
    return to_qmd(doc, "report")


def _rerun(code: str, data: pd.DataFrame, name: str) -> Any:
    """Run a report's reproduce code with ``df`` the data; return the object it makes."""
    lines = [line for line in code.splitlines() if not line.startswith("df = pd.read_csv(")]
    scope: dict[str, Any] = {"df": data}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec("\n".join(lines), scope)
    return scope[name]


# --------------------------------------------------------------------------- sentences


def test_noise_report_states_proportion_vinv_and_noise_rows(faithful: pd.DataFrame) -> None:
    fit = _fit(faithful, k=2, model="EEE", noise=True)
    text = _text(build_document(fit, data=faithful, data_name="faithful"))
    assert f"of proportion {fmt_sig(fit.noise_weight, 4)}" in text
    assert f"Vinv = {fmt_sig(fit.vinv, 6)}" in text
    assert f"hypervolume {fmt_sig(1 / fit.vinv, 6)}" in text
    n_noise = int((fit.predict(faithful) == 0).sum())
    assert n_noise > 0
    assert f"noise: {n_noise} observations" in text
    assert "noise (component 0) as small grey points" in text


def test_missing_report_counts_cells_rows_and_says_mar(holes: pd.DataFrame) -> None:
    fit = _fit(holes, k=2, model="VVV")
    text = _text(build_document(fit, data=holes, data_name="holes"))
    cells = int(holes.isna().to_numpy().sum())
    rows = int(holes.isna().any(axis=1).sum())
    assert fit.missing.cells == cells
    assert f"{cells} of {holes.size} cells" in text
    assert f"in {rows} of {len(holes)} rows" in text
    assert "1 rows with every value missing were left out" in text
    assert "missing at" in text and "random" in text
    assert "the start was `hc on the complete rows`" in text
    complete = int(holes.notna().all(axis=1).sum())
    assert f"draw the {complete} complete rows of {len(holes)}" in text


def test_labels_report_counts_labelled_rows_and_maps_classes(
    faithful: pd.DataFrame, labels: pd.Series
) -> None:
    fit = _fit(faithful, k=2, model="VVV", labels=labels)
    text = _text(build_document(fit, data=faithful))
    long_rows = int((labels == "long").sum())
    short_rows = int((labels == "short").sum())
    assert f"{long_rows + short_rows} of 272 rows were labelled, in 2 classes" in text
    assert f"long → component 1 ({long_rows} rows)" in text
    assert f"short → component 2 ({short_rows} rows)" in text
    assert "log-likelihood of the data and the labels" in text
    assert "Labelled rows are ringed in black" in text


def test_cem_report_states_objective_and_no_standard_errors(faithful: pd.DataFrame) -> None:
    fit = _fit(faithful, k=2, algorithm="cem")
    text = _text(build_document(fit, data=faithful))
    assert f"ended at {fmt_sig(fit.objective, 8)}" in text
    assert "classification EM (CEM)" in text
    assert "standard errors are not computed" in text


def test_sem_report_says_stochastic_em(faithful: pd.DataFrame) -> None:
    fit = _fit(faithful, k=2, algorithm="sem", seed=4)
    text = _text(build_document(fit, data=faithful, seed=4))
    assert "stochastic EM (SEM)" in text and "last iterate" in text


def test_prior_report_states_hyperparameters_and_criteria_without_prior(
    faithful: pd.DataFrame,
) -> None:
    fit = _fit(faithful, k=2, prior="mclust")
    text = _text(build_document(fit, data=faithful))
    assert md_escape(fit.prior) in text
    assert "shrinkage 0.01" in text
    assert "exclude the prior" in text


def test_plain_fit_report_has_no_option_sentences(faithful: pd.DataFrame) -> None:
    text = _text(build_document(_fit(faithful, k=2), data=faithful))
    for word in ("Noise:", "Prior:", "Known labels:", "Missing values:", "Algorithm:"):
        assert word not in text


def test_selection_report_notes_noise_for_every_fit(faithful: pd.DataFrame) -> None:
    sel = emstat.select_mixture(faithful, k=[0, 1, 2], models=["EEE"], noise=True)
    text = _text(build_document(sel, data=faithful))
    assert "k = 0 is the noise-only fit" in text
    assert f"of proportion {fmt_sig(sel.best.noise_weight, 4)}" in text


# --------------------------------------------------------------------------- reproduce code


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("noise", {"k": 2, "model": "EEE", "noise": True}),
        ("missing", {"k": 2, "model": "VVV"}),
        ("labels", {"k": 2, "model": "VVV"}),
        ("cem", {"k": 3, "model": "VVV", "algorithm": "cem"}),
        ("sem", {"k": 2, "model": "EEE", "algorithm": "sem", "seed": 7}),
        ("init-cem", {"k": 3, "model": "VVV", "init": "cem"}),
        ("prior", {"k": 3, "model": "VEV", "prior": "mclust"}),
        ("tol", {"k": 3, "model": "EVE", "tol": 1e-8, "max_iter": 500}),
    ],
)
def test_reproduce_code_refits_the_same_model(
    case: str,
    options: dict[str, Any],
    faithful: pd.DataFrame,
    holes: pd.DataFrame,
    labels: pd.Series,
) -> None:
    data = holes if case == "missing" else faithful
    extra = {"labels": labels} if case == "labels" else {}
    fit = _fit(data, **options, **extra)
    doc = build_document(fit, data=data, seed=options.get("seed"))
    again = _rerun(doc.metadata["command"], data, "fit")
    assert again.loglik == pytest.approx(fit.loglik, rel=1e-12, abs=0)
    assert again.n_iter == fit.n_iter
    assert (again.algorithm, again.prior, again.has_noise) == (
        fit.algorithm,
        fit.prior,
        fit.has_noise,
    )


def test_reproduce_code_writes_options_the_fit_does_not_keep(faithful: pd.DataFrame) -> None:
    fit = _fit(faithful, k=3, model="VEE", mclust_compatible=True, inner_tol=1e-8)
    options = {"mclust_compatible": True, "inner_tol": 1e-8}
    code = build_document(fit, data=faithful, options=options).metadata["command"]
    assert "mclust_compatible=True," in code and "inner_tol=1e-08," in code
    again = _rerun(code, faithful, "fit")
    assert again.loglik == pytest.approx(fit.loglik, rel=1e-12, abs=0)


def test_reproduce_code_writes_a_users_prior_given_as_an_option(faithful: pd.DataFrame) -> None:
    prior = emstat.GaussianPrior(shrinkage=0.05, dof=5)
    fit = _fit(faithful, k=2, model="VVV", prior=prior)
    plain = build_document(fit, data=faithful).metadata["command"]
    assert "prior=emstat.GaussianPrior(...)" in plain  # a placeholder, said to be one
    code = build_document(fit, data=faithful, options={"prior": prior}).metadata["command"]
    assert "prior=emstat.GaussianPrior(shrinkage=0.05, dof=5.0)," in code
    again = _rerun(code, faithful, "fit")
    assert again.loglik == pytest.approx(fit.loglik, rel=1e-12, abs=0)


def test_selection_reproduce_code_refits_every_cell(faithful: pd.DataFrame) -> None:
    sel = emstat.select_mixture(faithful, k=[1, 2, 3], models=["EEE", "VVV"], prior="mclust")
    code = build_document(sel, data=faithful).metadata["command"]
    assert 'prior="mclust",' in code
    again = _rerun(code, faithful, "sel")
    pd.testing.assert_frame_equal(again.table, sel.table, rtol=1e-12)
    text = _text(build_document(sel, data=faithful))
    assert "Every fit is a MAP fit under a prior" in text


@pytest.mark.parametrize("case", ["noise", "labels", "missing", "sem"])
def test_selection_reproduce_code_with_each_option(
    case: str, faithful: pd.DataFrame, holes: pd.DataFrame, labels: pd.Series
) -> None:
    options: dict[str, Any] = {
        "noise": {"k": [0, 1, 2], "noise": True},
        "labels": {"k": [2, 3], "labels": labels},
        "missing": {"k": [1, 2]},
        "sem": {"k": [1, 2], "algorithm": "sem", "seed": 3},
    }[case]
    data = holes if case == "missing" else faithful
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = emstat.select_mixture(data, models=["EEE", "VVV"], **options)
    code = build_document(sel, data=data).metadata["command"]
    if case == "noise":
        assert "noise=True," in code and f"Vinv={sel.best.vinv!r}," in code
    again = _rerun(code, data, "sel")
    pd.testing.assert_frame_equal(again.table, sel.table, rtol=1e-12)


def test_a_noise_start_that_is_not_the_default_is_a_placeholder(faithful: pd.DataFrame) -> None:
    start = (faithful["waiting"] < 47).to_numpy()
    fit = _fit(faithful, k=2, model="EEE", noise=start)
    code = build_document(fit, data=faithful).metadata["command"]
    assert 'noise="...",' in code and "noise=True" not in code


# --------------------------------------------------------------------------- notebook HTML


def test_repr_html_has_a_row_per_option(
    faithful: pd.DataFrame, holes: pd.DataFrame, labels: pd.Series
) -> None:
    noisy = _fit(faithful, k=2, model="EEE", noise=True)
    page = noisy._repr_html_()
    assert f"<th>noise proportion</th><td>{noisy.noise_weight:.6g}</td>" in page
    assert f"<th>noise Vinv</th><td>{noisy.vinv:.6g}</td>" in page
    gaps = _fit(holes, k=2)
    assert f"{gaps.missing.cells} of {gaps.missing.total_cells} cells" in gaps._repr_html_()
    assert "missing at random" in gaps._repr_html_()
    known = _fit(faithful, k=2, labels=labels)
    assert f"{known.known_labels.n_known} of 272 rows labelled (long -&gt; 1, short -&gt; 2)" in (
        known._repr_html_()
    )
    cem = _fit(faithful, k=2, algorithm="cem")
    assert f"<th>objective</th><td>{cem.objective:.6f}</td>" in cem._repr_html_()
    assert "classification EM; no standard errors" in cem._repr_html_()
    prior = _fit(faithful, k=2, prior="mclust")
    assert "criteria exclude the prior" in prior._repr_html_()
    plain = _fit(faithful, k=2)._repr_html_()
    assert "noise" not in plain and "prior" not in plain and "labelled" not in plain


def test_selection_repr_html_shows_the_chosen_fits_options(faithful: pd.DataFrame) -> None:
    sel = emstat.select_mixture(faithful, k=[1, 2], models=["EEE"], noise=True)
    assert f"<td>{sel.best.noise_weight:.6g}</td>" in sel._repr_html_()


# --------------------------------------------------------------------------- rendered


@pytest.mark.usefixtures("renderers")
def test_rendered_html_holds_the_option_sentences(holes: pd.DataFrame, tmp_path: Any) -> None:
    fit = _fit(holes, k=2, model="VVV", prior="mclust")
    doc = build_document(fit, data=holes, data_name="holes.csv")
    _, html = write_report(doc, tmp_path / "holes.html", ["html"], engine="pandoc")
    # the code is highlighted: its tokens sit in spans
    page = unescape(re.sub(r"<[^>]+>", "", html.read_text(encoding="utf-8")))
    assert f"{fit.missing.cells} of {fit.missing.total_cells} cells" in page
    assert "exclude the prior" in page
    assert 'prior="mclust",' in page and 'missing="em",' in page


def test_report_api_takes_options_for_the_reproduce_code(
    faithful: pd.DataFrame, tmp_path: Any
) -> None:
    fit = _fit(faithful, k=2, model="EVE", inner_tol=1e-9)
    (qmd,) = emstat.report(fit, tmp_path / "eve.qmd", data=faithful, options={"inner_tol": 1e-9})
    assert "inner_tol=1e-09," in qmd.read_text(encoding="utf-8")


def test_labels_on_an_index_repr_cannot_rebuild_are_a_placeholder(faithful: pd.DataFrame) -> None:
    dated = faithful.set_axis(pd.date_range("2020-01-01", periods=len(faithful)))
    known = pd.Series(np.nan, index=dated.index, dtype=object)
    known.iloc[::20], known.iloc[1::20] = "a", "b"
    code = build_document(_fit(dated, k=2, labels=known), data=dated).metadata["command"]
    assert 'labels="...",  # the known labels' in code and "Timestamp" not in code
