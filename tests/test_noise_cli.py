"""``emstat fit`` and ``emstat select`` with the noise component, through typer's runner."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app

runner = CliRunner()
REFERENCE = Path(__file__).resolve().parent / "reference"
DATA = REFERENCE / "mclust_noise_faithful.csv"
SPEC = json.loads((REFERENCE / "mclust_noise.json").read_text())["faithful"]
SELECT = ["select", str(DATA), "--noise-start", "noise_start", "--quiet", "--format", "csv"]


def test_fit_with_a_noise_start_column_saves_the_noise(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    result = runner.invoke(
        app,
        [
            "fit",
            str(DATA),
            "-k",
            "2",
            "-m",
            "VVV",
            "--noise-start",
            "noise_start",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    direct = emstat.fit_mixture(pd.read_csv(DATA), 2, "VVV", noise="noise_start")
    loaded = emstat.load_fit(out)
    assert loaded.noise_weight == pytest.approx(direct.noise_weight, rel=1e-14)
    assert loaded.vinv == pytest.approx(SPEC["Vinv"], rel=1e-13)
    assert "noise component (component 0): proportion" in result.output
    shown = runner.invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "noise component" in shown.output


def test_fit_with_noise_and_vinv_uses_the_default_start(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "fit",
            str(DATA),
            "-k",
            "2",
            "--columns",
            "eruptions,waiting",
            "--noise",
            "--vinv",
            "1e-4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Vinv = 0.0001" in result.output
    direct = emstat.fit_mixture(
        pd.read_csv(DATA), 2, columns=["eruptions", "waiting"], noise=True, Vinv=1e-4
    )
    assert f"{direct.loglik:.6f}" in result.output


def test_select_with_noise_runs_k_0_to_9_by_default_as_mclust() -> None:
    result = runner.invoke(
        app,
        [*SELECT, "--models", "EEE,VVV", "--mclust"],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output))
    assert sorted(set(table["k"])) == list(range(10))
    bic = table.set_index(["k", "model"])["bic"]
    expected = pd.DataFrame(SPEC["bic"], index=SPEC["bic_G"], columns=SPEC["bic_models"])
    for k in (0, 2, 3):
        for model in ("EEE", "VVV"):
            assert bic[(k, model)] == pytest.approx(expected.loc[k, model], rel=1e-6)


def test_select_with_noise_takes_k_from_0() -> None:
    result = runner.invoke(
        app,
        [*SELECT, "--models", "EII", "--k", "0:2"],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output))
    assert table["k"].tolist() == [0, 1, 2]
    n, vinv = SPEC["n"], SPEC["Vinv"]
    assert table["bic"].iloc[0] == pytest.approx(-(2 * n * math.log(vinv) - math.log(n)), rel=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["fit", "-k", "2", "--vinv", "0.01"],
            "--vinv is the noise component's density; add --noise",
        ),
        (
            ["fit", "-k", "2", "--noise-start", "noise_start", "--vinv", "0"],
            "Vinv must be a finite number > 0",
        ),
        (["fit", "-k", "2", "--noise-start", "nope"], "no noise start column 'nope'"),
        (["select", "--k", "0:2"], "--k must give numbers of components >= 1"),
    ],
)
def test_bad_noise_options_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, [args[0], str(DATA), *args[1:]])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
