"""The fast paths of input validation give what the general path gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emstat._validation import _as_frame, _plain_frame, as_numeric_data


def general_path(
    data: pd.DataFrame, columns: list[str] | None
) -> tuple[np.ndarray, list[str], pd.Index]:
    frame = _as_frame(data, columns)
    return frame.to_numpy(dtype=float), [str(c) for c in frame.columns], frame.index


@pytest.mark.parametrize("columns", [None, ["b"], ["b", "a"]])
def test_float_frame_matches_the_general_path(columns: list[str] | None) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=6), "b": rng.normal(size=6).astype(np.float32)},
        index=[f"r{i}" for i in range(6)],
    )
    fast = _plain_frame(frame, columns, None)
    assert fast is not None
    values, names, index = general_path(frame, columns)
    np.testing.assert_array_equal(fast.values, values)
    assert fast.columns == names
    assert fast.index.equals(index)
    fast.values[0, 0] = 99.0  # a copy: the caller's frame is untouched
    assert frame.iloc[0, 0] != 99.0


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1.0, np.nan]}),
        pd.DataFrame({"a": [1, 2]}),  # integers take the general path (and pass there)
        pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}),
        pd.DataFrame(np.ones((2, 2)), columns=["a", "a"]),
        pd.DataFrame({"a": []}, dtype=float),
    ],
)
def test_anything_unusual_takes_the_general_path(frame: pd.DataFrame) -> None:
    assert _plain_frame(frame, None, None) is None


def test_non_string_labels_are_named_as_strings() -> None:
    fast = _plain_frame(pd.DataFrame({0: [1.0, 2.0]}), None, None)
    assert fast is not None and fast.columns == ["0"]


def test_missing_requested_column_takes_the_general_path() -> None:
    assert _plain_frame(pd.DataFrame({"a": [1.0]}), ["b"], None) is None


def test_integer_frame_still_validates() -> None:
    data = as_numeric_data(pd.DataFrame({"a": [1, 2, 3]}))
    np.testing.assert_array_equal(data.values, [[1.0], [2.0], [3.0]])
