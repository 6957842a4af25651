"""The ``simulate`` command through typer's CliRunner, wrapped as emstat's CLI will wrap it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from emstat.cli import friendly_errors
from emstat.cli.simulate import simulate

from .conftest import EXAMPLE, SEPARATED

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(friendly_errors(simulate))
runner = CliRunner()


def test_runs_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "sim1"
    result = runner.invoke(
        app,
        ["--mixture", SEPARATED, "--n", "60", "--reps", "5", "--k", "2", "--model", "V",
         "--seed", "1", "--out-dir", str(out), "--workers", "1", "--select-k", "1:3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "mean[x]" in result.output and f"results in {out}" in result.output
    assert (out / "selection.parquet").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 6 and (summary["reps"] == 5).all()


def test_design_file_with_override(tmp_path: Path, design_toml: Path) -> None:
    result = runner.invoke(
        app, ["--design", str(design_toml), "--reps", "2", "--out-dir", str(tmp_path / "s"),
              "--quiet", "--workers", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == ""
    rows = pd.read_parquet(tmp_path / "s" / "replicates.parquet")
    assert rows["replicate"].nunique() == 2 and rows["scenario"].nunique() == 4


def test_help_says_variance() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "variance" in result.output and "--out-dir" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--mixture", "0.5*N(0,1) + 0.5*N(1 1)", "--n", "50", "--reps", "2"], "expected ','"),
        (["--mixture", "0.5*N(0,1) + 0.6*N(1,1)", "--n", "50", "--reps", "2"], "sum to 1.1"),
        (["--mixture", "0.5*N(0,1) + 0.5*N(1,-2)", "--n", "50", "--reps", "2"], "variance -2"),
        (["--mixture", EXAMPLE, "--n", "50", "--reps", "0"], "reps must be"),
        (["--mixture", EXAMPLE, "--n", "1", "--reps", "3"], "smaller than the number of comp"),
        (["--mixture", EXAMPLE, "--n", "x", "--reps", "3"], "--n takes whole numbers"),
        (["--n", "50", "--reps", "3"], "give either --mixture FORMULA or --design FILE"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, args: list[str], words: str) -> None:
    result = runner.invoke(app, [*args, "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error:")


def test_refuses_other_design_unless_overwrite(tmp_path: Path) -> None:
    base = ["--mixture", SEPARATED, "--n", "40", "--out-dir", str(tmp_path / "o"), "-j", "1"]
    assert runner.invoke(app, [*base, "--reps", "2", "-q"]).exit_code == 0
    refused = runner.invoke(app, [*base, "--reps", "3", "-q"])
    assert refused.exit_code == 2 and "different design" in refused.output
    assert runner.invoke(app, [*base, "--reps", "3", "-q", "--overwrite"]).exit_code == 0
