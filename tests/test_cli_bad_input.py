"""Bad input on the command line: one line, a non-zero exit, no traceback, files kept."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat._io import read_table_with_notes
from emstat.cli import app
from emstat.errors import InputError

runner = CliRunner()


@pytest.fixture
def faithful_csv() -> Path:
    return emstat.datasets.dataset_path("faithful")


def one_line_error(args: list[str]) -> str:
    """Run the CLI; check it failed as one line without a traceback; return that line."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return result.output.replace("\n", "")


# --- seeds, k, models, columns ----------------------------------------------------
@pytest.mark.parametrize("command", ["fit", "select"])
def test_negative_seed(command: str, faithful_csv: Path) -> None:
    output = one_line_error([command, str(faithful_csv), "--k", "2", "--seed", "-1"])
    assert "seed must be a whole number >= 0 or None, got -1" in output


def test_models_that_name_nothing(faithful_csv: Path) -> None:
    output = one_line_error(["select", str(faithful_csv), "--k", "1:2", "--models", ","])
    assert "no model named in --models" in output
    assert "degenerate" not in output


def test_unknown_model_in_select_lists_the_choices(faithful_csv: Path) -> None:
    output = one_line_error(["select", str(faithful_csv), "--k", "1:2", "--models", "EEE,XYZ"])
    assert "unknown covariance model 'XYZ'; valid names for d=2: EII" in output


def test_columns_that_name_nothing(faithful_csv: Path) -> None:
    output = one_line_error(["fit", str(faithful_csv), "--k", "2", "--columns", ", ,"])
    assert "no column named in --columns" in output


@pytest.mark.parametrize("command", ["fit", "select"])
def test_a_column_named_twice(command: str, faithful_csv: Path) -> None:
    args = [command, str(faithful_csv), "--k", "2", "--columns", "waiting,waiting"]
    output = one_line_error(args)
    assert "column 'waiting' is named twice" in output
    assert "not numeric" not in output


