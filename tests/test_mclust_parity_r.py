"""mclust parity checked live against R's mclust through rpy2.

Skipped with the reason when rpy2, R or mclust is missing; the same facts
are checked without R in tests/test_mclust_parity.py from stored outputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

from emstat.errors import InputError
from emstat.mixture.hc import hc_merges, svd_transform

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust")]

REFERENCE = Path(__file__).resolve().parent / "reference"
DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _live_wreath() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mclust's wreath, R's Z and hc(wreath, "VVV")'s merges (0-based), from R itself."""
    import rpy2.robjects as ro

    ro.r("suppressPackageStartupMessages(library(mclust)); data(wreath, package = 'mclust')")
    X = np.asarray(ro.r("unname(as.matrix(wreath))"))
    h = ro.r('.emstat_h <- hc(wreath, modelName = "VVV", use = "SVD")')
    Z = np.asarray(ro.r('unname(attr(.emstat_h, "data"))'))
    pairs = np.asarray(ro.r("t(unclass(.emstat_h))[, 1:2]"), dtype=np.intp) - 1
    del h
    return X, Z, pairs


def test_live_hc_wreath_compatible_equals_mclust_and_exact_parts_at_997() -> None:
    X, Z, pairs = _live_wreath()
    stored = np.loadtxt(REFERENCE / "mclust_wreath.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(X, stored)
    np.testing.assert_array_equal(hc_merges(Z, mclust_compatible=True), pairs)
    np.testing.assert_array_equal(hc_merges(svd_transform(X), mclust_compatible=True), pairs)
    exact = hc_merges(Z)
    bad = np.flatnonzero(~(exact == pairs).all(axis=1))
    assert bad[0] == 996  # merge 997 of 999


def test_cli_crosscheck_mclust_wreath_agrees() -> None:
    from emstat.cli.crosscheck import crosscheck_app

    result = CliRunner().invoke(crosscheck_app, ["mclust", str(REFERENCE / "mclust_wreath.csv")])
    assert result.exit_code == 0, result.output
    assert "0 of 126 rows disagree: AGREE" in result.output
    assert "hcVVV" in result.output


def test_emcontrol_tol_1e8_faithful_every_cell_and_iteration() -> None:
    from emstat.crosscheck import mclust

    check = mclust(pd.read_csv(DATA / "faithful.csv"), em_tol=1e-8)
    assert len(check.table) == 9 * 14
    assert check.n_disagree == 0
    assert check.max_bic_rel_diff < 1e-10
    fitted = check.table.dropna(subset=["bic_r"])
    assert (fitted["n_iter_emstat"] == fitted["n_iter_r"]).all()
    assert "emControl(tol = 1e-08)" in check.summary()
    assert check.agree


def test_emcontrol_tol_1e8_banknote_live_matches_the_stored_table() -> None:
    import json

    from emstat.crosscheck import mclust

    frame = pd.read_csv(REFERENCE / "mclust_banknote.csv")
    check = mclust(frame, em_tol=1e-8)
    stored = json.loads((REFERENCE / "mclust_banknote.json").read_text())["tables"]["tol_1e8"]
    table = check.table.set_index(["k", "model"])
    for g, row in zip(stored["G"], stored["bic"], strict=True):
        for model, value in zip(stored["models"], row, strict=True):
            live = table.loc[(g, model), "bic_r"]
            assert (np.isnan(live) and value is None) or live == pytest.approx(value, rel=1e-12)
    assert check.agree
    assert check.max_bic_rel_diff < 1e-10
    # mclust's NA at G = 9, VEE (its Cholesky test of a rank-4 scatter) is emstat's too
    assert table.loc[(9, "VEE"), "verdict"] == "both singular"


def test_cli_crosscheck_mclust_banknote_agrees() -> None:
    from emstat.cli.crosscheck import crosscheck_app

    path = REFERENCE / "mclust_banknote.csv"
    result = CliRunner().invoke(crosscheck_app, ["mclust", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 of 126 rows disagree: AGREE" in result.output


def test_cli_crosscheck_em_tol() -> None:
    from emstat.cli.crosscheck import crosscheck_app

    args = ["mclust", str(DATA / "faithful.csv"), "--k", "2:4", "--models", "VEI,EVE,VVE"]
    tight = CliRunner().invoke(crosscheck_app, [*args, "--em-tol", "1e-8"])
    assert tight.exit_code == 0, tight.output
    assert "emControl(tol = 1e-08)" in tight.output
    assert "AGREE" in tight.output


def test_em_tol_out_of_range_is_one_clear_line() -> None:
    from emstat.crosscheck import mclust

    with pytest.raises(InputError, match="em_tol must be a number >= 0 and < 1"):
        mclust(pd.read_csv(DATA / "faithful.csv"), em_tol=1.5)
