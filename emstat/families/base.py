"""The contract a component family gives the finite-mixture layer.

A *column family* models one column of the data (a count, a number of
successes, a category, a measurement) with k sets of parameters, one per
component.  Every family keeps its parameters as a ``(k, m)`` array in the
reported parametrisation (a Poisson rate, a binomial probability, a mean
and a variance, the probabilities of the levels), so that the layers above
(results, standard errors, alignment, simulation) treat every family alike.

A family states, for one column:

- ``encode(frame)``: validate the column (and its trials or exposure) and
  turn it into a :class:`ColumnData`; errors name the column, the row and
  the value;
- ``log_density(theta, data)``: the ``(n, k)`` log densities, 0 where the
  value is missing (the column is marginalised: local independence);
- ``stats(data, resp)``: additive weighted sufficient statistics;
- ``m_step(stats)``: the parameters maximising the expected complete-data
  log-likelihood;
- ``n_free(k)``, ``to_free``/``from_free``: the free parameters, for the
  observed information;
- ``start_features(data)``: a numeric view for k-means++ starts;
- ``sample(theta, labels, extra, rng)``: draws given the components;
- ``parameter_names`` and ``scales``: the tidy layout and the scale on which
  Wald intervals stay inside the parameter space;
- optionally ``fused_e_step(weights, theta, data, case_weights)``: the whole
  E-step of a one-column mixture in one compiled pass (Poisson, binomial),
  or None; the numpy E-step of the mixture layer is its reference.

Several columns are one :class:`ProductFamily` (local independence), which
satisfies the same contract with tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import pandas as pd

from emstat._validation import describe_labels
from emstat.errors import DegenerateFitError, InputError

__all__ = [
    "ColumnData",
    "ColumnFamily",
    "FusedEStep",
    "ProductFamily",
    "Scale",
    "column_values",
    "extra_values",
]

Scale = Literal["identity", "log", "logit"]

# A component whose total responsibility is this small is empty (as mclust's rule).
MIN_COMPONENT_WEIGHT = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class ColumnData:
    """One encoded column: values (NaN where missing) and a per-row extra.

    ``extra`` is the number of trials of a binomial column or the exposure
    of a Poisson column (None when the family has none).
    """

    values: np.ndarray
    extra: np.ndarray | None = None
    # What a family derives from the data once (row constants of its log density).
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def observed(self) -> np.ndarray:
        """Rows where the column is observed (a row of several counts: all of them)."""
        missing = np.isnan(self.values)
        return ~(missing.any(axis=1) if missing.ndim == 2 else missing)

    def derived(self, key: str, compute: Callable[[ColumnData], Any]) -> Any:
        """``compute(self)``, computed on the first call only (the data do not change)."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]

    def take(self, rows: np.ndarray | slice) -> ColumnData:
        return ColumnData(self.values[rows], None if self.extra is None else self.extra[rows])


