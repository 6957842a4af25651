"""``emstat hmm``: the selection table, the chosen fit, --save, --report, and bad input."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.hmm import load_hmm
from emstat.report.markdown import fmt_fixed, fmt_sig

runner = CliRunner()

CASINO = ["--family", "categorical", "--columns", "face", "--sequence", "session", "--order",
          "roll"]  # fmt: skip


@pytest.fixture(scope="module")
def casino_csv() -> Path:
    return emstat.datasets.dataset_path("casino")


@pytest.fixture(scope="module")
def casino_selection() -> emstat.HMMSelection:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emstat.select_hmm(
            emstat.load_dataset("casino"),
            k=[1, 2],
            family="categorical",
            columns=["face"],
            sequence="session",
            order="roll",
            criterion="aic",
        )


def _table_rows(output: str) -> dict[int, list[str]]:
    """The selection table's rows by k, as printed."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 7 and cells[0].isdigit() and cells[1] == "categorical":
            rows[int(cells[0])] = cells
    return rows


def test_hmm_prints_the_table_and_the_chosen_fit_and_saves_it(
    casino_csv: Path, casino_selection: emstat.HMMSelection, tmp_path: Path
) -> None:
    saved = tmp_path / "casino.json"
    result = runner.invoke(
        app, ["hmm", str(casino_csv), "--k", "1:2", *CASINO, "--by", "aic", "--save", str(saved)]
    )
    assert result.exit_code == 0, result.output
    rows = _table_rows(result.output)
    assert sorted(rows) == [1, 2]
    table = casino_selection.table.set_index("k")
    for k, cells in rows.items():
        assert float(cells[2]) == pytest.approx(table.loc[k, "loglik"], abs=1e-4)
        assert float(cells[5]) == pytest.approx(table.loc[k, "aic"], abs=1e-4)
    best = casino_selection.best
    assert best.k == 2
    assert "best: k = 2" in result.output
    assert "Hidden Markov model: 2 states" in result.output
    assert f"{best.loglik:.6f}" in result.output
    loaded = load_hmm(saved)
    assert loaded.loglik == pytest.approx(best.loglik, rel=1e-12)
    pd.testing.assert_frame_equal(loaded.transitions, best.transitions)


def test_hmm_report_holds_the_fit(
    casino_csv: Path, casino_selection: emstat.HMMSelection, tmp_path: Path
) -> None:
    pytest.importorskip("pypandoc", reason="the report extra is not installed")
    pytest.importorskip("typst", reason="the report extra is not installed")
    report = tmp_path / "out" / "casino.html"
    result = runner.invoke(
        app,
        [
            "hmm",
            str(casino_csv),
            "--k",
            "1:2",
            *CASINO,
            "--by",
            "aic",
            "--report",
            str(report),
            "--pdf",
        ],
    )
    assert result.exit_code == 0, result.output
    for suffix in (".qmd", ".html", ".pdf"):
        assert report.with_suffix(suffix).is_file(), suffix
    figures = report.parent / "casino_figures"
    for name in ("state-path", "transitions", "emission-face", "trace", "criteria-by-k"):
        assert (figures / f"{name}.png").stat().st_size > 2000, name
    qmd = report.with_suffix(".qmd").read_text()
    best = casino_selection.best
    table = casino_selection.table.set_index("k")
    assert fmt_fixed(table.loc[1, "bic"], 2) in qmd and fmt_fixed(table.loc[2, "aic"], 2) in qmd
    assert fmt_fixed(best.loglik, 4) in qmd
    trans = best.transitions.to_numpy()
    assert fmt_sig(trans[0, 1]) in qmd and fmt_sig(trans[1, 0]) in qmd
    html = report.with_suffix(".html").read_text()
    assert fmt_fixed(best.loglik, 4) in html and "data:image/png;base64" in html
    assert "report: " in result.output


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return result.output.replace("\n", " ")


def test_unknown_column_is_one_line(casino_csv: Path) -> None:
    output = one_line_error(["hmm", str(casino_csv), "--k", "2", "--columns", "nosuch"])
    assert "nosuch" in output


def test_bad_choice_criterion_is_one_line(casino_csv: Path) -> None:
    output = one_line_error(["hmm", str(casino_csv), "--k", "2", *CASINO, "--by", "likelihood"])
    assert "--by" in output and "bic, aic, icl" in output


def test_sequence_column_with_a_missing_id_is_one_line(tmp_path: Path) -> None:
    frame = emstat.load_dataset("casino").head(40).copy()
    frame["session"] = frame["session"].astype(float)
    frame.loc[7, "session"] = float("nan")
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    output = one_line_error(["hmm", str(path), "--k", "2", *CASINO])
    assert "session" in output


def test_report_path_is_refused_before_fitting(casino_csv: Path, tmp_path: Path) -> None:
    output = one_line_error(
        ["hmm", str(casino_csv), "--k", "2", *CASINO, "--report", str(tmp_path / "x.docx")]
    )
    assert re.search(r"\.html, \.pdf or \.qmd", output)


def test_existing_save_file_is_kept(casino_csv: Path, tmp_path: Path) -> None:
    saved = tmp_path / "fit.json"
    saved.write_text("mine")
    output = one_line_error(["hmm", str(casino_csv), "--k", "2", *CASINO, "--save", str(saved)])
    assert "--overwrite" in output
    assert saved.read_text() == "mine"


def test_stopping_rule_options_reach_the_fit(casino_csv: Path) -> None:
    from emstat.engine import EMControl

    result = runner.invoke(
        app,
        ["hmm", str(casino_csv), "--k", "2", *CASINO, "--criterion", "abs", "--tol", "1e-3",
         "--max-iter", "3", "--n-init", "2", "--seed", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert EMControl(tol=1e-3, criterion="abs", max_iter=3).describe() in result.output
    assert "init: kmeans++" in result.output
