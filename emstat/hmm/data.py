"""From a DataFrame to sequences: which rows form a sequence, and in which order.

A fit's rows are grouped by the ``sequence`` column (or cut by
``lengths``), and ordered within each sequence by the ``order`` column,
else by the frame's order; a numeric or datetime index that decreases
within a sequence is refused (the rows are out of order).  The layout
keeps the permutation, so decodings come back in the caller's row order.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError

__all__ = ["SequenceLayout", "sequence_layout"]


@dataclass(frozen=True, eq=False)
class SequenceLayout:
    """Rows ``rows`` (positions in the frame) in fit order, cut at ``offsets``;
    ``ids`` names each sequence."""

    rows: np.ndarray
    offsets: np.ndarray
    ids: list[Any]

    @property
    def n_sequences(self) -> int:
        return len(self.ids)

    def restore(self, values: np.ndarray) -> np.ndarray:
        """``values`` in fit order put back into the frame's row order."""
        out = np.empty_like(values)
        out[self.rows] = values
        return out


def _plain(value: Any) -> Any:
    """A row label or value as the user wrote it (``3``, not ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _column(frame: pd.DataFrame, name: Any, what: str) -> pd.Series:
    if not isinstance(name, str):
        raise InputError(f"{what}= names a column; got {name!r}")
    if name not in frame.columns:
        raise InputError(f"no {what} column {name!r} in the data")
    values = frame[name]
    missing = values.isna().to_numpy()
    if missing.any():
        row = _plain(frame.index[int(np.flatnonzero(missing)[0])])
        raise InputError(f"the {what} column {name!r} is missing at row {row!r}")
    return values


def _check_lengths(lengths: Any, n: int) -> np.ndarray:
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, (Sequence, np.ndarray)):
        raise InputError(f"lengths must be a list of whole numbers >= 1, got {lengths!r}")
    values = list(lengths)
    if not values or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1 for v in values
    ):
        raise InputError(f"lengths must be a list of whole numbers >= 1, got {values!r}")
    total = int(sum(values))
    if total != n:
        raise InputError(f"lengths sum to {total}; the data have {n} rows")
    return np.concatenate([[0], np.cumsum(values)]).astype(np.int64)


def _check_index_order(frame: pd.DataFrame, rows: np.ndarray, codes: np.ndarray) -> None:
    """Refuse a numeric or datetime index that does not increase within a sequence."""
    index = frame.index
    if not (
        pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_datetime64_any_dtype(index)
    ):
        return
    if isinstance(index, pd.RangeIndex) and index.step > 0:
        return
    values = index.to_numpy()[rows]
    same = codes[rows][1:] == codes[rows][:-1]
    bad = same & ~(values[1:] > values[:-1])
    if bad.any():
        t = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(
            f"row {_plain(values[t])!r} comes after row {_plain(values[t - 1])!r} in its "
            "sequence but its index is not larger: the rows are out of order; sort them or "
            "pass order= (a column)"
        )


def sequence_layout(
    frame: pd.DataFrame,
    *,
    sequence: str | None = None,
    lengths: Any = None,
    order: str | None = None,
) -> SequenceLayout:
    """The sequences of ``frame`` and their rows in order (see the module docstring)."""
    n = frame.shape[0]
    if sequence is not None and lengths is not None:
        raise InputError("give the sequences either as a sequence column or as lengths, not both")
    if lengths is not None:
        offsets = _check_lengths(lengths, n)
        codes = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
        ids: list[Any] = list(range(1, offsets.shape[0]))
    elif sequence is not None:
        raw, uniques = pd.factorize(_column(frame, sequence, "sequence"), sort=False)
        codes = np.asarray(raw, dtype=np.int64)
        ids = list(uniques)
    else:
        codes = np.zeros(n, dtype=np.int64)
        ids = [1]
    if order is not None:
        if order == sequence:
            raise InputError(f"column {order!r} cannot be both the sequence and the order")
        key = _column(frame, order, "order")
        try:
            ranks = pd.Series(key.to_numpy()).rank(method="first").to_numpy()
        except TypeError:
            raise InputError(f"the order column {order!r} holds values that do not sort") from None
        rows = np.lexsort((ranks, codes))
        values = key.to_numpy()[rows]
        same = codes[rows][1:] == codes[rows][:-1]
        tied = same & (values[1:] == values[:-1])
        if tied.any():
            t = int(np.flatnonzero(tied)[0]) + 1
            raise InputError(
                f"rows {_plain(frame.index[rows[t - 1]])!r} and {_plain(frame.index[rows[t]])!r} "
                f"of one sequence share the order value {_plain(values[t])!r}; their order is "
                "unknown"
            )
    else:
        rows = np.argsort(codes, kind="stable")
        _check_index_order(frame, rows, codes)
    counts = np.bincount(codes, minlength=len(ids))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SequenceLayout(rows.astype(np.int64), offsets, ids)