class ColumnFamily(Protocol):
    """What one column's family gives the mixture layer (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def column(self) -> str: ...

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        """The family with what it learns from the fitted data (levels, centre) fixed."""
        ...

    def encode(self, frame: pd.DataFrame) -> ColumnData: ...

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray: ...

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray: ...

    def m_step(self, stats: np.ndarray) -> np.ndarray: ...

    def n_free(self, k: int) -> int: ...

    def to_free(self, theta: np.ndarray) -> np.ndarray: ...

    def from_free(self, free: np.ndarray, k: int) -> np.ndarray: ...

    def parameter_names(self) -> list[str]: ...

    def scales(self) -> list[Scale]: ...

    def start_features(self, data: ColumnData) -> np.ndarray: ...

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray: ...

    def describe(self) -> str: ...

    def to_spec(self) -> dict[str, Any]: ...


def column_values(frame: pd.DataFrame, column: str, family: str) -> pd.Series:
    """The column ``column`` of ``frame``, or an error naming it and the columns there are."""
    if column not in frame.columns:
        raise InputError(
            f"the {family} family names column {column!r}, which is not in the data; its columns "
            f"are {describe_labels([str(c) for c in frame.columns], 20)}"
        )
    values = frame[column]
    if isinstance(values, pd.DataFrame):
        raise InputError(f"column {column!r} is named twice in the data")
    return values


def numeric_column(frame: pd.DataFrame, column: str, family: str) -> np.ndarray:
    """A numeric column as floats (NaN kept); booleans, text and complex values refused."""
    series = column_values(frame, column, family)
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_complex_dtype(series):
        raise InputError(
            f"column {column!r} holds {series.dtype} values; a {family} column needs numbers"
        )
    if not pd.api.types.is_numeric_dtype(series):
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna()
        if bad.any():
            row = series.index[np.flatnonzero(bad.to_numpy())[0]]
            value = series.iloc[int(np.flatnonzero(bad.to_numpy())[0])]
            raise InputError(f"column {column!r} is not numeric: row {row!r} holds {value!r}")
        series = converted
    values = series.to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        row = series.index[np.flatnonzero(infinite)[0]]
        raise InputError(f"column {column!r} holds an infinite value at row {row!r}")
    return values


def first_bad_row(frame: pd.DataFrame, mask: np.ndarray) -> Any:
    return frame.index[int(np.flatnonzero(mask)[0])]


def extra_values(
    frame: pd.DataFrame, spec: str | float | int | None, *, what: str, column: str, family: str
) -> np.ndarray | None:
    """Trials or exposure: a column name, a positive constant, or None."""
    if spec is None:
        return None
    n = frame.shape[0]
    if isinstance(spec, str):
        values = numeric_column(frame, spec, family)
        if np.isnan(values).any():
            row = first_bad_row(frame, np.isnan(values))
            raise InputError(f"the {what} column {spec!r} is missing at row {row!r}")
        return values
    if isinstance(spec, bool) or not isinstance(spec, (int, float, np.integer, np.floating)):
        raise InputError(
            f"{what} for column {column!r} must be a column name or a number, got {spec!r}"
        )
    return np.full(n, float(spec))


class OneParameterColumn:
    """The free parametrisation of a family with one parameter per component (a rate,
    a probability): the (k, 1) parameters are their own free values."""

    def n_free(self, k: int) -> int:
        return k

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta[:, 0], dtype=float)

    def from_free(self, free: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(free, dtype=float).reshape(k, 1)


class SimplexColumns:
    """The free parametrisation of probabilities over ``width()`` categories per
    component: all but the last, which is 1 minus their sum."""

    def width(self) -> int:
        raise NotImplementedError

    def n_free(self, k: int) -> int:
        return k * (self.width() - 1)

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta[:, :-1], dtype=float).reshape(-1)

    def from_free(self, free: np.ndarray, k: int) -> np.ndarray:
        head = np.asarray(free, dtype=float).reshape(k, self.width() - 1)
        return np.concatenate([head, 1.0 - head.sum(axis=1, keepdims=True)], axis=1)


def part_columns(part: ColumnFamily) -> list[str]:
    """The data columns a part models: its one column, or a multinomial part's several."""
    return list(getattr(part, "columns", (part.column,)))


class FusedEStep(NamedTuple):
    """What a compiled E-step returns: the component totals Σ w z, the family's
    statistics, the log-likelihood and Σ w log z_i,argmax (ICL's term)."""

    nk: np.ndarray
    stats: tuple[np.ndarray, ...]
    loglik: float
    classification_loglik: float


def zero_density_error(row: int) -> DegenerateFitError:
    return DegenerateFitError(f"row {row} has zero density under every component")


@cache
def count_kernels() -> Any:
    """The compiled E-step of one count column (tests patch None for the numpy oracle)."""
    from emstat.families import _count_kernels  # numba is a dependency: no fallback

    return _count_kernels


def weighted_row_constant(
    data: ColumnData,
    case_weights: np.ndarray | None,
    row_constant: Callable[[ColumnData], tuple[np.ndarray, float]],
) -> float:
    """Σ_i w_i c_i, computed once per data set and set of case weights (held, so that
    no other array can take their identity)."""
    key = f"{row_constant.__module__}.{row_constant.__qualname__}"
    constant, total = data.derived(key, row_constant)
    if case_weights is None:
        return float(total)
    held, weighted = data._derived.get(f"{key}|weighted", (None, 0.0))
    if held is not case_weights:
        weighted = float(case_weights @ constant)
        data._derived[f"{key}|weighted"] = (case_weights, weighted)
    return float(weighted)


