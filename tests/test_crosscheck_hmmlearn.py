"""``emstat crosscheck hmmlearn``: emstat and hmmlearn agree on the reference data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from emstat.cli import app
from emstat.crosscheck import hmmlearn
from emstat.crosscheck._hmmlearn import shared_start
from emstat.errors import InputError

pytest.importorskip("hmmlearn", reason="hmmlearn (the hmm extra) is not installed")

REFERENCE = Path(__file__).parent / "reference"
runner = CliRunner()


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REFERENCE / "hmm_gaussian.json").read_text())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hmm_gaussian.csv")


def test_crosscheck_agrees_on_the_reference_data(data: pd.DataFrame, reference: dict) -> None:
    check = hmmlearn(data, 2, columns=["x"], tol=1e-8)
    assert check.agree
    assert check.viterbi_agreement == 1.0
    table = check.table.set_index("quantity")
    assert (table["difference"] < 1e-9).all()
    # and both found the MLE the reference records (hmmlearn from another start, covars_prior=0)
    fitted = reference["fit_covars_prior_0"]["fitted"]
    tight = reference["fit_covars_prior_0"]["own_tight_mle"]
    assert table.loc["loglik", "emstat"] == pytest.approx(tight["loglik"], rel=1e-10)
    for i in range(2):
        assert table.loc[f"mean[x] {i + 1}", "emstat"] == pytest.approx(
            fitted["means"][i], rel=1e-6
        )
        assert table.loc[f"var[x] {i + 1}", "emstat"] == pytest.approx(
            fitted["variances"][i], rel=1e-6
        )
        for j in range(2):
            assert table.loc[f"to[{i + 1}->{j + 1}]", "emstat"] == pytest.approx(
                fitted["transmat"][i][j], abs=1e-6
            )
    viterbi = reference["fit_covars_prior_0"]["viterbi"]
    assert table.loc["viterbi log-prob", "emstat"] == pytest.approx(viterbi["log_prob"], rel=1e-9)


def test_crosscheck_many_sequences_agree(data: pd.DataFrame) -> None:
    frame = data.assign(run=np.repeat([1, 2, 3, 4], 250))
    check = hmmlearn(frame, 2, columns=["x"], sequence="run")
    assert check.n_sequences == 4 and check.agree


def test_crosscheck_command_says_agree(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "crosscheck",
            "hmmlearn",
            str(REFERENCE / "hmm_gaussian.csv"),
            "--k",
            "2",
            "--columns",
            "x",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "AGREE" in result.output and "100.00% of the steps" in result.output
    assert "covars_prior=0" in result.output


def test_crosscheck_says_differ_when_the_tolerance_is_impossible() -> None:
    result = runner.invoke(
        app,
        [
            "crosscheck",
            "hmmlearn",
            str(REFERENCE / "hmm_gaussian.csv"),
            "--k",
            "2",
            "--columns",
            "x",
            "--tol",
            "0",
            "--fit-tol",
            "1e-3",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "DIFFER" in result.output


def test_crosscheck_refuses_missing_values_in_one_line(tmp_path: Path, data: pd.DataFrame) -> None:
    gap = data.copy()
    gap.loc[5, "x"] = np.nan
    path = tmp_path / "gap.csv"
    gap.to_csv(path, index=False)
    result = runner.invoke(app, ["crosscheck", "hmmlearn", str(path), "--columns", "x"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: hmmlearn takes no missing values; drop the rows with NaN first"
    ]


def test_interleaved_sequences_are_refused(data: pd.DataFrame) -> None:
    frame = data.assign(run=np.tile([1, 2], 500))
    with pytest.raises(InputError, match="not together"):
        hmmlearn(frame, 2, columns=["x"], sequence="run")


def test_shared_start_is_quantile_classes() -> None:
    x = np.arange(10.0)[:, None]
    start = shared_start(x, 2)
    np.testing.assert_allclose(start.means[:, 0], [2.0, 7.0])
    np.testing.assert_allclose(start.covariances[:, 0, 0], [2.0, 2.0])
    np.testing.assert_allclose(start.transitions, [[0.8, 0.2], [0.2, 0.8]])
