"""Arguments of the wrong shape and columns that cannot be categorical variables: one clear line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from emstat.categorical import fit_categorical
from emstat.cli import app
from emstat.errors import InputError

runner = CliRunner()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": ["x", "y", None, "x"], "b": [1, 2, 2, None], "n": [3, 4, 5, 6]},
        index=["r1", "r2", "r3", "r4"],
    )


def _one_line_error(frame: pd.DataFrame, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        fit_categorical(frame, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- argument shapes


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (
            {"margins": [None]},
            ["margins must be a list of lists of column names", "margin 1 is None"],
        ),
        ({"margins": [["a"], 3]}, ["margins must be a list of lists", "margin 2 is 3"]),
        ({"margins": 5}, ["margins must be a list of lists", "got 5"]),
        (
            {"structural_zeros": (1, 2)},
            ["structural_zeros must be a list of cells", "one level for each of ['a', 'b']", "1"],
        ),
        ({"structural_zeros": 7}, ["structural_zeros must be a list of cells", "got 7"]),
        ({"structural_zeros": [("x", [1])]}, ["[1] is not a level of 'b'"]),
        ({"variables": "ab"}, ["variables must be a list of column names"]),
        ({"as_category": "a"}, ["as_category must be a list of column names"]),
        ({"as_category": ["zz"]}, ["as_category names ['zz']"]),
    ],
)
def test_malformed_arguments_name_the_argument_and_the_shape(
    kwargs: dict[str, Any], words: list[str]
) -> None:
    message = _one_line_error(_frame(), counts="n", **kwargs)
    for word in words:
        assert word in message


def test_duplicated_column_names_are_refused() -> None:
    frame = pd.DataFrame([[0, 1, 1], [1, 0, 2], [1, 1, 3]], columns=["a", "a", "n"])
    assert "more than one column named 'a'" in _one_line_error(frame, counts="n")


# ------------------------------------------------------------------- stray values among codes


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([1.0, 2.0, 1.5, 2.0], "1.5"),
        (["1.0", "2.0", "one", "2.0"], "'one'"),
        ([1, 2, "one", 2], "'one'"),
        ([1, 2, 1.5, 2], "1.5"),
    ],
)
def test_a_stray_value_among_whole_number_levels_is_refused(values: list[Any], shown: str) -> None:
    frame = _frame().assign(b=pd.Series(values, index=_frame().index, dtype=object))
    if isinstance(values[0], float):
        frame["b"] = frame["b"].astype(float)
    message = _one_line_error(frame, counts="n")
    assert f"column 'b' has whole-number levels but holds {shown} at row 'r3'" in message
    assert "as_category=['b']" in message


def test_as_category_takes_every_value_as_a_level() -> None:
    frame = _frame().assign(b=[1.0, 2.0, 1.5, 2.0])
    res = fit_categorical(frame, "n", as_category=["b"])
    assert list(res.data.levels[1]) == [1.0, 1.5, 2.0]


def test_text_levels_with_a_few_numbers_are_still_levels() -> None:
    frame = _frame().assign(b=["low", "high", "3", "low"])
    res = fit_categorical(frame, "n")
    assert sorted(res.data.levels[1]) == ["3", "high", "low"]


def test_catem_refuses_a_word_in_a_column_of_codes(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("a,b\n1.0,1\n2.0,2\none,1\n2.0,2\n1.0,1\n")
    result = runner.invoke(app, ["catem", str(path)])
    assert result.exit_code == 2
    assert "column 'a' has whole-number levels but holds 'one' at row 2" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- a written row index


def _with_row_index(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.integers(0, 2, n), "b": rng.choice(["u", "v", "w"], n)})
    buffer = io.StringIO()
    frame.to_csv(buffer)  # pandas' default: the index goes in as an unnamed first column
    return pd.read_csv(io.StringIO(buffer.getvalue()))


def test_a_row_index_read_back_as_a_column_is_refused() -> None:
    frame = _with_row_index(30)
    assert frame.columns[0] == "Unnamed: 0"
    message = _one_line_error(frame)
    assert "column 'Unnamed: 0' has a different value in each of its 30 rows" in message
    assert "row index or an identifier" in message


def test_an_id_column_of_text_is_refused_even_as_a_categorical() -> None:
    frame = _with_row_index(25).drop(columns="Unnamed: 0")
    frame["id"] = pd.Categorical([f"p{i}" for i in range(25)])
    assert "column 'id' has a different value in each of its 25 rows" in _one_line_error(frame)


def test_a_one_way_table_with_counts_has_one_row_per_level() -> None:
    frame = pd.DataFrame({"age": range(30), "n": np.arange(30) + 1})
    res = fit_categorical(frame, "n")
    np.testing.assert_allclose(res.theta, frame["n"] / frame["n"].sum())


def test_few_rows_with_distinct_values_are_allowed() -> None:
    frame = pd.DataFrame({"a": list("abcdefgh"), "b": [0, 1] * 4})
    assert fit_categorical(frame).theta.shape == (8, 2)


def test_distinct_measurements_are_called_continuous_not_an_index() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=30), "b": rng.integers(0, 2, 30)})
    message = _one_line_error(frame)
    assert "column 'x' looks continuous: 30 distinct values" in message


def test_values_that_cannot_be_levels_are_named() -> None:
    frame = pd.DataFrame({"a": pd.Series([[1], [2], [1]], dtype=object), "b": [0, 1, 0]})
    assert "column 'a' holds values that cannot be levels" in _one_line_error(frame)


def test_the_hint_quotes_a_name_with_a_space_for_the_shell() -> None:
    frame = pd.DataFrame({"row id": range(30), "b": [0, 1] * 15})
    assert "--as-category 'row id'" in _one_line_error(frame)
