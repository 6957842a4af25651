"""Reports rendered for real: self-contained HTML and Typst PDF, checked against the results."""

from __future__ import annotations

import re

import numpy as np
import pytest

from emstat.report.markdown import fmt_fixed, fmt_sig

from .conftest import Rendered, pdf_pages, pdf_text

pytestmark = pytest.mark.usefixtures("renderers")

_REMOTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_DATA_IMAGE = re.compile(r"""<img[^>]+src="data:image/png;base64,""")


def _pdf_tokens(text: str) -> set[str]:
    return set(re.split(r"\s+", text))


# ------------------------------------------------------------------ common to every report


@pytest.mark.parametrize(
    "name", ["faithful_report", "sim_report", "crimes_report", "deaths_report", "carcinoma_report"]
)
def test_html_is_self_contained(name: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    html = rendered.html_text
    assert _REMOTE.findall(html) == []
    # every figure embedded as a data: URI, and nothing else left pointing at a file
    assert len(_DATA_IMAGE.findall(html)) == len(rendered.doc.figures)
    assert "_figures/" not in html
    # the only http(s) URIs left are XML namespaces
    for uri in re.findall(r"https?://[^\s\"'<>)]+", html):
        assert "w3.org" in uri, uri


@pytest.mark.parametrize(
    ("name", "pages"), [("faithful_report", 6), ("sim_report", 4), ("crimes_report", 3)]
)
def test_pdf_is_a_pdf_of_the_expected_length(
    name: str, pages: int, request: pytest.FixtureRequest
) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    assert rendered.pdf.read_bytes()[:4] == b"%PDF"
    assert pdf_pages(rendered.pdf) == pages


@pytest.mark.parametrize(
    "name", ["faithful_report", "sim_report", "crimes_report", "deaths_report", "carcinoma_report"]
)
def test_reports_end_with_versions_seed_and_command(
    name: str, request: pytest.FixtureRequest
) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    html = rendered.html_text
    last = html[html.rindex("Reproducibility") :]
    for word in ("python", "numpy", "emstat", "pandoc", "command"):
        assert word in last
    text = pdf_text(rendered.pdf)
    assert "Reproducibility" in text
    assert "Software versions" in text


def test_qmd_header_is_quarto(faithful_report: Rendered) -> None:
    head = faithful_report.qmd.read_text().split("---")[1]
    for line in ("format:", "  html:", "    embed-resources: true", "  typst:"):
        assert line in head.splitlines()


# ------------------------------------------------------------------ mixture selection


def test_faithful_html_tables_hold_the_results(faithful_report: Rendered, faithful) -> None:
    selection, _ = faithful
    html = faithful_report.html_text
    for criterion in ("bic", "icl", "aic"):
        table = selection.table_for(criterion)
        for value in table.to_numpy().ravel():
            assert f">{fmt_fixed(value)}<" in html or f"<strong>{fmt_fixed(value)}</strong>" in html
    best = selection.best
    assert (best.model, best.k) == ("EEE", 3)
    assert f"<strong>{fmt_fixed(best.bic)}</strong>" in html
    assert "smaller is better" in html
    for value in best.params["estimate"]:
        assert f">{fmt_sig(value)}<" in html
    rule = best.control.describe().split(",")[0].replace("<", "&lt;")
    assert rule in " ".join(html.split())


def test_faithful_pdf_holds_the_results(faithful_report: Rendered, faithful) -> None:
    selection, _ = faithful
    tokens = _pdf_tokens(pdf_text(faithful_report.pdf))
    for value in selection.table_for("bic").to_numpy().ravel():
        assert fmt_fixed(value) in tokens
    for value in selection.best.params["estimate"]:
        assert fmt_sig(value) in tokens


def test_faithful_figures(faithful_report: Rendered) -> None:
    names = [f.name for f in faithful_report.doc.figures]
    assert names == ["bic-by-k", "trace", "classification", "uncertainty"]


# ------------------------------------------------------------------ simulation study


def test_sim_tables_hold_the_summary(sim_report: Rendered, sim_dir) -> None:
    import pandas as pd

    summary = pd.read_csv(sim_dir / "summary.csv")
    html = sim_report.html_text
    tokens = _pdf_tokens(pdf_text(sim_report.pdf))
    for column, fmt in (("bias", lambda v: fmt_sig(v, 3)), ("rmse", lambda v: fmt_sig(v, 3)),
                        ("coverage", lambda v: fmt_fixed(v, 3))):  # fmt: skip
        for value in summary[column]:
            assert f">{fmt(value)}<" in html
            assert fmt(value) in tokens
    assert [f.name for f in sim_report.doc.figures] == [
        "coverage", "estimates", "k-chosen", "iterations"
    ]  # fmt: skip
    reps = pd.read_parquet(sim_dir / "replicates.parquet").drop_duplicates(
        ["scenario", "replicate"]
    )
    for share in reps.groupby("scenario", sort=False)["converged"].mean():
        assert f">{fmt_fixed(share, 3)}<" in html
    selection = pd.read_parquet(sim_dir / "selection.parquet")
    bic = selection[(selection.scenario == "two-apart") & (selection.criterion == "bic")]
    counts = bic["k"].value_counts()
    row = re.search(r"<td[^>]*>two-apart</td>\s*<td[^>]*>BIC</td>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(\d+)</td>", row.group(1))
    assert [int(c) for c in cells] == [int(counts.get(k, 0)) for k in (1, 2, 3)]


def test_sim_report_from_summary_only(sim_dir, tmp_path) -> None:
    import pandas as pd

    from emstat.report import report

    written = report(pd.read_csv(sim_dir / "summary.csv"), tmp_path / "s.html")
    assert [p.suffix for p in written] == [".qmd", ".html"]
    assert "Bias, RMSE and coverage" in written[1].read_text()


# ------------------------------------------------------------------ categorical


def test_crimes_tables_and_lrt(crimes_report: Rendered, crimes_fits) -> None:
    saturated, independence = crimes_fits
    html = crimes_report.html_text
    tokens = _pdf_tokens(pdf_text(crimes_report.pdf))
    for value in saturated.probabilities:
        assert f">{fmt_sig(value)}<" in html
        assert fmt_sig(value) in tokens
    test = saturated.lrt(independence)
    assert f"{fmt_fixed(test.statistic, 4)}" in html
    assert f"{fmt_fixed(test.statistic, 4)}" in tokens
    for n in saturated.patterns["count"]:
        assert f">{n:g}<" in html
    assert np.isclose(float(fmt_fixed(saturated.loglik, 4)), saturated.loglik, atol=1e-4)
    assert f"{fmt_fixed(saturated.loglik, 4)}" in html
