"""``emstat fit`` and ``emstat select`` on files with empty cells (--missing em|error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app

runner = CliRunner()
AIRQUALITY = Path(__file__).parent / "reference" / "mvn_missing_airquality.csv"


def test_fit_reads_empty_cells_as_missing_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    result = runner.invoke(app, ["fit", str(AIRQUALITY), "--k", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output.replace("\n", " ")
    assert "missing: 44 of 612 cells (7.2%) in 42 of 153 rows" in text
    assert "missing at random" in text
    saved = emstat.load_fit(out)
    assert saved.missing is not None and saved.missing.by_column["Ozone"] == 37
    direct = emstat.fit_mixture(pd.read_csv(AIRQUALITY), k=1)
    assert saved.loglik == pytest.approx(direct.loglik, rel=1e-12)


def test_fit_with_missing_error_refuses_and_names_the_cells() -> None:
    result = runner.invoke(app, ["fit", str(AIRQUALITY), "--k", "1", "--missing", "error"])
    assert result.exit_code == 2
    assert "NaN/missing or infinite values in column 'Ozone', 'Solar.R' at row 4" in (
        result.output.replace("\n", " ")
    )


def test_fit_with_an_unknown_missing_choice_names_the_choices() -> None:
    result = runner.invoke(app, ["fit", str(AIRQUALITY), "--k", "1", "--missing", "drop"])
    assert result.exit_code == 2
    assert "missing must be one of 'em', 'error', got 'drop'" in result.output.replace("\n", "")


def test_streamed_files_with_empty_cells(tmp_path: Path) -> None:
    frame = pd.read_csv(AIRQUALITY)
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    frame.iloc[:80].to_csv(paths[0], index=False)
    frame.iloc[80:].to_csv(paths[1], index=False)
    result = runner.invoke(app, ["fit", *map(str, paths), "--k", "1"])
    assert result.exit_code == 0, result.output
    assert "in 42 of 153 rows" in result.output.replace("\n", " ")


def test_a_file_with_a_column_never_observed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.nan})
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["fit", str(path), "--k", "1"])
    assert result.exit_code == 2
    assert "column 'b' is entirely missing (NaN in every row); drop it" in result.output


def test_select_with_empty_cells_and_missing_error() -> None:
    result = runner.invoke(
        app, ["select", str(AIRQUALITY), "--k", "1:2", "--models", "EEE,VVV", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "missing at random" in result.output
    refused = runner.invoke(
        app, ["select", str(AIRQUALITY), "--k", "1:2", "--missing", "error", "--quiet"]
    )
    assert refused.exit_code == 2
    assert "NaN/missing" in refused.output
