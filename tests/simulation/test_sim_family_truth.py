"""Count formulas and the truth of a family mixture: draws, truth table, matching, separation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import emstat
from emstat.errors import InputError
from emstat.simulation.family_truth import family_truth_from_terms
from emstat.simulation.formula import parse_formula


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.6*Pois(2) + 0.4*Pois(9)", [("Pois", (2.0,), 0.6), ("Pois", (9.0,), 0.4)]),
        (
            "0.3*Bin(20,0.15) + 0.5*Bin(20,0.5) + 0.2*Bin(20,0.85)",
            [("Bin", (20.0, 0.15), 0.3), ("Bin", (20.0, 0.5), 0.5), ("Bin", (20.0, 0.85), 0.2)],
        ),
        ("Pois(1) + Pois(4)", [("Pois", (1.0,), 0.5), ("Pois", (4.0,), 0.5)]),
    ],
)
def test_count_formulas_parse(formula: str, expected: list[tuple]) -> None:
    terms = parse_formula(formula)
    assert [(t.distribution, t.args, t.weight) for t in terms] == expected


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("0.5*Pois(0) + 0.5*Pois(2)", "rate 0 must be positive"),
        ("0.5*Bin(10,1.2) + 0.5*Bin(10,0.5)", "probability 1.2 must be between 0 and 1"),
        ("0.5*Bin(2.5,0.2) + 0.5*Bin(2.5,0.5)", "trials 2.5 must be a whole number"),
        ("0.5*Bin(10,0.2) + 0.5*Bin(12,0.5)", "same number of trials"),
        ("0.5*Pois(2) + 0.5*N(0,1)", "one distribution"),
        ("0.5*Poisson(2) + 0.5*Pois(3)", "expected '('"),
        ("0.5*N(1e999,1) + 0.5*N(0,1)", "at character 7"),
        ("1e999*Pois(2)", "the weight must be finite"),
    ],
)
def test_bad_count_formulas_are_one_clear_error(formula: str, words: str) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(")) as caught:
        parse_formula(formula)
    assert "the the" not in str(caught.value)


def test_draws_follow_the_true_mixture() -> None:
    truth = family_truth_from_terms(parse_formula("0.3*Bin(20,0.15) + 0.7*Bin(20,0.6)"))
    data, labels = truth.draw(40_000, np.random.default_rng(1))
    assert list(data.columns) == ["x"]
    counts = np.bincount(data["x"].astype(int), minlength=21) / len(data)
    expected = 0.3 * stats.binom.pmf(np.arange(21), 20, 0.15) + 0.7 * stats.binom.pmf(
        np.arange(21), 20, 0.6
    )
    assert np.max(np.abs(counts - expected)) < 0.01
    assert abs(np.mean(labels == 0) - 0.3) < 0.01


def test_truth_table_is_in_the_order_of_a_fits_params() -> None:
    truth = family_truth_from_terms(parse_formula("0.6*Pois(2) + 0.4*Pois(9)"))
    data, _ = truth.draw(3000, np.random.default_rng(2))
    fit = emstat.fit_mixture(data, k=2, **truth.fit_options())
    names, truths = truth.truth_table()
    assert names == list(fit.params["parameter"].iloc[:2])
    match = truth.match(fit)
    aligned = np.empty_like(truths)
    aligned[match] = fit.params["estimate"].to_numpy().reshape(2, 2)
    np.testing.assert_allclose(aligned, truths, rtol=0.1)


def test_separation_scales_log_rates_about_their_centre() -> None:
    truth = family_truth_from_terms(parse_formula("0.5*Pois(1) + 0.5*Pois(4)"))
    rates = truth.separated(2.0).components[0][:, 0]
    centre = 0.5 * (np.log(1) + np.log(4))
    np.testing.assert_allclose(np.log(rates), centre + 2 * (np.log([1, 4]) - centre))
    assert truth.separated(1.0) is truth


def test_a_poisson_study_recovers_the_truth_and_covers(tmp_path: object) -> None:
    """The data-generating truth as the oracle: small bias, ~95% coverage, k = 2 chosen."""
    from pathlib import Path

    out = Path(str(tmp_path)) / "sim_pois"
    summary = emstat.simulate(
        "0.6*Pois(2) + 0.4*Pois(9)",
        n=500,
        reps=200,
        k=2,
        select_k=[1, 2, 3],
        seed=3,
        out_dir=out,
    )
    assert set(summary["model"]) == {"poisson"}
    assert (summary["aligned_by"] == "hungarian-link-scale").all()
    rates = summary[summary["parameter"] == "rate[x]"].set_index("truth")
    assert abs(rates.loc[2.0, "bias"]) < 0.05 and abs(rates.loc[9.0, "bias"]) < 0.1
    assert summary["coverage"].between(0.90, 0.99).all()  # 200 reps: sd of a share ~0.015
    import pandas as pd

    chosen = pd.read_csv(out / "selection_summary.csv")
    bic = chosen[(chosen["criterion"] == "bic") & (chosen["k_y"] == 2)]  # k_y: the k chosen
    assert float(bic["share"].iloc[0]) > 0.9


def test_the_binomial_study_of_the_command_line(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from emstat.cli import app

    out = Path(str(tmp_path)) / "sim_bin"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--mixture",
            "0.3*Bin(20,0.15) + 0.5*Bin(20,0.5) + 0.2*Bin(20,0.85)",
            "--n",
            "300",
            "--reps",
            "40",
            "--k",
            "3",
            "--seed",
            "1",
            "--out-dir",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv")
    probs = summary[summary["parameter"] == "prob[x]"]
    np.testing.assert_allclose(probs["mean"], [0.15, 0.5, 0.85], atol=0.02)
    assert (summary["n_ok"] == 40).all()
    refused = CliRunner().invoke(
        app,
        [
            "simulate",
            "--mixture",
            "0.5*Pois(2) + 0.5*Pois(9)",
            "--n",
            "50",
            "--reps",
            "2",
            "--model",
            "VVV",
            "--out-dir",
            str(out) + "_x",
            "-q",
        ],
    )
    assert refused.exit_code == 2 and "no covariance models" in refused.output
