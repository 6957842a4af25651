"""Cross-check helpers that need no R: alignment, verdicts, cat inputs, comparisons
against the frozen R outputs in tests/reference/, and the CLI without R."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.categorical.frontend import CAT_CONTROL
from emstat.cli.crosscheck import EXIT_MISSING, crosscheck_app
from emstat.cli.crosscheck import crosscheck_errors as one_line_errors
from emstat.crosscheck import cat_inputs, compare_cat, margins_vector
from emstat.crosscheck._mclust import (
    RCell,
    compare_mclust,
    hc_pairs_for_r,
    parameter_differences,
    relative_difference,
    verdict,
)
from emstat.errors import InputError, OptionalDependencyError
from emstat.mixture.align import align_components

REFERENCE = Path(__file__).resolve().parent / "reference"


def _json(name: str) -> dict:
    with open(REFERENCE / name, encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- mclust helpers


def test_align_components_undoes_a_permutation() -> None:
    a = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    b = a[[2, 0, 1]] + 1e-3
    perm = align_components(a, b)
    assert perm.tolist() == [1, 2, 0]
    np.testing.assert_allclose(b[perm], a + 1e-3)


def test_parameter_differences_after_alignment() -> None:
    w = np.array([0.3, 0.7])
    m = np.array([[0.0, 0.0], [4.0, 4.0]])
    c = np.stack([np.eye(2), 2 * np.eye(2)])
    # R's components in the other order, with small known errors
    dw, dm, dc = parameter_differences(
        (w, w[::-1] + np.array([0.0, 1e-4])),
        (m, m[::-1] + np.array([[0, 0], [2e-4, 0]])),
        (c, c[::-1] + 3e-4),
    )
    assert dw == pytest.approx(1e-4)
    assert dm == pytest.approx(2e-4)
    assert dc == pytest.approx(3e-4)


@pytest.mark.parametrize(
    ("ours", "theirs", "npar", "expected"),
    [
        (-100.0, -100.00001, (5, 5), "agree"),
        (-100.0, -100.001, (5, 5), "DISAGREE (BIC)"),
        (math.nan, math.nan, (5, 5), "both singular"),
        (math.nan, -100.0, (5, 5), "DISAGREE (emstat singular only)"),
        (-100.0, math.nan, (5, 5), "DISAGREE (R singular only)"),
        (-100.0, -100.0, (5, 6), "DISAGREE (parameter count)"),
    ],
)
def test_verdict(ours: float, theirs: float, npar: tuple[int, int], expected: str) -> None:
    assert verdict(ours, theirs, npar, tol=1e-6) == expected


def test_relative_difference() -> None:
    assert relative_difference(-200.0, -200.0002) == pytest.approx(1e-6, rel=1e-9)
    assert relative_difference(0.0, 0.0) == 0.0
    assert math.isnan(relative_difference(math.nan, 1.0))


def test_hc_pairs_for_r_is_one_based_two_rows() -> None:
    merges = np.array([[0, 3], [1, 2], [0, 1]])
    assert hc_pairs_for_r(merges).tolist() == [[1, 2, 1], [4, 3, 2]]


def test_compare_mclust_against_frozen_faithful_table() -> None:
    """emstat's select_mixture vs Mclust's frozen BIC table (R's cells built from it)."""
    table = _json("mclust_faithful.json")["runs"][0]["bic_table"]
    models = table["modelNames"]
    values = np.array(table["values"], dtype=float)
    ks = table["G"]
    frame = pd.read_csv(REFERENCE / "mclust_faithful.csv")
    sel = emstat.select_mixture(frame, k=ks, convention="mclust", mclust_compatible=True)
    cells = [
        RCell(m, k, math.nan, float(values[i, j]), sel.fits[(k, m)].n_params, math.nan)
        for i, k in enumerate(ks)
        for j, m in enumerate(models)
    ]
    out = compare_mclust(sel.fits, cells, tol=1e-6)
    assert len(out) == 9 * 14
    assert (out["verdict"] == "agree").all()
    assert out["bic_rel_diff"].max() < 1e-6
    row = out[(out["model"] == "EEE") & (out["k"] == 3)].iloc[0]
    assert row["bic_r"] == pytest.approx(-2314.316, abs=1e-3)


# --------------------------------------------------------------------------- cat helpers


def test_cat_inputs_codes_counts_and_missing() -> None:
    frame = pd.DataFrame(
        {
            "A": pd.Categorical(["x", "y", None, "y"], categories=["x", "y"]),
            "B": [2, 1, 1, None],
            "n": [5, 0, 3, 2],
        }
    )
    ins = cat_inputs(frame, counts="n")
    assert ins.variables == ("A", "B")
    assert ins.shape == (2, 2)
    np.testing.assert_array_equal(ins.x, [[1, 2], [np.nan, 1], [2, np.nan]])
    assert ins.counts.tolist() == [5.0, 3.0, 2.0]


def test_cat_inputs_refuses_an_unobserved_last_level() -> None:
    frame = pd.DataFrame(
        {"A": pd.Categorical(["x", "x", "y"], categories=["x", "y", "z"]), "B": [1, 2, 1]}
    )
    with pytest.raises(InputError, match="'z' is never observed"):
        cat_inputs(frame)


@pytest.mark.parametrize(
    ("margins", "variables", "expected"),
    [
        ([["V1"], ["V2"]], ["V1", "V2"], [1, 0, 2]),
        ([["M", "P"], ["D", "G"]], ["M", "P", "D", "G"], [1, 2, 0, 3, 4]),
        ([["G", "M"], "P"], ["M", "P", "D", "G"], [4, 1, 0, 2]),
        (None, ["V1", "V2"], None),
    ],
)
def test_margins_vector(margins: list | None, variables: list, expected: list | None) -> None:
    assert margins_vector(margins, variables) == expected


def test_margins_vector_rejects_unknown_names() -> None:
    with pytest.raises(InputError, match="no known variables"):
        margins_vector([["V9"]], ["V1", "V2"])


CAT_CASES = [
    ("cat_crimes.json", "cat_crimes.csv", "N", None, 0, None),
    ("cat_crimes.json", "cat_crimes.csv", "N", None, 1, [["V1"], ["V2"]]),
    ("cat_older4.json", "cat_older.csv", "Freq", ["M", "P", "D", "G"], 0, None),
    ("cat_older4.json", "cat_older.csv", "Freq", ["M", "P", "D", "G"], 1, [["M", "P"], ["D", "G"]]),
]


@pytest.mark.parametrize(("ref", "csv", "counts", "variables", "which", "margins"), CAT_CASES)
def test_compare_cat_with_frozen_r_outputs(
    ref: str, csv: str, counts: str, variables: list | None, which: int, margins: list | None
) -> None:
    estimate = _json(ref)["estimates"][which]
    frame = pd.read_csv(REFERENCE / csv)
    fit = emstat.fit_categorical(
        frame, counts, variables=variables, margins=margins, control=CAT_CONTROL
    )
    check = compare_cat(fit, estimate, tol=1e-6, call=estimate["r_call"])
    assert check.agree
    assert check.max_abs_diff < 1e-12
    assert check.loglik[1] == pytest.approx(estimate["loglik"], rel=1e-15)
    assert check.loglik[0] == pytest.approx(estimate["loglik"], rel=1e-12)
    assert check.iterations == (estimate["iterations"], float(estimate["iterations"]))
    # rows are in R's column-major order: the first variable varies fastest
    first = check.table.columns[0]
    assert check.table[first].iloc[0] != check.table[first].iloc[1]
    np.testing.assert_allclose(check.table["theta_r"], estimate["theta_colmajor"])
    assert "AGREE" in check.summary()


def test_compare_cat_reports_a_difference() -> None:
    estimate = dict(_json("cat_crimes.json")["estimates"][0])
    theta = np.array(estimate["theta_colmajor"])
    theta[[0, 1]] += [1e-3, -1e-3]
    estimate["theta_colmajor"] = theta.tolist()
    fit = emstat.fit_categorical(
        pd.read_csv(REFERENCE / "cat_crimes.csv"), "N", control=CAT_CONTROL
    )
    check = compare_cat(fit, estimate)
    assert not check.agree
    assert check.max_abs_diff == pytest.approx(1e-3, rel=1e-9)
    assert "DISAGREE" in check.summary()


def test_compare_cat_rejects_other_dimensions() -> None:
    estimate = dict(_json("cat_crimes.json")["estimates"][0], dim=[4, 1])
    fit = emstat.fit_categorical(
        pd.read_csv(REFERENCE / "cat_crimes.csv"), "N", control=CAT_CONTROL
    )
    with pytest.raises(InputError, match="dimensions"):
        compare_cat(fit, estimate)


# --------------------------------------------------------------------------- CLI


def test_missing_dependency_exits_with_code_3() -> None:
    import typer

    app = typer.Typer()

    @app.command()
    @one_line_errors
    def broken() -> None:
        raise OptionalDependencyError("'rpy2' is needed for this; pip install 'emstat[r]'")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == EXIT_MISSING
    assert "pip install 'emstat[r]'" in result.output
    assert "Traceback" not in result.output


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(crosscheck_app, ["mclust", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "no file" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_has_both_commands() -> None:
    result = CliRunner().invoke(crosscheck_app, ["--help"])
    assert result.exit_code == 0
    assert "mclust" in result.output and "cat" in result.output
