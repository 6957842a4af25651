"""Live cross-checks against R (mclust; cat where installed) through rpy2.

Skipped with the reason when rpy2, R or mclust is missing; CI installs them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

from emstat import _r
from emstat.errors import RError

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust")]

REFERENCE = Path(__file__).resolve().parent / "reference"
DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


# --------------------------------------------------------------------------- bridge


def test_dataframe_round_trip_keeps_names_levels_and_missing() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, -3.25, 0.0],
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "group": pd.Categorical(["lo", None, "hi", "lo"], categories=["lo", "mid", "hi"]),
            "grade": pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a"], ordered=True),
            "flag": pd.array([True, False, None, True], dtype="boolean"),
            "label": np.array(["p", None, "r", "s"], dtype=object),
            "a b": [1.0, 2.0, 3.0, 4.0],
        },
        index=pd.Index(["r1", "r2", "r3", "r4"]),
    )
    rdf = _r.to_r_dataframe(frame)
    ro = _r.r_session()
    assert list(ro.r["names"](rdf)) == list(frame.columns)  # no make.names
    assert list(ro.r["levels"](rdf.rx2("group"))) == ["lo", "mid", "hi"]
    assert bool(ro.r["is.ordered"](rdf.rx2("grade"))[0])
    assert list(ro.r["row.names"](rdf)) == ["r1", "r2", "r3", "r4"]
    assert int(ro.r["sum"](ro.r["is.na"](rdf.rx2("x")))[0]) == 1
    back = _r.from_r_dataframe(rdf)
    assert list(back.columns) == list(frame.columns)
    assert list(back.index) == ["r1", "r2", "r3", "r4"]
    assert back["group"].cat.categories.tolist() == ["lo", "mid", "hi"]
    assert back["grade"].cat.ordered and back["grade"].cat.categories.tolist() == ["c", "b", "a"]
    assert back["group"].isna().tolist() == [False, True, False, False]
    np.testing.assert_array_equal(back["x"].to_numpy(), frame["x"].to_numpy())
    assert back["count"].tolist()[0] == 1 and back["count"].isna().tolist()[1]
    assert back["flag"].isna().tolist() == [False, False, True, False]
    assert back["label"].isna().tolist() == [False, True, False, False]
    assert back["label"].iloc[0] == "p"


def test_default_index_gives_automatic_row_names() -> None:
    back = _r.from_r_dataframe(_r.to_r_dataframe(pd.DataFrame({"v": [1.0, 2.0]})))
    assert isinstance(back.index, pd.RangeIndex)


def test_r_error_comes_back_as_one_line_with_rs_message() -> None:
    _r.require_r_package("mclust")
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [2.0, 3.0, 4.0, 1.0]})
    with pytest.raises(RError, match=r"NA/NaN/Inf in foreign function call") as info:
        _r.r_call("mclust::Mclust", _r.to_r_dataframe(frame), verbose=False)
    assert "\n" not in str(info.value)
    with pytest.raises(RError, match="invalid model name"):
        _r.r_call(
            "mclust::Mclust",
            _r.to_r_dataframe(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]})),
            modelNames=_r.to_r_vector(["XYZ"]),
            verbose=False,
        )


def test_mclust_on_a_character_column_is_not_an_error_in_mclust_6() -> None:
    """mclust 6.0 turns a character column into codes (data.matrix) instead of failing."""
    frame = pd.DataFrame({"a": [1.0, 2.5, 3.0, 4.5, 5.0, 6.5], "b": list("xyzwvu")})
    out = _r.r_call("mclust::Mclust", _r.to_r_dataframe(frame), G=1, verbose=False)
    assert int(out.value.rx2("d")[0]) == 2


# --------------------------------------------------------------------------- mclust


def _check(frame: pd.DataFrame, **kwargs: object):  # type: ignore[no-untyped-def]
    from emstat.crosscheck import mclust

    return mclust(frame, **kwargs)  # type: ignore[arg-type]


def test_faithful_all_cells_agree() -> None:
    check = _check(pd.read_csv(DATA / "faithful.csv"))
    assert len(check.table) == 9 * 14
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-10
    assert check.emstat_choice == check.r_choice == ("EEE", 3)
    row = check.table[(check.table["model"] == "EEE") & (check.table["k"] == 3)].iloc[0]
    assert row["bic_r"] == pytest.approx(-2314.316296, abs=1e-5)
    assert row["n_iter_emstat"] == row["n_iter_r"]
    # same start: R's own hc for n <= 2000; identical iteration counts everywhere
    assert (check.table["n_iter_emstat"] == check.table["n_iter_r"]).all()
    assert "mclust_compatible=True" in check.summary()


def test_iris_four_dimensions_agree_in_every_model() -> None:
    # d = 4 exercises mclust's iterative M-steps (VVE's included) off the 2-D path.
    _r.r_session()
    import rpy2.robjects as ro

    iris = _r.from_r_dataframe(ro.r("datasets::iris[, 1:4]"))
    check = _check(iris, k=range(1, 5))
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-10
    fitted = check.table.dropna(subset=["bic_r"])
    assert (fitted["n_iter_emstat"] == fitted["n_iter_r"]).all()


def test_acidity_1d_agrees() -> None:
    check = _check(pd.read_csv(DATA / "acidity.csv"))
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-9
    assert check.emstat_choice == check.r_choice == ("E", 2)
    assert check.table["max_diff_means"].max() < 1e-8


def test_more_than_2000_rows_with_shared_subset_and_hc_pairs() -> None:
    rng = np.random.default_rng(7)
    n = 2600
    labels = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    means = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    x = means[labels] + rng.normal(size=(n, 2)) @ np.array([[1.0, 0.3], [0.0, 0.8]])
    check = _check(pd.DataFrame(x, columns=["a", "b"]), k=range(1, 5))
    assert "subset of 2000 rows" in check.start
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-10
    assert check.emstat_choice == check.r_choice == ("EEE", 3)
    # as Mclust: the M-step on the subset, then me() from the E-step on all rows
    fitted = check.table.dropna(subset=["bic_r"])
    assert (fitted["n_iter_emstat"] == fitted["n_iter_r"]).all()


def test_singular_cells_are_nan_in_the_same_places() -> None:
    frame = pd.read_csv(REFERENCE / "crosscheck_duplicates.csv")
    check = _check(frame, k=range(1, 5))
    table = check.table
    singular = table[table["verdict"] == "both singular"]
    assert len(singular) == 24
    assert {"EVE", "VVE", "EVV", "VVV"} == set(singular[singular["k"] == 2]["model"])
    assert table["bic_emstat"].isna().equals(table["bic_r"].isna())
    assert check.n_disagree == 0
    assert check.emstat_choice == check.r_choice == ("EII", 3)
    assert check.max_bic_rel_diff < 1e-6


# --------------------------------------------------------------------------- CLI


def test_cli_mclust_agrees_and_exits_0() -> None:
    from emstat.cli.crosscheck import crosscheck_app

    result = CliRunner().invoke(
        crosscheck_app, ["mclust", str(DATA / "faithful.csv"), "--k", "1:3", "--models", "EEE,VVV"]
    )
    assert result.exit_code == 0, result.output
    assert "AGREE" in result.output
    assert "mclust_compatible=True" in result.output


def test_cli_mclust_exits_1_on_disagreement() -> None:
    from emstat.cli.crosscheck import crosscheck_app

    # a tolerance of 0 cannot be met by VEI's iterative M-step, which stops on another rule
    result = CliRunner().invoke(
        crosscheck_app,
        ["mclust", str(DATA / "faithful.csv"), "--k", "8", "--models", "VEI", "--tol", "0"],
    )
    assert result.exit_code == 1, result.output
    assert "DISAGREE" in result.output


# --------------------------------------------------------------------------- cat


def _cat_installed() -> bool:
    return _r.r_has_package("cat")


def test_cat_missing_is_one_clear_line_and_exit_3() -> None:
    if _cat_installed():
        pytest.skip("R's cat is installed here; the missing-package path cannot be shown")
    from emstat.cli.crosscheck import crosscheck_app

    result = CliRunner().invoke(
        crosscheck_app, ["cat", str(REFERENCE / "cat_crimes.csv"), "--counts", "N"]
    )
    assert result.exit_code == 3
    assert result.output.strip() == (
        "error: R package 'cat' is not installed; install.packages('cat') in R"
    )


def test_cat_function_raises_the_missing_package_error() -> None:
    if _cat_installed():
        pytest.skip("R's cat is installed here")
    from emstat._r import RPackageMissingError
    from emstat.crosscheck import cat

    with pytest.raises(RPackageMissingError, match=r"install.packages\('cat'\) in R"):
        cat(pd.read_csv(REFERENCE / "cat_crimes.csv"), counts="N")


def test_cat_inputs_seen_by_base_r() -> None:
    """prelim.cat's inputs, checked in R with base functions: NA pattern, counts, table."""
    from emstat.crosscheck import cat_inputs, margins_vector

    frame = pd.read_csv(REFERENCE / "cat_crimes.csv")
    ins = cat_inputs(frame, counts="N")
    ro = _r.r_session()
    x = _r.to_r_matrix(ins.x, ins.variables)
    assert list(ro.r["colnames"](x)) == ["V1", "V2"]
    na_by_column = np.asarray(ro.r["colSums"](ro.r["is.na"](x)))
    np.testing.assert_array_equal(na_by_column, np.isnan(ins.x).sum(axis=0))
    complete = ro.r(
        "function(x, n) { ok <- stats::complete.cases(x); "
        "as.vector(xtabs(n[ok] ~ x[ok, 1] + x[ok, 2])) }"
    )
    counts = np.asarray(complete(x, ro.vectors.FloatVector(ins.counts)))
    # the complete cases of crimes, in R's column-major order
    assert counts.tolist() == [392.0, 76.0, 55.0, 38.0]
    assert float(ro.r["sum"](ro.vectors.FloatVector(ins.counts))[0]) == 756.0
    vec = margins_vector([["V1"], ["V2"]], ins.variables)
    terms = ro.r("function(m) lapply(split(m[m != 0], cumsum(m == 0)[m != 0]), as.integer)")(
        ro.vectors.IntVector(vec)
    )
    assert [list(t) for t in terms] == [[1], [2]]


@pytest.mark.skipif("not _cat_installed()", reason="R package cat is not installed")
def test_cat_live_crimes_agrees() -> None:
    from emstat.crosscheck import cat

    frame = pd.read_csv(REFERENCE / "cat_crimes.csv")
    assert cat(frame, counts="N").agree
    assert cat(frame, margins=[["V1"], ["V2"]], counts="N").agree


def test_singular_tiny_scale_cells_agree_live() -> None:
    """Data scaled by 2^-17: mclust's absolute sqrt(eps) tests make EVE, VVE, EVV, VEE NA.

    One component is fitted in closed form on both sides, without those tests.
    """
    check = _check(pd.read_csv(REFERENCE / "singular_tiny.csv"), k=range(1, 7))
    table = check.table
    assert len(table) == 6 * 14
    assert table["verdict"].isin(["agree", "both singular"]).all(), check.summary()
    singular = table[table["verdict"] == "both singular"]
    assert {"EVE", "VVE", "EVV", "VEE"} <= set(singular["model"])
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-6
    assert check.emstat_choice == check.r_choice == ("EII", 2)
