"""The catem command (through typer's CliRunner) and the numpy kernels."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from emstat.categorical import fit_categorical, kernels
from emstat.categorical.kernels import IncompleteTable
from emstat.cli import app
from emstat.cli.catem import parse_margins

from ._refdata import REFERENCE, read_reference_json

runner = CliRunner()


def test_catem_prints_summary_and_writes_probabilities(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    result = runner.invoke(
        app,
        [
            "catem",
            str(REFERENCE / "cat_crimes.csv"),
            "--counts",
            "N",
            "--margins",
            "V1;V2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Iterations: 8" in result.output
    want = read_reference_json("cat_crimes.json")["estimates"][1]["theta_colmajor"]
    got = pd.read_csv(out)
    np.testing.assert_allclose(
        got["probability"].to_numpy().reshape(2, 2), np.reshape(want, (2, 2), order="F"), atol=1e-8
    )
    again = runner.invoke(
        app, ["catem", str(REFERENCE / "cat_crimes.csv"), "--counts", "N", "--out", str(out)]
    )
    assert again.exit_code != 0 and "--overwrite" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--counts", "N", "--margins", "V1;V9"], "unknown margin name"),
        (["--counts", "N", "--prior", "-1"], "prior must be"),
        (["--counts", "Q"], "count column 'Q'"),
    ],
)
def test_catem_reports_bad_input_in_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["catem", str(REFERENCE / "cat_crimes.csv"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_parse_margins() -> None:
    assert parse_margins("V1,V2; V3,V4") == [["V1", "V2"], ["V3", "V4"]]
    assert parse_margins(None) is None


def test_ipf_cycle_rakes_to_each_margin_in_turn() -> None:
    table = np.array([[10.0, 20.0], [30.0, 40.0]])
    fit = np.ones((2, 2))
    got = kernels.ipf_cycle(table, fit, [(0,), (1,)], zero_share=1e-12)
    # by hand: rows to (30, 70) -> [[15, 15], [35, 35]]; columns to (40, 60) -> x (40/50, 60/50)
    np.testing.assert_allclose(got, [[12.0, 18.0], [28.0, 42.0]])


def test_e_step_adds_over_chunks() -> None:
    rng = np.random.default_rng(0)
    theta = rng.random((2, 3))
    whole = IncompleteTable(
        shape=(2, 3),
        patterns=(
            kernels.PatternCounts((0, 1), rng.integers(0, 9, (2, 3)).astype(float)),
            kernels.PatternCounts((0,), np.array([4.0, 7.0])),
        ),
    )
    parts = [IncompleteTable(shape=(2, 3), patterns=(p,)) for p in whole.patterns]
    stats, ll = kernels.e_step(theta, whole)
    pieces = [kernels.e_step(theta, part) for part in parts]
    np.testing.assert_allclose(stats, sum(p[0] for p in pieces))
    assert ll == pytest.approx(sum(p[1] for p in pieces))
    assert stats.sum() == pytest.approx(whole.total)


@pytest.mark.parametrize("margins", [None, [["M", "P"], ["D", "G"]], [["M"], ["P"], ["D"], ["G"]]])
def test_loglik_never_decreases(margins: list[list[str]] | None) -> None:
    frame = pd.read_csv(REFERENCE / "cat_older.csv")
    res = fit_categorical(frame, "Freq", variables=["M", "P", "D", "G"], margins=margins)
    assert np.all(np.diff(res.trace) >= -1e-9 * np.abs(res.trace[1:]))


def test_loglinear_basis_counts_parameters() -> None:
    shape = (2, 3, 4)
    cells = np.arange(24)
    assert kernels.loglinear_basis(shape, [(0, 1), (2,)], cells).shape[1] == (6 - 1) + (4 - 1)
    assert kernels.loglinear_basis(shape, [(0, 1), (1, 2)], cells).shape[1] == 5 + 11 - 2
    assert kernels.loglinear_basis(shape, [(0, 1, 2)], cells).shape[1] == 23


def test_completed_table_keeps_observed_margins() -> None:
    rng = np.random.default_rng(4)
    theta = np.full((2, 2), 0.25)
    observed = np.array([5.0, 9.0])
    data = IncompleteTable((2, 2), (kernels.PatternCounts((1,), observed),))
    for _ in range(5):
        table = kernels.draw_completed_table(theta, data, rng)
        np.testing.assert_array_equal(table.sum(axis=0), observed)


def test_summary_and_repr() -> None:
    cells = list(itertools.product(["a", "b"], ["u", "v"]))
    frame = pd.DataFrame(cells * 3, columns=["x", "y"])
    res = fit_categorical(frame, prior=2.0)
    text = res.summary()
    assert "posterior mode" in text and "Log-posterior" in text
    assert "CategoricalResult" in repr(res)
