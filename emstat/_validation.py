"""Turning what a user passes into clean arrays, or one clear error."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError

__all__ = [
    "NumericData",
    "as_numeric_data",
    "check_bool",
    "check_k",
    "check_k_value",
    "check_k_values",
    "check_seed",
    "check_squares_finite",
    "check_whole",
    "count_distinct_rows",
    "count_distinct_sorted",
    "describe_labels",
]


_FLOAT_MAX = float(np.finfo(float).max)


@dataclass(frozen=True)
class NumericData:
    """A float matrix with the labels it came with."""

    values: np.ndarray  # (n, d) float64
    columns: list[str]
    index: pd.Index
    complete: bool = False  # every value was checked finite (no NaN to look for)

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


_WHAT_DATA_MAY_BE = (
    "data must be a DataFrame, a Series or an array (or, for data larger than memory, "
    "an iterator of chunks, a list of files or a Dask collection)"
)


def _as_array(data: Any) -> np.ndarray:
    """``data`` as an array, or an InputError saying what data may be."""
    if isinstance(data, (str, os.PathLike)):
        raise InputError(
            f"{_WHAT_DATA_MAY_BE}, got the path {str(data)!r}; pass a DataFrame; read the file "
            "with pandas.read_csv"
        )
    if isinstance(data, Mapping):
        raise InputError(f"{_WHAT_DATA_MAY_BE}, got a dict; pass pandas.DataFrame(data)")
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise InputError(f"{_WHAT_DATA_MAY_BE}; it cannot be read as a table: {exc}") from None
    if array.ndim == 0:
        raise InputError(f"{_WHAT_DATA_MAY_BE}, got a {type(data).__name__}")
    if array.ndim > 2:
        raise InputError(f"data must be 1-D or 2-D, got an array with {array.ndim} dimensions")
    return array


def _check_named_once(names: Sequence[Any], where: str) -> None:
    twice = list(dict.fromkeys(c for c in pd.Index(names)[pd.Index(names).duplicated()]))
    if twice:
        raise InputError(f"column {describe_labels(twice)} is named twice {where}")


def _as_frame(data: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "x")
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        array = _as_array(data)
        if array.ndim == 1:
            array = array[:, None]
        names = [f"x{j + 1}" for j in range(array.shape[1])] if array.shape[1] != 1 else ["x"]
        frame = pd.DataFrame(array, columns=names)
    frame = frame.rename(columns=str)
    if columns is not None:
        columns = list(columns)
        _check_named_once(columns, "in columns=[...] (--columns)")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"no column {describe_labels(missing)} in the data; its columns are "
                f"{describe_labels(list(frame.columns), 20)}"
            )
        wanted = frame.columns.isin(columns)
        _check_named_once(list(frame.columns[wanted]), "in the data")
        frame = frame[columns]
    else:
        _check_named_once(list(frame.columns), "in the data")
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
    return NumericData(values, names, pd.RangeIndex(values.shape[0]), complete=True)


def _plain_frame(
    data: Any, columns: Sequence[str] | None, expected: Sequence[str] | None
) -> NumericData | None:
    """A DataFrame of finite float or integer columns passes with one copy and one finiteness check.

    Anything else, or any problem, returns None, and the general path
    validates and names what is wrong.
    """
    if not isinstance(data, pd.DataFrame) or not data.columns.is_unique:
        return None
    wanted = columns if columns is not None else expected
    frame = data
    if wanted is not None:
        wanted = list(wanted)
        if len(set(wanted)) < len(wanted):
            return None
        if not all(isinstance(c, str) and c in data.columns for c in wanted):
            return None
        frame = data[wanted]
    if 0 in frame.shape:
        return None
    if not all(_plain_number(dtype) for dtype in _column_dtypes(frame)):
        return None
    values = frame.to_numpy(dtype=float, copy=True)
    if not np.isfinite(values).all():
        return None
    return NumericData(values, _column_names(frame.columns), frame.index, complete=True)


#: The last Index whose labels :func:`_column_names` listed, and their strings.
_LAST_NAMES: list[tuple[pd.Index, tuple[str, ...]]] = []


def _column_names(columns: pd.Index) -> list[str]:
    """The columns' labels as strings.

    Listing a string Index costs more than validating a small frame, and an
    Index is immutable: the last one's strings are kept, so the frames of a
    simulation, which share one Index, list it once.
    """
    last = _LAST_NAMES[0] if _LAST_NAMES else None
    if last is not None and last[0] is columns:
        return list(last[1])
    names = tuple(str(c) for c in columns)
    _LAST_NAMES[:] = [(columns, names)]
    return list(names)


def _plain_number(dtype: Any) -> bool:
    """A float column, or a NumPy integer column (which cannot hold a missing value)."""
    return bool(dtype.kind == "f" or (isinstance(dtype, np.dtype) and dtype.kind in "iu"))


def _column_dtypes(frame: pd.DataFrame) -> Iterable[Any]:
    """The columns' dtypes, from pandas' block manager where it has one.

    ``frame.dtypes`` builds a Series of them, which costs more than
    validating a small frame; the public attribute serves where the
    manager's method is missing.
    """
    dtypes = getattr(getattr(frame, "_mgr", None), "get_dtypes", None)
    if callable(dtypes):
        found = dtypes()
        if isinstance(found, np.ndarray) and found.shape == (frame.shape[1],):
            return list(found)
    return list(frame.dtypes)


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
    complex_columns = [c for c in frame.columns if pd.api.types.is_complex_dtype(frame[c])]
    if complex_columns:
        # Casting to float would drop the imaginary part without a word.
        raise InputError(
            f"column {describe_labels(complex_columns)} holds complex numbers; a mixture is "
            "fitted to real values (take .real, .imag or abs() first)"
        )
    # Nullable columns (Int64, Float64) hold pd.NA: it becomes NaN, named below.
    values = frame.to_numpy(dtype=float, copy=True, na_value=np.nan)
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
    return NumericData(values, _column_names(frame.columns), frame.index, not allow_missing)


def count_distinct_sorted(values: np.ndarray) -> int:
    """Distinct values of a sorted 1-D array: one comparison of neighbours."""
    return int(np.count_nonzero(values[1:] != values[:-1])) + 1 if values.size else 0


def count_distinct_rows(x: np.ndarray) -> int:
    """Distinct rows of an (n, d) array; a sort for one column, where unique(axis=0) is slow."""
    if x.shape[1] == 1:
        return count_distinct_sorted(np.sort(x[:, 0]))
    return len(np.unique(x, axis=0))


def check_k_value(k: Any) -> int:
    """One number of components: a whole number >= 1 (``2.0`` passes, ``2.5``, ``True`` do not)."""
    if type(k) is int and k >= 1:  # the usual case, without the checks of the numeric tower
        return k
    whole = isinstance(k, numbers.Integral) or (
        isinstance(k, numbers.Real) and float(k).is_integer()  # inf and NaN are not
    )
    if isinstance(k, (bool, np.bool_)) or not whole:
        raise InputError(f"the number of components k must be a whole number, got {k!r}")
    if float(k) < 1:
        raise InputError(f"the number of components k must be at least 1, got {k!r}")
    return int(float(k)) if not isinstance(k, numbers.Integral) else int(k)


def check_k_values(k: Any) -> list[int]:
    """A number of components, or several (``range(1, 10)``, ``[1, 2, 4]``), each checked once.

    A string is refused rather than read digit by digit, and repeats are fitted once.
    """
    if isinstance(k, (str, bytes)):
        raise InputError(
            f"the number of components k must be a whole number or a list of them, got {k!r}"
        )
    if not isinstance(k, Iterable):
        return [check_k_value(k)]
    ks = [check_k_value(v) for v in k]
    if not ks:
        raise InputError("k must name at least one number of components, got none")
    return list(dict.fromkeys(ks))


def check_k(k: Any, distinct_rows: Callable[[], int], complete: bool = True) -> int:
    """Validate a number of components against the data (or a sample of it).

    ``distinct_rows`` counts the distinct rows; it is called only when k > 1.
    """
    k = check_k_value(k)
    distinct = distinct_rows() if k > 1 else 1
    if k > distinct:
        where = "the data have" if complete else "a sample of the data has"
        raise InputError(f"k = {k} components need at least {k} distinct rows; {where} {distinct}")
    return k


def check_whole(value: Any, name: str, minimum: int = 1) -> int:
    """An option that counts something (workers, rows, restarts): a whole number >= minimum."""
    if type(value) is int and value >= minimum:
        return value
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed: Any) -> int | None:
    """A seed for ``numpy.random.default_rng``: a whole number >= 0, or None for fresh entropy."""
    if seed is None or (type(seed) is int and seed >= 0):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    return int(seed)


def check_bool(value: Any, name: str) -> bool:
    """A switch: True or False, not a string such as ``"yes"`` (which is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_squares_finite(
    centred: np.ndarray, columns: Sequence[str], spread: np.ndarray | None = None
) -> None:
    """Refuse values so large that EM's sums of squares overflow to infinity.

    Squared distances between rows, summed over every row and column, must be
    finite: beyond that, variances and k-means++ distances are inf or NaN.
    ``spread``: each column's largest absolute centred value, when the caller has it.
    """
    n, d = centred.shape
    if n == 0 or d == 0:
        return
    if spread is None:
        spread = np.abs(centred).max(axis=0)
    limit = math.sqrt(_FLOAT_MAX / (4.0 * n * d))
    if float(spread.max()) <= limit:
        return
    large = [c for c, s in zip(columns, spread, strict=True) if s > limit]
    if large:
        raise InputError(
            f"column {describe_labels(large)} holds values too large to square "
            f"(up to {float(spread.max()):.3g} from the mean); rescale it"
        )


def check_not_constant(data: NumericData, ranges: np.ndarray | None = None) -> None:
    """Refuse columns with one value: every covariance would be singular.

    ``ranges``: each column's ``max - min``, when the caller has it.
    """
    if ranges is None:
        ranges = np.ptp(data.values, axis=0)
    constant = [c for c, spread in zip(data.columns, ranges, strict=True) if spread == 0]
    if constant:
        raise InputError(
            f"column {describe_labels(constant)} is constant; a Gaussian mixture needs variation "
            "in every column (drop it)"
        )
