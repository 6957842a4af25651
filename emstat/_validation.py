"""Turning what a user passes into clean arrays, or one clear error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError

__all__ = [
    "NumericData",
    "as_numeric_data",
    "check_k",
    "count_distinct_rows",
    "count_distinct_sorted",
    "describe_labels",
]


@dataclass(frozen=True)
class NumericData:
    """A float matrix with the labels it came with."""

    values: np.ndarray  # (n, d) float64
    columns: list[str]
    index: pd.Index

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def d(self) -> int:
        return int(self.values.shape[1])


def describe_labels(labels: Sequence[Any], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 4 more`` — for messages that name rows or columns."""
    shown = ", ".join(
        repr(label) if isinstance(label, str) else str(label) for label in labels[:limit]
    )
    rest = len(labels) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def _as_frame(data: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "x")
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        array = np.asarray(data)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise InputError(f"data must be 1-D or 2-D, got an array with {array.ndim} dimensions")
        names = [f"x{j + 1}" for j in range(array.shape[1])] if array.shape[1] > 1 else ["x"]
        frame = pd.DataFrame(array, columns=names)
    frame = frame.rename(columns=str)
    if columns is not None:
        columns = list(columns)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"no column {describe_labels(missing)} in the data; its columns are "
                f"{describe_labels(list(frame.columns), 20)}"
            )
        frame = frame[columns]
    return frame


def _plain_array(
    data: Any, columns: Sequence[str] | None, expected: Sequence[str] | None
) -> NumericData | None:
    """A finite float array passes without a DataFrame round trip (simulations fit thousands).

    Anything else, or any problem, returns None: the DataFrame path then
    validates and names what is wrong.
    """
    if columns is not None or expected is not None or not isinstance(data, np.ndarray):
        return None
    if data.dtype.kind not in "fiu" or data.ndim not in (1, 2) or data.size == 0:
        return None
    values = np.array(data, dtype=float, ndmin=2, copy=True)
    if data.ndim == 1:
        values = values.T
    if not np.isfinite(values).all():
        return None
    d = values.shape[1]
    names = [f"x{j + 1}" for j in range(d)] if d > 1 else ["x"]
    return NumericData(values, names, pd.RangeIndex(values.shape[0]))


def _plain_frame(
    data: Any, columns: Sequence[str] | None, expected: Sequence[str] | None
) -> NumericData | None:
    """A DataFrame of finite float columns passes with one copy and one finiteness check.

    Anything else, or any problem, returns None, and the general path
    validates and names what is wrong.
    """
    if not isinstance(data, pd.DataFrame) or not data.columns.is_unique:
        return None
    wanted = columns if columns is not None else expected
    frame = data
    if wanted is not None:
        wanted = list(wanted)
        if not all(isinstance(c, str) and c in data.columns for c in wanted):
            return None
        frame = data[wanted]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        return None
    if not all(dtype.kind == "f" for dtype in frame.dtypes):
        return None
    values = frame.to_numpy(dtype=float, copy=True)
    if not np.isfinite(values).all():
        return None
    return NumericData(values, [str(c) for c in frame.columns], frame.index)


def as_numeric_data(
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
    expected_columns: Sequence[str] | None = None,
) -> NumericData:
    """Validate ``data`` (DataFrame, Series or array) as a finite float matrix.

    Errors name the offending columns and rows: non-numeric columns, NaN or
    infinite values, no rows.  ``expected_columns`` checks that new data has
    the columns a fit was made with.
    """
    fast = _plain_array(data, columns, expected_columns) or _plain_frame(
        data, columns, expected_columns
    )
    if fast is not None:
        return fast
    frame = _as_frame(data, columns if columns is not None else expected_columns)
    if frame.shape[1] == 0:
        raise InputError("the data have no columns")
    if frame.shape[0] == 0:
        raise InputError("the data have no rows")
    non_numeric = [
        c
        for c in frame.columns
        if not (
            pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        )
    ]
    if non_numeric:
        raise InputError(
            f"column {describe_labels(non_numeric)} is not numeric; choose numeric columns "
            "with columns=[...] (--columns on the command line)"
        )
    values = frame.to_numpy(dtype=float, copy=True)
    bad = ~np.isfinite(values)
    if allow_missing:
        bad &= ~np.isnan(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        kinds = "NaN/missing or infinite" if not allow_missing else "infinite"
        raise InputError(
            f"{kinds} values in column {describe_labels(list(dict.fromkeys(frame.columns[cols])))} "
            f"at row {describe_labels(list(dict.fromkeys(frame.index[rows])))}; "
            "drop or impute them first"
        )
    return NumericData(values, [str(c) for c in frame.columns], frame.index)


def count_distinct_sorted(values: np.ndarray) -> int:
    """Distinct values of a sorted 1-D array: one comparison of neighbours."""
    return int(np.count_nonzero(values[1:] != values[:-1])) + 1 if values.size else 0


def count_distinct_rows(x: np.ndarray) -> int:
    """Distinct rows of an (n, d) array; a sort for one column, where unique(axis=0) is slow."""
    if x.shape[1] == 1:
        return count_distinct_sorted(np.sort(x[:, 0]))
    return len(np.unique(x, axis=0))


def check_k(k: Any, distinct_rows: Callable[[], int], complete: bool = True) -> int:
    """Validate a number of components against the data (or a sample of it).

    ``distinct_rows`` counts the distinct rows; it is called only when k > 1.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"the number of components k must be a whole number, got {k!r}")
    k = int(k)
    if k < 1:
        raise InputError(f"the number of components k must be at least 1, got {k}")
    distinct = distinct_rows() if k > 1 else 1
    if k > distinct:
        where = "the data have" if complete else "a sample of the data has"
        raise InputError(f"k = {k} components need at least {k} distinct rows; {where} {distinct}")
    return k


def check_not_constant(data: NumericData) -> None:
    """Refuse columns with one value: every covariance would be singular."""
    ranges = np.ptp(data.values, axis=0)
    constant = [c for c, spread in zip(data.columns, ranges, strict=True) if spread == 0]
    if constant:
        raise InputError(
            f"column {describe_labels(constant)} is constant; a Gaussian mixture needs variation "
            "in every column (drop it)"
        )