def fused_count_e_step(
    data: ColumnData,
    case_weights: np.ndarray | None,
    weights: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    failures: bool,
    row_constant: Callable[[ColumnData], tuple[np.ndarray, float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """The compiled E-step of a count column whose log density is
    ``x a_j + y b_j + c``, y the exposure (failures ``n - x`` when ``failures``).

    Returns Σ w z, Σ w z x, Σ w z y, the log-likelihood and Σ w log z_i,argmax,
    or None without numba.  ``row_constant(data)`` gives c per row (0 where
    missing) and its sum; it runs once per data set (see :func:`weighted_row_constant`).
    """
    kernels = count_kernels()
    if kernels is None:
        return None
    constant = weighted_row_constant(data, case_weights, row_constant)
    sums, loglik, classification, bad = kernels.count_e_step(
        data.values, data.extra, case_weights, constant, weights, a, b, failures=failures
    )
    if bad >= 0:
        raise zero_density_error(bad)
    return sums[:, 0], sums[:, 1], sums[:, 2], loglik, classification


def check_nonempty(nk: np.ndarray) -> None:
    """Refuse an M-step whose component is empty: its parameters are not identified.

    Relative to the total, so that case weights of any scale judge alike.
    """
    empty = np.flatnonzero(nk <= MIN_COMPONENT_WEIGHT * nk.sum())
    if empty.size:
        raise DegenerateFitError(
            f"component {int(empty[0]) + 1} is empty (total responsibility {nk[empty[0]]:.3g})"
        )


def observed_resp(data: ColumnData, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities of the rows where the column is observed, and their values."""
    seen = data.observed
    if seen.all():
        return resp, data.values
    return resp[seen], data.values[seen]


@dataclass(frozen=True)
class ProductFamily:
    """Several columns under local independence: densities multiply, statistics stack."""

    parts: tuple[ColumnFamily, ...]

    @property
    def name(self) -> str:
        names = list(dict.fromkeys(part.name for part in self.parts))
        return names[0] if len(names) == 1 else "mixed"

    @property
    def columns(self) -> list[str]:
        """The data columns modelled (a multinomial part models several)."""
        out: list[str] = []
        for part in self.parts:
            out += part_columns(part)
        return out

    def prepare(self, frame: pd.DataFrame) -> ProductFamily:
        if len(set(self.columns)) != len(self.columns):
            twice = [c for c in self.columns if self.columns.count(c) > 1]
            raise InputError(f"column {twice[0]!r} is named twice")
        return ProductFamily(tuple(part.prepare(frame) for part in self.parts))

    def encode(self, frame: pd.DataFrame) -> tuple[ColumnData, ...]:
        return tuple(part.encode(frame) for part in self.parts)

    def log_density(self, theta: Sequence[np.ndarray], data: Sequence[ColumnData]) -> np.ndarray:
        total = self.parts[0].log_density(theta[0], data[0])
        for part, th, block in zip(self.parts[1:], theta[1:], data[1:], strict=True):
            total = total + part.log_density(th, block)
        return total

    def stats(self, data: Sequence[ColumnData], resp: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(part.stats(block, resp) for part, block in zip(self.parts, data, strict=True))

    def fused_e_step(
        self,
        weights: np.ndarray,
        theta: Sequence[np.ndarray],
        data: Sequence[ColumnData],
        case_weights: np.ndarray | None,
    ) -> FusedEStep | None:
        """The whole E-step in one compiled pass, or None where there is none.

        A single column whose family offers ``fused_e_step`` (Poisson,
        binomial) has one; several columns take the numpy E-step.
        """
        if len(self.parts) != 1:
            return None
        fused = getattr(self.parts[0], "fused_e_step", None)
        if fused is None:
            return None
        result = fused(weights, theta[0], data[0], case_weights)
        if result is None:
            return None
        nk, stats, loglik, classification = result
        return FusedEStep(nk, (stats,), loglik, classification)

    def m_step(self, stats: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(part.m_step(s) for part, s in zip(self.parts, stats, strict=True))

    def n_free(self, k: int) -> int:
        return sum(part.n_free(k) for part in self.parts)

    def to_free(self, theta: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [part.to_free(th) for part, th in zip(self.parts, theta, strict=True)]
        )

    def from_free(self, free: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
        out = []
        start = 0
        for part in self.parts:
            size = part.n_free(k)
            out.append(part.from_free(free[start : start + size], k))
            start += size
        return tuple(out)

    def rows(self, theta: Sequence[np.ndarray]) -> tuple[list[str], np.ndarray, list[Scale]]:
        """Parameter names, a (k, m) array of estimates, and each parameter's scale."""
        names: list[str] = []
        scales: list[Scale] = []
        for part in self.parts:
            names += part.parameter_names()
            scales += part.scales()
        values = np.concatenate([np.asarray(th, dtype=float) for th in theta], axis=1)
        return names, values, scales

    def start_features(self, data: Sequence[ColumnData]) -> np.ndarray:
        blocks = []
        for part, block in zip(self.parts, data, strict=True):
            features = part.start_features(block)
            # Standardised, so no column's units dominate the k-means++ distances.
            spread = np.nanstd(features, axis=0)
            features = (features - np.nanmean(features, axis=0)) / np.where(spread > 0, spread, 1)
            blocks.append(np.nan_to_num(features, nan=0.0))
        return np.concatenate(blocks, axis=1)

    def sample(
        self,
        theta: Sequence[np.ndarray],
        labels: np.ndarray,
        extras: Sequence[np.ndarray | None],
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for part, th, extra in zip(self.parts, theta, extras, strict=True):
            draws = part.sample(th, labels, extra, rng)
            if draws.ndim == 2:  # a part over several columns
                out.update(zip(part_columns(part), draws.T, strict=True))
            else:
                out[part.column] = draws
        return out

    def extras(self, data: Sequence[ColumnData]) -> list[np.ndarray | None]:
        return [block.extra for block in data]

    def describe(self) -> str:
        return "; ".join(part.describe() for part in self.parts)

    def to_spec(self) -> list[dict[str, Any]]:
        return [part.to_spec() for part in self.parts]
