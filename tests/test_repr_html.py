"""Every result's ``_repr_html_``: the tables a notebook shows hold the result's own numbers."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import emstat


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows, each a list of cell texts (unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.paragraphs: list[str] = []
        self._cell: list[str] | None = None
        self._in_p = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p":
            self._in_p = True
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "p":
            self._in_p = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_p:
            self.paragraphs[-1] += data


def parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    parser.close()
    return parser


def facts(page: str) -> dict[str, str]:
    return {label: value for label, value in parse(page).tables[0]}


def params_table(page: str) -> pd.DataFrame:
    header, *rows = parse(page).tables[1]
    return pd.DataFrame(rows, columns=header)


def _as_float(cell: str) -> float:
    return math.nan if cell == "NA" else float(cell)


def assert_params_shown(page: str, params: pd.DataFrame) -> None:
    shown = params_table(page)
    assert list(shown.columns) == list(params.columns)
    assert shown["parameter"].tolist() == params["parameter"].astype(str).tolist()
    for column in ("estimate", "std_err", "ci_low", "ci_high"):
        np.testing.assert_allclose(
            shown[column].map(_as_float).to_numpy(), params[column].to_numpy(), rtol=1e-5
        )


def assert_criteria_shown(page: str, fit: object) -> None:
    shown = facts(page)
    assert float(shown["log-likelihood"]) == pytest.approx(fit.loglik, abs=5e-7)
    assert float(shown["BIC"]) == pytest.approx(fit.bic, abs=5e-5)
    assert float(shown["AIC"]) == pytest.approx(fit.aic, abs=5e-5)
    assert float(shown["n"]) == fit.n
    assert int(shown["parameters"]) == fit.n_params
    assert int(shown["iterations"]) == fit.n_iter
    assert shown["converged"] == ("yes" if fit.converged else f"no ({fit.stop_reason})")


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


def test_gaussian_fit_shows_its_numbers(faithful):
    fit = emstat.fit_mixture(faithful, k=3, model="EEE")
    page = fit._repr_html_()
    shown = facts(page)
    assert (shown["model"], shown["k"]) == ("EEE", "3")
    assert float(shown["ICL"]) == pytest.approx(fit.icl, abs=5e-5)
    assert_criteria_shown(page, fit)
    assert_params_shown(page, fit.params)


def test_family_fit_shows_its_numbers():
    deaths = emstat.load_dataset("deaths")
    fit = emstat.fit_mixture(deaths, k=2, family="poisson", columns=["deaths"], weights="days")
    page = fit._repr_html_()
    assert facts(page)["model"] == "poisson"
    assert float(facts(page)["ICL"]) == pytest.approx(fit.icl, abs=5e-5)
    assert_criteria_shown(page, fit)
    assert_params_shown(page, fit.params)


@pytest.mark.parametrize(
    ("margins", "name"), [(None, "saturated"), ([["V1"], ["V2"]], "(V1) (V2)")]
)
def test_categorical_fit_shows_its_numbers(margins, name):
    fit = emstat.fit_categorical(emstat.load_dataset("crimes"), counts="N", margins=margins)
    page = fit._repr_html_()
    shown = facts(page)
    assert shown["model"] == name
    assert "ICL" not in shown and "k" not in shown  # no components to classify into
    assert_criteria_shown(page, fit)
    assert_params_shown(page, fit.params)


def test_selection_shows_the_criterion_table(faithful):
    sel = emstat.select_mixture(faithful, k=range(1, 4), models=["EII", "VVV", "EEE"])
    page = sel._repr_html_()
    header, _k_row, *rows = parse(page).tables[0]
    assert header[1:] == ["EII", "VVV", "EEE"]
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    values = np.array([[_as_float(c) for c in r[1:]] for r in rows])
    np.testing.assert_allclose(values, sel.table.to_numpy(), atol=5e-4)
    best = sel.best
    assert parse(page).paragraphs[-1] == (
        f"best: model {best.model} with k = {best.k} (BIC {best.bic:.4f})"
    )
    assert "smaller is better" in parse(page).paragraphs[0]


def test_selection_in_mclust_sign_says_larger_is_better(faithful):
    sel = emstat.select_mixture(faithful, k=[1, 2], models=["EEE"], convention="mclust")
    page = sel._repr_html_()
    assert "larger is better" in parse(page).paragraphs[0]
    shown = [_as_float(r[1]) for r in parse(page).tables[0][2:]]
    np.testing.assert_allclose(shown, sel.table["EEE"].to_numpy(), atol=5e-4)
    assert shown[0] == pytest.approx(-sel.fits[(1, "EEE")].bic, abs=5e-4)


def test_family_selection_shows_nan_cells_as_na():
    counts = pd.DataFrame({"y": [0, 0, 1, 1, 2, 3, 7, 8, 9, 10]})
    sel = emstat.select_mixture(counts, k=[1, 2, 20], family="poisson")
    page = sel._repr_html_()
    rows = parse(page).tables[0][2:]
    assert [r[0] for r in rows] == ["1", "2", "20"]
    assert rows[2][1] == "NA" and math.isnan(sel.table.iloc[2, 0])
    assert float(rows[1][1]) == pytest.approx(sel.table.iloc[1, 0], abs=5e-4)
    assert "Poisson mixtures" in parse(page).paragraphs[0]


def test_every_string_is_escaped():
    rng = np.random.default_rng(0)
    name = "<b>a&b</b>"
    frame = pd.DataFrame({name: np.r_[rng.normal(0, 1, 50), rng.normal(6, 1, 50)]})
    fit = emstat.fit_mixture(frame, k=2)
    page = fit._repr_html_()
    assert "<b>" not in page
    assert f"mean[{name}]" in params_table(page)["parameter"].tolist()
    sel = emstat.select_mixture(frame, k=[1, 2], models=["V"])
    page = sel._repr_html_()
    assert "<b>" not in page
    assert name in parse(page).paragraphs[0]


def test_degenerate_fit_shows_the_reason():
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]]), 4, axis=0)
    fit = emstat.fit_mixture(x, k=2, model="VVV")
    assert not fit.ok
    page = fit._repr_html_()
    assert facts(page)["degenerate"] == fit.degenerate
    assert len(parse(page).tables) == 1  # no estimates to show


def test_likelihood_ratio_test_shows_its_line():
    crimes = emstat.load_dataset("crimes")
    sat = emstat.fit_categorical(crimes, counts="N")
    ind = emstat.fit_categorical(crimes, counts="N", margins=[["V1"], ["V2"]])
    lrt = ind.lrt(sat)
    assert parse(lrt._repr_html_()).paragraphs == [str(lrt)]


def test_segmentation_shows_the_fit_and_its_segments():
    from emstat.segment import example_image

    seg = emstat.segment_image(example_image(), k=2)
    page = seg._repr_html_()
    assert "coffee.png" in parse(page).paragraphs[0]
    assert_criteria_shown(page, seg.fit)
    header, *rows = parse(page).tables[1]
    assert header == list(seg.segments.columns)
    assert [int(r[1]) for r in rows] == seg.pixels.tolist()
    assert [r[6] for r in rows] == seg.segments["colour"].tolist()


def test_a_cross_check_shows_its_table_and_verdict():
    from emstat.crosscheck._flexmix import FlexmixCheck

    table = pd.DataFrame(
        {"k": [1, 2], "loglik_rel_diff": [1e-9, 2e-3], "verdict": ["agree", "<b>"]}
    )
    check = FlexmixCheck(table, "poisson", 40, 1e-6, {"flexmix": "2.3"})
    page = check._repr_html_()
    header, *rows = parse(page).tables[0]
    assert header == ["k", "loglik_rel_diff", "verdict"]
    assert [float(r[1]) for r in rows] == [1e-9, 2e-3]
    assert rows[1][2] == "<b>" and "<b>" not in page  # escaped
    assert parse(page).paragraphs[-1].endswith("DISAGREE")


def _first_table(page: str) -> pd.DataFrame:
    header, *rows = parse(page).tables[0]
    return pd.DataFrame(rows, columns=header)


def test_hmm_selection_bootstrap_and_lrt_show_their_tables(faithful):
    casino = emstat.load_dataset("casino")
    sel = emstat.select_hmm(
        casino, k=[1, 2], family="categorical", columns=["face"], sequence="session", order="roll"
    )
    shown = _first_table(sel._repr_html_())
    np.testing.assert_allclose(shown["loglik"].map(_as_float), sel.table["loglik"], rtol=1e-5)
    assert facts(sel.best._repr_html_())["k"] == str(sel.best.k)

    boot = emstat.fit_mixture(faithful, k=2, model="EEE").bootstrap(20, seed=1)
    shown = _first_table(boot._repr_html_())
    assert len(shown) == len(boot.table)
    assert parse(boot._repr_html_()).paragraphs[0] == boot.describe()

    lrt = emstat.bootstrap_lrt(emstat.load_dataset("acidity"), model="V", max_k=1, n_boot=9)
    page = lrt._repr_html_()
    shown = _first_table(page)
    np.testing.assert_allclose(shown["statistic"].map(_as_float), lrt.table["statistic"], rtol=1e-5)
    assert parse(page).paragraphs[0].strip(" -")
