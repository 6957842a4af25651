"""The fast paths of input validation give what the general path gives."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from emstat._validation import (
    _as_frame,
    _plain_frame,
    as_numeric_data,
    check_bool,
    check_k,
    check_k_value,
    check_k_values,
    check_seed,
    check_whole,
)
from emstat.errors import InputError


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
        pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),  # nullable: may hold NA
        pd.DataFrame({"a": [1.0, 2.0], "b": [True, False]}),  # booleans are refused there
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


@pytest.mark.parametrize("columns", [None, ["i"], ["u", "f"]])
def test_integer_frame_matches_the_general_path(columns: list[str] | None) -> None:
    # a CSV of whole numbers reads as int64: it must not pay for the general path
    frame = pd.DataFrame(
        {
            "i": np.array([3, -1, 2**40], dtype=np.int64),
            "u": np.array([1, 2, 3], dtype=np.uint8),
            "f": [0.5, 1.5, 2.5],
        }
    )
    fast = _plain_frame(frame, columns, None)
    assert fast is not None
    values, names, index = general_path(frame, columns)
    np.testing.assert_array_equal(fast.values, values)
    assert fast.values.dtype == np.float64 and fast.columns == names
    assert fast.index.equals(index)


def test_integer_frame_still_validates() -> None:
    data = as_numeric_data(pd.DataFrame({"a": [1, 2, 3]}))
    np.testing.assert_array_equal(data.values, [[1.0], [2.0], [3.0]])


# --- one check of k, seeds and counts ----------------------------------------------
@pytest.mark.parametrize(
    ("k", "ks"),
    [(3, [3]), (np.int64(2), [2]), (2.0, [2]), (range(1, 4), [1, 2, 3]), ([2, 1, 2], [2, 1])],
)
def test_check_k_values_accepts(k: object, ks: list[int]) -> None:
    assert check_k_values(k) == ks
    assert all(type(v) is int for v in check_k_values(k))


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (True, "whole number, got True"),
        ([np.True_], "whole number, got np.True_"),
        (2.5, "whole number, got 2.5"),
        ([2.7], "whole number, got 2.7"),
        ("12", "whole number or a list of them, got '12'"),
        ([0], "at least 1, got 0"),
        ([-1.0], "at least 1, got -1.0"),
        ([], "at least one number of components"),
        (None, "whole number, got None"),
        (float("inf"), "whole number, got inf"),
    ],
)
def test_check_k_values_refuses(k: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        check_k_values(k)


def test_check_k_uses_the_same_rules() -> None:
    with pytest.raises(InputError, match=r"whole number, got 2\.5"):
        check_k(2.5, lambda: 10)
    assert check_k(2.0, lambda: 10) == 2
    assert check_k_value(np.int32(4)) == 4


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, np.float64(2.0)])
def test_check_seed_refuses(seed: object) -> None:
    with pytest.raises(InputError, match=r"^seed must be a whole number >= 0 or None, got "):
        check_seed(seed)


@pytest.mark.parametrize("seed", [None, 0, 7, np.uint64(2**63)])
def test_check_seed_accepts(seed: object) -> None:
    checked = check_seed(seed)
    assert checked is None if seed is None else checked == int(seed)  # type: ignore[call-overload]


def test_check_whole_and_check_bool() -> None:
    assert check_whole(np.int64(3), "workers") == 3
    with pytest.raises(InputError, match=r"^workers must be a whole number >= 1, got '2'$"):
        check_whole("2", "workers")
    with pytest.raises(InputError, match=r"^hc_subset must be a whole number >= 2, got 1$"):
        check_whole(1, "hc_subset", minimum=2)
    assert check_bool(np.bool_(True), "mclust_compatible") is True
    with pytest.raises(InputError, match=r"^mclust_compatible must be True or False, got 1$"):
        check_bool(1, "mclust_compatible")