def test_a_header_that_names_a_column_twice(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("waiting,waiting\n1,2\n3,4\n5,7\n")
    output = one_line_error(["fit", str(path), "--k", "1"])
    assert f"column 'waiting' is named twice in the header of '{path}'" in output


def test_select_with_k_beyond_the_distinct_rows_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "eight.csv"
    pd.DataFrame({"a": [1.0, 2, 3, 4, 5, 6, 7, 8], "b": [2.0, 1, 4, 3, 6, 5, 8, 9]}).to_csv(
        path, index=False
    )
    result = runner.invoke(app, ["select", str(path), "--k", "1:9", "--models", "EII"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^9\s+NA$", result.output, re.MULTILINE), result.output
    assert re.search(r"^7\s+-?\d+\.\d+$", result.output, re.MULTILINE), result.output
    assert "best: model EII" in result.output


# --- output paths are checked before the fit --------------------------------------
@pytest.mark.parametrize("command", ["fit", "select"])
def test_out_into_a_missing_folder(command: str, faithful_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "fit.json"
    output = one_line_error([command, str(faithful_csv), "--k", "2", "--out", str(out)])
    assert f"there is no folder '{out.parent}'" in output
    assert "Gaussian mixture" not in output  # refused before fitting
    assert not out.parent.exists()


@pytest.mark.parametrize("command", ["fit", "select"])
def test_out_onto_a_folder(command: str, faithful_csv: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    output = one_line_error([command, str(faithful_csv), "--k", "2", "--out", str(tmp_path)])
    assert f"--out '{tmp_path}' is a folder" in output
    assert "Gaussian mixture" not in output
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_report_onto_a_folder(faithful_csv: Path, tmp_path: Path) -> None:
    output = one_line_error(["select", str(faithful_csv), "--k", "2", "--report", str(tmp_path)])
    assert f"'{tmp_path}' is a folder; a report path is a file" in output


def test_show_a_folder(tmp_path: Path) -> None:
    output = one_line_error(["show", str(tmp_path)])
    assert f"'{tmp_path}' is a folder; give a fit saved with --out" in output


def test_a_degenerate_fit_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    pd.DataFrame(
        {"a": [0.0, 0, 0, 1, 2, 3, 10, 10.5, 11, 20], "b": [0.0, 0, 0, 1, 3, 2, 10, 11, 10.2, 20]}
    ).to_csv(path, index=False)
    out = tmp_path / "fit.json"
    args = ["fit", str(path), "--k", "3", "--model", "VVV", "--out", str(out)]
    output = one_line_error(args)
    assert "the fit is degenerate (component 3's covariance is not positive definite)" in output
    assert not out.exists()


def test_a_scheduler_that_is_not_an_address(faithful_csv: Path) -> None:
    pytest.importorskip("dask.distributed")
    output = one_line_error(["fit", str(faithful_csv), "--k", "2", "--scheduler", "notanaddress"])
    assert "cannot connect to the Dask scheduler at 'notanaddress'" in output


# --- CSV files written with their row index ------------------------------------
def write_with_index(tmp_path: Path, start: int) -> Path:
    frame = emstat.load_dataset("faithful")
    frame.index = range(start, start + len(frame))
    path = tmp_path / f"indexed{start}.csv"
    frame.to_csv(path)  # pandas' default; R's write.csv writes "" for the same header
    return path


@pytest.mark.parametrize("start", [0, 1])
def test_a_row_index_column_is_left_out(tmp_path: Path, start: int) -> None:
    path = write_with_index(tmp_path, start)
    result = runner.invoke(app, ["fit", str(path), "--k", "2", "--model", "EEE"])
    assert result.exit_code == 0, result.output
    assert "note: column 1 is a row index and was left out" in result.output
    assert "d = 2" in result.output
    direct = emstat.fit_mixture(emstat.load_dataset("faithful"), k=2, model="EEE")
    assert f"{direct.loglik:.6f}" in result.output


def test_r_row_names_are_the_index(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('"","a","b"\n"Mazda",1,2\n"Fiat",3,5\n"VW",2,1\n')
    frame, notes = read_table_with_notes(path)
    assert list(frame.columns) == ["a", "b"]
    assert list(frame.index) == ["Mazda", "Fiat", "VW"]
    assert notes == ["column 1 is a row index and was left out"]


def test_select_and_catem_leave_the_row_index_out(tmp_path: Path) -> None:
    path = write_with_index(tmp_path, 1)
    result = runner.invoke(app, ["select", str(path), "--k", "1:2", "--models", "EEE"])
    assert result.exit_code == 0, result.output
    assert "note: column 1 is a row index and was left out" in result.output
    assert "columns eruptions, waiting " in result.output
    cat = tmp_path / "cat.csv"
    pd.DataFrame({"u": ["a", "b", "a", "b"] * 5, "v": ["x", "x", "y", "y"] * 5}).to_csv(cat)
    result = runner.invoke(app, ["catem", str(cat)])
    assert "note: column 1 is a row index and was left out" in result.output
    assert "Unnamed" not in result.output


def test_an_unnamed_column_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unnamed.csv"
    path.write_text(",a,b\n0.5,1,2\n0.5,3,5\n1.5,2,1\n")
    output = one_line_error(["fit", str(path), "--k", "1"])
    assert "column 1 of" in output and "has no name in the header and is not a row index" in output
    path.write_text("a,,b\n1,1,2\n2,3,5\n3,2,1\n")
    with pytest.raises(InputError, match=r"column 2 of .* has no name"):
        read_table_with_notes(path)


# --- the error wrapper ----------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["fit", "{data}", "--k", "0"],
        ["fit", "{data}", "--k", "2", "--n-init", "0"],
        ["fit", "{data}", "--k", "2", "--init", "bogus"],
        ["fit", "{data}", "--k", "2", "--chunk-rows", "0"],
        ["fit", "{data}", "--k", "2", "--max-iter", "0"],
        ["select", "{data}", "--k", "1:2", "--workers", "0"],
        ["select", "{data}", "--k", "3:1"],
        ["select", "{data}", "--k", "2", "--by", "nope"],
        ["show", "{missing}"],
    ],
)
def test_every_emstat_error_is_one_line(
    args: list[str], faithful_csv: Path, tmp_path: Path
) -> None:
    filled = [a.format(data=faithful_csv, missing=tmp_path / "none.json") for a in args]
    one_line_error(filled)


def test_streamed_files_leave_the_row_index_out(tmp_path: Path) -> None:
    frame = emstat.load_dataset("faithful")
    paths = [tmp_path / "p1.csv", tmp_path / "p2.csv"]
    frame.iloc[:100].to_csv(paths[0])
    frame.iloc[100:].to_csv(paths[1])
    with pytest.warns(UserWarning, match="column 1 is a row index and was left out"):
        streamed = emstat.fit_mixture([str(p) for p in paths], k=2, model="EEE")
    assert streamed.columns == ["eruptions", "waiting"]
    direct = emstat.fit_mixture(frame, k=2, model="EEE")
    assert streamed.loglik == pytest.approx(direct.loglik, rel=1e-9)
    result = runner.invoke(app, ["fit", *map(str, paths), "--k", "2", "--model", "EEE"])
    assert result.exit_code == 0, result.output
    assert f"warning: '{paths[0]}': column 1 is a row index and was left out" in result.output


def test_a_quoted_library_message_stays_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n")
    result = runner.invoke(app, ["fit", str(path), "--k", "1"])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot read")
    assert result.output.count("\n") == 1, repr(result.output)  # no blank line after it


def test_a_selection_without_a_usable_fit_says_why(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 1.0]}).to_csv(path, index=False)
    output = one_line_error(["select", str(path), "--k", "3:4", "--models", "EII"])
    assert "every fit was degenerate: 'k = 3 exceeds the 2 distinct rows'" in output
    assert ".reasons" not in output
