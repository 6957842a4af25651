"""The families from the shell: emstat fit / select / show with --family, --trials, --exposure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app, parse_family

DATA = Path(__file__).resolve().parent.parent.parent / "data"
runner = CliRunner()


def test_fit_a_poisson_mixture_with_case_weights_saves_a_fit_that_loads(tmp_path: Path) -> None:
    out = tmp_path / "deaths.json"
    result = runner.invoke(
        app,
        [
            "fit",
            str(DATA / "deaths.csv"),
            "--family",
            "poisson",
            "--k",
            "2",
            "--columns",
            "deaths",
            "--weights",
            "days",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Poisson mixture" in result.output and "n = 1096" in result.output
    fit = emstat.load_fit(out)
    direct = emstat.fit_mixture(
        emstat.load_dataset("deaths"), k=2, family="poisson", columns=["deaths"], weights="days"
    )
    assert fit.loglik == pytest.approx(direct.loglik, rel=1e-14)
    shown = runner.invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "rate[deaths]" in shown.output


def test_select_binomial_with_a_trials_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = rng.integers(5, 15, size=300)
    heads = rng.binomial(n, np.where(rng.random(300) < 0.5, 0.2, 0.8))
    path = tmp_path / "coins.csv"
    pd.DataFrame({"heads": heads, "n": n}).to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "select",
            str(path),
            "--family",
            "binomial",
            "--trials",
            "n",
            "--columns",
            "heads",
            "--k",
            "1:4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "best: model binomial with k = 2" in result.output


def test_a_constant_number_of_trials_and_mixed_columns() -> None:
    assert parse_family("age=normal, visits=poisson") == {"age": "normal", "visits": "poisson"}
    assert parse_family("poisson") == "poisson"
    result = runner.invoke(
        app,
        [
            "fit",
            str(DATA / "carcinoma.csv"),
            "--family",
            "categorical",
            "--k",
            "2",
            "--init",
            "random",
            "--n-init",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Categorical mixture" in result.output and "prob[A=1]" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "negbin"], "unknown family 'negbin'"),
        (["--family", "poisson", "--columns", "nope"], "no column 'nope'"),
        (["--family", "deaths=poisson,=normal"], "column=family pairs"),
        (["--family", "binomial", "--columns", "deaths"], "needs its number of trials"),
        (["--family", "poisson", "--columns", "deaths", "--weights", "w"], "no weights column 'w'"),
        (["--family", "poisson", "--columns", "deaths", "--model", "VVV"], "covariance model"),
    ],
)
def test_bad_family_options_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["fit", str(DATA / "deaths.csv"), "--k", "2", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
