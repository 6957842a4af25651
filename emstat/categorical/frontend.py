"""pandas in, pandas out: fit log-linear models to incomplete categorical data.

What R's ``cat`` package does (``prelim.cat``, ``em.cat``, ``ecm.cat``,
``da.cat``/``imp.cat``, ``logpost.cat``), from a DataFrame:

- variables are pandas categoricals, strings or integers (floats that hold
  whole numbers, as ``read_csv`` makes of integer columns with gaps, work
  too); levels are a categorical's categories (so an unobserved category
  is still a cell), otherwise the sorted distinct values;
- columns that cannot be meant as categorical variables are refused with
  the reason: continuous values, a row index or id, a stray value among
  whole-number codes, more levels than the units can fill (``as_category``
  takes such a column's values as levels all the same); so is a table of
  more than ``max_cells`` cells, before it is allocated;
- an optional count column says how many units each row stands for;
  rows with count 0 carry no likelihood and are ignored by the fit (cat
  keeps them and may then stop with "assigns zero prob. to an observed
  event");
- ``structural_zeros`` is a list of level tuples (one label per variable,
  in the order of ``variables``) naming cells that are impossible.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from emstat._html import text_html
from emstat.categorical import kernels
from emstat.categorical.kernels import IncompleteTable, PatternCounts
from emstat.categorical.model import LogLinearModel
from emstat.engine import EMControl, EMResult, fit_em
from emstat.errors import InputError
from emstat.results import CONVENTION_TEXT, FitCriteria, wald_z

__all__ = [
    "CAT_CONTROL",
    "MAX_CELLS",
    "CategoricalResult",
    "LRTResult",
    "PreparedData",
    "fit_categorical",
    "prepare_data",
]

#: cat's stopping rule: every cell |old - new| <= 1e-4 |old|, at most 1000 iterations.
CAT_CONTROL = EMControl(tol=1e-4, criterion="param", max_iter=1000)

# Standard errors need a dense (cells x cells) matrix; beyond this they are NaN.
_MAX_CELLS_FOR_SE = 4096

#: Default limit on the number of cells of the full table (``max_cells``).
MAX_CELLS = 1_000_000

# Counts up to this total keep every sum and log-likelihood finite in float64.
_MAX_TOTAL_COUNT = 1e300

# A column with more levels than this and than half the units looks continuous.
_MAX_LEVELS_UNCHECKED = 50

# A column with a distinct value in every row, with more rows than this, is an index or an id.
_ID_MIN_ROWS = 20

MarginSpec = Sequence[str] | str


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, eq=False)
class PreparedData:
    """A DataFrame turned into level codes, counts and the pattern table."""

    variables: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    codes: np.ndarray
    counts: np.ndarray
    table: IncompleteTable
    free: np.ndarray
    frame: pd.DataFrame
    counts_column: str | None

    @property
    def shape(self) -> tuple[int, ...]:
        """Levels per variable."""
        return tuple(len(lv) for lv in self.levels)

    @property
    def n_units(self) -> float:
        """Total count."""
        return float(self.counts.sum())


def _as_category_hint(name: str) -> str:
    return f"pass as_category=[{name!r}] (--as-category {shlex.quote(name)} on the command line)"


def _is_whole_number(value: Any) -> bool:
    """True for an integer, a float holding a whole number, or a string spelling one."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return False
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value) and float(value).is_integer()
    return False


def _first_row(present: pd.Series, bad: np.ndarray) -> tuple[Hashable, Any]:
    """Row label and value of the first row flagged in ``bad``."""
    i = int(np.flatnonzero(bad)[0])
    value = present.iloc[i]
    return present.index[i], value.item() if isinstance(value, np.generic) else value


def _check_numeric_codes(name: str, present: pd.Series) -> None:
    """Refuse a stray value among whole-number codes, and float columns that look continuous.

    A float column with non-integer values is a measurement, not a set of
    levels; in a text or mixed column where most rows are whole numbers, a
    value that is not one (1.5, "one") is taken for a typing error rather
    than made into a new level.
    """
    if pd.api.types.is_float_dtype(present.dtype):
        values = present.to_numpy(dtype=float)
        whole = values == np.round(values)
    elif pd.api.types.is_object_dtype(present.dtype) or pd.api.types.is_string_dtype(present.dtype):
        try:
            codes, distinct = pd.factorize(present)
        except TypeError as exc:
            raise InputError(
                f"column {name!r} holds values that cannot be levels ({exc}); "
                "give it numbers or text"
            ) from exc
        whole_level = np.fromiter((_is_whole_number(v) for v in distinct), bool, len(distinct))
        whole = whole_level[codes]
        if not 2 * whole.sum() > whole.size:
            return
    else:
        return
    if whole.all():
        return
    row, value = _first_row(present, ~whole)
    if 2 * whole.sum() > whole.size:
        raise InputError(
            f"column {name!r} has whole-number levels but holds {value!r} at row {row!r}; "
            f"correct the value, or {_as_category_hint(name)} to make every value a level"
        )
    raise InputError(
        f"column {name!r} looks continuous: {present.nunique()} distinct values, with "
        f"non-integer ones such as {value!r} at row {row!r}; cut it into categories first, "
        f"or {_as_category_hint(name)} to make each value a level"
    )


def _check_not_identifier(name: str, present: pd.Series, one_way_table: bool) -> None:
    """Refuse a column with a different value in every row (a row index or an id).

    Not for the one variable of a table with counts, where one row per level
    is how a one-way table is written.
    """
    n_rows = len(present)
    if one_way_table or n_rows <= _ID_MIN_ROWS or present.nunique() != n_rows:
        return
    raise InputError(
        f"column {name!r} has a different value in each of its {n_rows} rows: it looks like a "
        "row index or an identifier, not a categorical variable; drop it or choose the "
        f"variables (--variables), or {_as_category_hint(name)} if it is meant"
    )


def _check_level_count(name: str, n_levels: int, n_units: float) -> None:
    """Refuse a column with more levels than a contingency table can hold for these data."""
    if n_levels > _MAX_LEVELS_UNCHECKED and n_levels > n_units / 2:
        raise InputError(
            f"column {name!r} looks continuous or like an identifier: {n_levels} levels for "
            f"{n_units:g} units; cut it into fewer categories, or {_as_category_hint(name)} "
            "if each value is meant as a level"
        )


def _column_levels(
    name: str, column: pd.Series, *, checked: bool, n_units: float, one_way_table: bool
) -> tuple[pd.Index, np.ndarray]:
    """Levels and codes (-1 where missing) of one variable.

    With ``checked``, columns that cannot be categorical variables are
    refused: a row index or identifier, continuous values, a stray value
    among whole-number codes, more levels than the data can fill.
    """
    present = column[column.notna()]
    if present.empty:
        raise InputError(f"column {name!r} has no observed values (all missing)")
    if isinstance(column.dtype, pd.CategoricalDtype):
        if checked:
            _check_not_identifier(name, present, one_way_table)
        levels = pd.Index(column.dtype.categories)
        codes = np.asarray(column.cat.codes, dtype=np.int64)
    else:
        if pd.api.types.is_float_dtype(present.dtype) and not np.all(
            np.isfinite(present.to_numpy(dtype=float))
        ):
            raise InputError(f"column {name!r} holds an infinite value")
        if checked:
            _check_numeric_codes(name, present)
            _check_not_identifier(name, present, one_way_table)
        try:
            levels = pd.Index(sorted(pd.unique(present)))
        except TypeError as exc:
            raise InputError(
                f"column {name!r} mixes types that cannot be ordered ({exc}); "
                "make it a pandas categorical"
            ) from exc
        if checked:
            _check_level_count(name, len(levels), n_units)
        observed = column.notna().to_numpy()
        codes = np.where(observed, levels.get_indexer(column.where(observed)), -1)
        codes = codes.astype(np.int64)
        if np.any(observed & (codes < 0)):
            row, value = _first_row(column, observed & (codes < 0))
            raise InputError(
                f"column {name!r} holds {value!r} at row {row!r}, which matches none of its "
                "levels; make the column a pandas categorical"
            )
    if len(levels) < 2:
        raise InputError(
            f"column {name!r} has only one level ({levels[0]}); a variable needs at least two"
        )
    return levels, codes


def _validate_counts(frame: pd.DataFrame, counts: str) -> np.ndarray:
    """Counts as float array: finite, whole, non-negative; errors name the row."""
    column = frame[counts]
    if pd.api.types.is_bool_dtype(column.dtype) or not pd.api.types.is_numeric_dtype(column.dtype):
        raise InputError(f"count column {counts!r} must be numeric, got dtype {column.dtype}")
    values = column.to_numpy(dtype=float, na_value=np.nan)
    checks = [
        (np.isnan(values), "is missing"),
        (~np.isfinite(values) & ~np.isnan(values), "is infinite"),
        (values < 0, "is negative"),
        (np.isfinite(values) & (values != np.round(values)), "is not a whole number"),
    ]
    for bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"count column {counts!r} {what} at row {frame.index[i]!r} "
                f"(value {column.iloc[i]!r})"
            )
    return values


def _pattern_groups(observed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct missingness patterns and their rows, in prelim.cat's order.

    prelim.cat sorts patterns by ``sum_j observed_j 2^j``, largest first:
    descending order of the columns read from the last.  One sort of the
    rows groups them, so the cost does not grow with rows x patterns.
    """
    unique, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort(tuple(-unique[:, j].astype(np.int64) for j in range(unique.shape[1])))
    by_pattern = np.argsort(inverse, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(unique)))))
    return [(unique[u], by_pattern[bounds[u] : bounds[u + 1]]) for u in order]


def _pattern_table(
    codes: np.ndarray, counts: np.ndarray, shape: tuple[int, ...]
) -> IncompleteTable:
    """Counts per missingness pattern over the observed axes (cat's order)."""
    patterns = []
    for mask, rows in _pattern_groups(codes >= 0):
        axes = tuple(int(a) for a in np.flatnonzero(mask))
        sub_shape = tuple(shape[a] for a in axes)
        if axes:
            table = np.zeros(sub_shape)
            np.add.at(table, tuple(codes[rows][:, a] for a in axes), counts[rows])
        else:
            table = np.array(counts[rows].sum())
        patterns.append(PatternCounts(observed=axes, counts=table))
    return IncompleteTable(shape=shape, patterns=tuple(patterns))


def _structural_mask(
    zeros: Sequence[Sequence[Hashable]] | None,
    variables: tuple[str, ...],
    levels: tuple[pd.Index, ...],
) -> np.ndarray:
    """Boolean mask, False on declared structural zeros."""
    free = np.ones(tuple(len(lv) for lv in levels), dtype=bool)
    expected = (
        f"a list of cells, each a tuple with one level for each of {list(variables)}, "
        "e.g. [(level, level, ...)]"
    )
    if zeros is not None and not _is_name_list(zeros):
        raise InputError(f"structural_zeros must be {expected}; got {zeros!r}")
    for cell in zeros or []:
        if not _is_name_list(cell):
            raise InputError(f"structural_zeros must be {expected}; got the cell {cell!r}")
        if len(cell) != len(variables):
            raise InputError(
                f"structural zero {tuple(cell)!r} must give one level for each of {list(variables)}"
            )
        index = []
        for var, lv, label in zip(variables, levels, cell, strict=True):
            if not isinstance(label, Hashable) or label not in lv:
                raise InputError(
                    f"structural zero {tuple(cell)!r}: {label!r} is not a level of {var!r}"
                )
            index.append(lv.get_loc(label))
        free[tuple(index)] = False
    if not free.any():
        raise InputError("every cell is declared a structural zero")
    return free


def _check_structural(data: PreparedData) -> None:
    """Every unit with a positive count must have a possible cell."""
    if data.free.all():
        return
    for i, (row, n) in enumerate(zip(data.codes, data.counts, strict=True)):
        index = tuple(int(c) if c >= 0 else slice(None) for c in row)
        if n > 0 and not np.any(data.free[index]):
            raise InputError(
                f"row {data.frame.index[i]!r} falls only on structural zeros; "
                "remove it or correct structural_zeros"
            )


def _is_name_list(value: Any) -> bool:
    """A list or tuple (or other non-text sequence) of column names."""
    return isinstance(value, Sequence | pd.Index | np.ndarray) and not isinstance(value, str)


def _resolve_variables(
    frame: pd.DataFrame, counts: str | None, variables: Sequence[str] | None
) -> list[Hashable]:
    """The variables' column names, checked against the frame and the count column."""
    if counts is not None and counts not in frame.columns:
        raise InputError(f"count column {counts!r} is not in the data frame")
    if variables is None:
        variables = [c for c in frame.columns if c != counts]
    elif not _is_name_list(variables):
        raise InputError(f"variables must be a list of column names, got {variables!r}")
    unknown = [v for v in variables if v not in frame.columns]
    if unknown:
        raise InputError(f"unknown variable(s) {unknown}; columns are {list(frame.columns)}")
    if counts is not None and counts in variables:
        raise InputError(f"{counts!r} is the count column and cannot also be a variable")
    if len(variables) == 0:
        raise InputError("there are no variables to tabulate")
    used = [*variables, *([counts] if counts is not None else [])]
    repeated = [c for c in dict.fromkeys(frame.columns[frame.columns.duplicated()]) if c in used]
    if repeated:
        raise InputError(
            f"the data frame has more than one column named {repeated[0]!r}; rename them"
        )
    if len(set(variables)) != len(variables) or len({str(v) for v in variables}) != len(variables):
        raise InputError(f"variables repeat a name: {list(variables)}")
    return list(variables)


def _resolve_as_category(
    as_category: Sequence[str] | None, variables: Sequence[Hashable]
) -> set[Hashable]:
    """The variables whose values are taken as levels without the plausibility checks."""
    if as_category is None:
        return set()
    if not _is_name_list(as_category):
        raise InputError(f"as_category must be a list of column names, got {as_category!r}")
    unknown = [v for v in as_category if v not in variables]
    if unknown:
        raise InputError(
            f"as_category names {unknown}, which are not variables; variables are {list(variables)}"
        )
    return set(as_category)


def _validate_max_cells(max_cells: int) -> int:
    if isinstance(max_cells, bool) or not isinstance(max_cells, (int, np.integer)) or max_cells < 1:
        raise InputError(f"max_cells must be a whole number >= 1, got {max_cells!r}")
    return int(max_cells)


def _check_n_cells(names: Sequence[str], levels: Sequence[pd.Index], max_cells: int) -> None:
    """Refuse a table larger than ``max_cells`` before anything of its size is allocated."""
    n_cells = math.prod(len(lv) for lv in levels)
    if n_cells > max_cells:
        sizes = " x ".join(f"{v} {len(lv)}" for v, lv in zip(names, levels, strict=True))
        raise InputError(
            f"the table has {n_cells:,} cells ({sizes} levels), beyond the limit of "
            f"{max_cells:,}; use fewer variables or levels, or raise max_cells (--max-cells)"
        )


def _unit_weights(frame: pd.DataFrame, counts: str | None) -> np.ndarray:
    """Units per row: the validated count column, or one per row."""
    if counts is None:
        return np.ones(frame.shape[0])
    weights = _validate_counts(frame, counts)
    with np.errstate(over="ignore"):  # an infinite total is refused below
        total = float(weights.sum())
    if not total > 0:
        raise InputError(f"count column {counts!r} sums to zero: there are no units")
    if not total <= _MAX_TOTAL_COUNT:
        raise InputError(
            f"count column {counts!r} sums to {total:g}, beyond {_MAX_TOTAL_COUNT:g} "
            "(log-likelihoods would overflow); rescale the counts"
        )
    return weights


def prepare_data(
    frame: pd.DataFrame,
    counts: str | None = None,
    variables: Sequence[str] | None = None,
    structural_zeros: Sequence[Sequence[Hashable]] | None = None,
    *,
    as_category: Sequence[str] | None = None,
    max_cells: int = MAX_CELLS,
) -> PreparedData:
    """Validate ``frame`` and turn it into level codes, counts and patterns.

    Raises
    ------
    InputError
        On an empty frame, unknown or repeated names, unusable counts, a
        variable with fewer than two levels, a column that cannot be a
        categorical variable (see :func:`fit_categorical`), or a table of
        more than ``max_cells`` cells; the message names the column and row.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.shape[0] == 0:
        raise InputError("the data frame has no rows")
    max_cells = _validate_max_cells(max_cells)
    columns = _resolve_variables(frame, counts, variables)
    as_given = _resolve_as_category(as_category, columns)
    weights = _unit_weights(frame, counts)
    names = tuple(str(v) for v in columns)
    one_way = counts is not None and len(columns) == 1
    pairs = [
        _column_levels(
            str(v),
            frame[v],
            checked=v not in as_given,
            n_units=float(weights.sum()),
            one_way_table=one_way,
        )
        for v in columns
    ]
    levels = tuple(p[0] for p in pairs)
    _check_n_cells(names, levels, max_cells)
    codes = np.column_stack([p[1] for p in pairs])
    shape = tuple(len(lv) for lv in levels)
    free = _structural_mask(structural_zeros, names, levels)
    data = PreparedData(
        variables=names,
        levels=levels,
        codes=codes,
        counts=weights,
        table=_pattern_table(codes, weights, shape),
        free=free,
        frame=frame,
        counts_column=counts,
    )
    _check_structural(data)
    return data


def _margin_axes(
    margins: Sequence[MarginSpec] | None, variables: tuple[str, ...]
) -> tuple[tuple[int, ...], ...]:
    """Column-name margins to sorted axis tuples; None is saturated."""
    if margins is None:
        return (tuple(range(len(variables))),)
    expected = 'a list of lists of column names, e.g. [["a", "b"], ["c"]]'
    if isinstance(margins, str):
        raise InputError(f"margins must be {expected}, got the string {margins!r}")
    if not _is_name_list(margins):
        raise InputError(f"margins must be {expected}, got {margins!r}")
    if len(margins) == 0:
        raise InputError("margins is empty; give None for the saturated model")
    out = []
    for i, term in enumerate(margins, start=1):
        if not (isinstance(term, str) or _is_name_list(term)):
            raise InputError(f"margins must be {expected}; margin {i} is {term!r}")
        names = [term] if isinstance(term, str) else list(term)
        if not names:
            raise InputError("a margin is empty")
        unknown = [n for n in names if n not in variables]
        if unknown:
            raise InputError(f"unknown margin name(s) {unknown}; variables are {list(variables)}")
        if len(set(names)) != len(names):
            raise InputError(f"margin {names} repeats a name")
        out.append(tuple(sorted(variables.index(n) for n in names)))
    return tuple(out)


def _validate_prior(prior: float) -> float:
    if isinstance(prior, bool) or not isinstance(prior, (int, float, np.integer, np.floating)):
        raise InputError(f"prior must be a number >= 0, got {prior!r}")
    if not (math.isfinite(float(prior)) and prior >= 0):
        raise InputError(f"prior must be a finite number >= 0, got {prior!r}")
    return float(prior)


# --------------------------------------------------------------------------- fit


def fit_categorical(
    data: pd.DataFrame,
    counts: str | None = None,
    *,
    variables: Sequence[str] | None = None,
    margins: Sequence[MarginSpec] | None = None,
    prior: float = 1.0,
    structural_zeros: Sequence[Sequence[Hashable]] | None = None,
    control: EMControl | None = None,
    as_category: Sequence[str] | None = None,
    max_cells: int = MAX_CELLS,
) -> CategoricalResult:
    """Fit a log-linear model to incomplete categorical data by EM/ECM.

    Reproduces R's ``cat``: with ``margins=None`` the saturated multinomial
    (``em.cat``), otherwise the hierarchical log-linear model with those
    margins, each M-step one cycle of iterative proportional fitting
    (``ecm.cat``).  The start is uniform and the default stopping rule is
    cat's (every cell ``|old - new| <= 1e-4 |old|``, at most 1000 iterations).

    Parameters
    ----------
    data
        One row per unit, or per group of units with ``counts``; missing
        values (NaN/None/pd.NA) are missing at random.
    counts
        Name of a column of non-negative whole counts.
    variables
        The categorical columns; default every column except ``counts``.
    margins
        Model terms as lists of column names, e.g. ``[["V1"], ["V2"]]`` for
        independence; a variable in no margin is modelled as uniform.
    prior
        Dirichlet hyperparameter per cell: 1 (default) gives the MLE, above
        1 a posterior mode (cat's ``prior``); values in [0, 1) are allowed,
        with negative pseudo-counts truncated at zero.
    structural_zeros
        Level tuples (in the order of ``variables``) of impossible cells.
    control
        Stopping rule; default :data:`CAT_CONTROL`.  Any engine rule works,
        e.g. ``EMControl(tol=1e-10, criterion="rel")``.
    as_category
        Variables whose distinct values are all levels, as they are.  Other
        columns that are not pandas categoricals are refused when they
        cannot be meant as categorical variables: a different value in each
        of more than 20 rows (a row index or an id; allowed for the one
        variable of a table with counts), a float column with non-integer
        values, a text column of mostly whole numbers with a value that is
        not one (``"one"`` among ``1`` and ``2``), or more than 50 levels
        and more than half as many levels as units.
    max_cells
        Most cells the full table may have (default :data:`MAX_CELLS`); a
        larger table is refused before anything of its size is allocated.

    Returns
    -------
    CategoricalResult

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": ["x", "y", "x", None], "b": [1, 1, 2, 2]})
    >>> res = fit_categorical(df)
    >>> round(float(res.probabilities.sum()), 12)
    1.0
    """
    prior = _validate_prior(prior)
    prepared = prepare_data(
        data, counts, variables, structural_zeros, as_category=as_category, max_cells=max_cells
    )
    axes = _margin_axes(margins, prepared.variables)
    model = LogLinearModel(shape=prepared.shape, margins=axes, prior=prior, free=prepared.free)
    model.n_params()  # refuses, before fitting, a model whose parameters cannot be counted
    control = control or CAT_CONTROL
    em = fit_em(
        model, prepared.table, theta0=model.start(), control=control, n_obs=prepared.n_units
    )
    # A failed fit is a result with ``degenerate`` set, as every fit's is.
    return CategoricalResult(data=prepared, model=model, em=em)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LRTResult:
    """Likelihood-ratio test of a smaller model against a larger one."""

    statistic: float
    df: int
    p_value: float
    null: str
    alternative: str

    def __str__(self) -> str:
        return (
            f"LRT {self.null} vs {self.alternative}: G2 = {self.statistic:.4f}, "
            f"df = {self.df}, p = {self.p_value:.4g}"
        )

    def _repr_html_(self) -> str:
        return text_html(str(self))


def _describe_margins(margins: Sequence[tuple[int, ...]], variables: tuple[str, ...]) -> str:
    return "".join("(" + " ".join(variables[a] for a in m) + ")" for m in margins)


@dataclass(frozen=True, eq=False)
class FitRecord:
    """What a fit keeps of its data: enough for the summary, the criteria and the table.

    ``std_errors`` are the cell probabilities' standard errors when they are
    known without the data (a fit read back by :func:`emstat.load_fit`);
    None while they are still to be computed from the data.
    """

    variables: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    n_units: float
    n_rows: int
    n_patterns: int
    loglik: float
    logpost: float
    std_errors: np.ndarray | None = None


class CategoricalResult(FitCriteria):
    """A fitted log-linear model for incomplete categorical data.

    Attributes are computed on first use.  Cell order everywhere is that of
    a ``pd.MultiIndex.from_product`` of the levels (last variable fastest);
    R's cat arrays are column-major (first variable fastest).

    Criteria (:class:`emstat.results.FitCriteria`) are smaller-is-better:
    ``bic = -2 loglik + n_params log N`` with N the number of units,
    ``aic = -2 loglik + 2 n_params``; there are no latent classes, so the
    ICL equals the BIC.  A fit that failed (EM reached a table that gives
    observed units zero probability) has ``degenerate`` set to the reason,
    ``ok`` False and NaN criteria; what needs the estimate raises
    :class:`InputError` naming the reason.  A fit read back by
    :func:`emstat.load_fit` has no data: what needs it (``impute``, ``lrt``,
    ``expected_counts``, ``patterns``) raises :class:`InputError`.
    """

    #: Σ_i Σ_k C_ik log z_ik: no latent classes, so the ICL is the BIC.
    classification_loglik = 0.0

    def __init__(self, data: PreparedData, model: LogLinearModel, em: EMResult[Any, Any]) -> None:
        theta = None
        if em.degenerate is None and em.theta is not None:
            theta = model.probabilities(em.theta)
        loglik = logpost = math.nan
        if theta is not None:
            loglik = kernels.observed_loglik(theta, data.table)
            logpost = loglik + kernels.prior_penalty(theta, model.prior, model.free)
        record = FitRecord(
            variables=data.variables,
            levels=data.levels,
            n_units=data.n_units,
            n_rows=len(data.codes),
            n_patterns=len(data.table.patterns),
            loglik=loglik,
            logpost=logpost,
        )
        self._set(data, model, em, theta, record)

    @classmethod
    def restored(
        cls, model: LogLinearModel, em: EMResult[Any, Any], record: FitRecord
    ) -> CategoricalResult:
        """A fit without its data, from a saved record (``em.theta`` the cell probabilities)."""
        result = cls.__new__(cls)
        result._set(None, model, em, em.theta, record)
        return result

    def _set(
        self,
        data: PreparedData | None,
        model: LogLinearModel,
        em: EMResult[Any, Any],
        theta: np.ndarray | None,
        record: FitRecord,
    ) -> None:
        self._data = data
        self.model = model
        self.em = em
        self.record = record
        self._theta = theta
        self.degenerate: str | None = (
            None if theta is not None else em.degenerate or "EM ended without an estimate"
        )
        self.loglik = record.loglik
        self.logpost = record.logpost
        self.n_params = model.n_params()
        self.n = record.n_units

    # ----- state
    @property
    def ok(self) -> bool:
        """True when the fit ended with an estimate (``degenerate`` is None)."""
        return self.degenerate is None and self._theta is not None

    def _require_ok(self) -> np.ndarray:
        if self._theta is None or self.degenerate is not None:
            raise InputError(
                f"this categorical fit {self._model_text()} is degenerate: {self.degenerate}"
            )
        return self._theta

    def _require_data(self, what: str) -> PreparedData:
        if self._data is None:
            raise InputError(
                f"{what} needs the data, and a saved fit has no data; "
                "fit the model again with fit_categorical"
            )
        return self._data

    def _model_text(self) -> str:
        return (
            "(saturated)"
            if self.model.saturated
            else _describe_margins(self.model.margins, self.variables)
        )

    @property
    def data(self) -> PreparedData:
        """The prepared data (a saved fit has none: InputError)."""
        return self._require_data("the data")

    @property
    def has_data(self) -> bool:
        """False for a fit read back by :func:`emstat.load_fit`."""
        return self._data is not None

    @property
    def theta(self) -> np.ndarray:
        """Cell probabilities as an array of the table's shape."""
        return self._require_ok()

    # ----- basic quantities
    @property
    def variables(self) -> tuple[str, ...]:
        """The variables, in table-axis order."""
        return self.record.variables

    @property
    def margins(self) -> list[list[str]]:
        """The model's margins as lists of column names."""
        return [[self.variables[a] for a in m] for m in self.model.margins]

    @property
    def prior(self) -> float:
        """The Dirichlet hyperparameter."""
        return self.model.prior

    @cached_property
    def cell_index(self) -> pd.MultiIndex:
        """Every cell of the full table."""
        return pd.MultiIndex.from_product(list(self.record.levels), names=list(self.variables))

    @cached_property
    def probabilities(self) -> pd.Series:
        """Estimated cell probabilities over the full table."""
        return pd.Series(self.theta.reshape(-1), index=self.cell_index, name="probability")

    @cached_property
    def expected_counts(self) -> pd.Series:
        """E-step cell counts at the estimate.

        The observed data filled in by their conditional expectations.
        """
        data = self._require_data("expected_counts")
        expected, _ = kernels.e_step(self.theta, data.table)
        return pd.Series(expected.reshape(-1), index=self.cell_index, name="expected_count")

    @cached_property
    def fitted_counts(self) -> pd.Series:
        """``N * probability``: counts the model expects for the N units."""
        return (self.probabilities * self.n_units).rename("fitted_count")

    @property
    def n_iter(self) -> int:
        """M-steps taken (cat's iteration count)."""
        return self.em.n_iter

    @property
    def converged(self) -> bool:
        """Whether the stopping rule was met."""
        return self.em.converged

    @property
    def stop_reason(self) -> str:
        """Why EM stopped: converged, max_iter or degenerate."""
        return self.em.stop_reason

    @property
    def trace(self) -> np.ndarray:
        """Log-posterior (log-likelihood when prior = 1) after every E-step."""
        return self.em.trace

    @property
    def n_units(self) -> float:
        """Total count N."""
        return self.n

    @cached_property
    def patterns(self) -> pd.DataFrame:
        """Missingness patterns (True = observed) with rows and units, in prelim.cat's order."""
        data = self._require_data("patterns")
        records = []
        for mask, rows in _pattern_groups(data.codes >= 0):
            record: dict[str, Any] = {v: bool(o) for v, o in zip(self.variables, mask, strict=True)}
            record["n_rows"] = int(rows.size)
            record["count"] = float(data.counts[rows].sum())
            records.append(record)
        out = pd.DataFrame.from_records(records)
        out.index = pd.RangeIndex(1, len(out) + 1, name="pattern")
        return out

    def table(
        self, values: Literal["probability", "expected", "fitted"] = "probability"
    ) -> pd.DataFrame:
        """The table: a crosstab for two variables, a long DataFrame otherwise."""
        if values not in ("probability", "expected", "fitted"):
            raise InputError(
                f"values must be 'probability', 'expected' or 'fitted', got {values!r}"
            )
        series = {
            "probability": lambda: self.probabilities,
            "expected": lambda: self.expected_counts,
            "fitted": lambda: self.fitted_counts,
        }[values]()
        if len(self.variables) == 2:
            return series.unstack(level=1)
        return series.reset_index()

    # ----- inference
    @cached_property
    def covariance(self) -> pd.DataFrame | None:
        """Covariance of the cell probabilities (observed information); None if too large."""
        theta = self.theta
        data = self._require_data("covariance")
        if theta.size > _MAX_CELLS_FOR_SE:
            return None
        cov = kernels.cell_covariance(
            theta, data.table, self.model.margins, self.model.free, self.prior
        )
        return pd.DataFrame(cov, index=self.cell_index, columns=self.cell_index)

    @cached_property
    def std_errors(self) -> np.ndarray:
        """Standard errors of the cell probabilities (NaN where not available)."""
        theta = self.theta
        if self.record.std_errors is not None:
            return self.record.std_errors
        cov = self.covariance
        if cov is None:
            return np.full(theta.size, np.nan)
        return np.sqrt(np.clip(np.diag(cov.to_numpy()), 0, None))

    @cached_property
    def params(self) -> pd.DataFrame:
        """Tidy estimates with 95% intervals on the logit scale; see :meth:`conf_int`."""
        return self.conf_int(0.95)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """:meth:`estimates` at ``level``, with a ``scale`` column ("logit") saying where
        each interval is computed, as every fit's ``conf_int`` has."""
        wald_z(level)  # the one check, with the one message, of every fit's conf_int
        frame = self.estimates(level)
        frame["scale"] = "logit"
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The tidy parameter table (``params``)."""
        return self.params

    def estimates(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Tidy estimates: one row per cell.

        Columns: the variables (the cell's levels), ``parameter``,
        ``estimate``, ``std_err`` (from the observed information of the
        observed-data likelihood, plus the log-prior's when prior != 1) and a
        ``conf_level`` interval ``ci_low``/``ci_high`` computed on the logit
        scale (so it stays in (0, 1)).  Cells estimated at zero or
        structural get NaN errors.
        """
        if not 0 < conf_level < 1:
            raise InputError(f"conf_level must be in (0, 1), got {conf_level!r}")
        p = self.theta.reshape(-1)
        se = self.std_errors
        from scipy import special  # slow to import: when needed

        z = special.ndtri(0.5 + conf_level / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(p / (1 - p))
            half = z * se / (p * (1 - p))
            low = 1 / (1 + np.exp(-(logit - half)))
            high = 1 / (1 + np.exp(-(logit + half)))
        frame = self.cell_index.to_frame(index=False)
        frame["parameter"] = "probability"
        frame["estimate"] = p
        frame["std_err"] = se
        frame["ci_low"] = low
        frame["ci_high"] = high
        return frame

    def lrt(self, other: CategoricalResult) -> LRTResult:
        """Likelihood-ratio test between this model and a nested one on the same data.

        ``G2 = 2 (loglik_larger - loglik_smaller)`` on ``n_params`` difference
        degrees of freedom (chi-square reference).  Both fits must be MLEs
        (prior = 1).
        """
        if not isinstance(other, CategoricalResult):
            raise InputError(f"lrt needs another CategoricalResult, got {type(other).__name__}")
        mine, theirs = self._require_data("lrt"), other._require_data("lrt")
        self._require_ok()
        other._require_ok()
        if self.prior != 1.0 or other.prior != 1.0:
            raise InputError("a likelihood-ratio test needs maximum-likelihood fits (prior = 1)")
        if not _same_data(mine, theirs):
            raise InputError("the two fits are not on the same data (variables, levels, counts)")
        if _nested(self.model.margins, other.model.margins):
            small, big = self, other
        elif _nested(other.model.margins, self.model.margins):
            small, big = other, self
        else:
            raise InputError(
                f"models {_describe_margins(self.model.margins, self.variables)} and "
                f"{_describe_margins(other.model.margins, other.variables)} are not nested"
            )
        df = big.n_params - small.n_params
        stat = max(2.0 * (big.loglik - small.loglik), 0.0)
        from scipy import special  # slow to import: when needed

        p_value = float(special.chdtrc(df, stat)) if df > 0 else 1.0
        return LRTResult(
            statistic=stat,
            df=int(df),
            p_value=p_value,
            null=_describe_margins(small.model.margins, self.variables),
            alternative=_describe_margins(big.model.margins, self.variables),
        )

    # ----- imputation
    def impute(
        self,
        m: int = 5,
        seed: int | np.random.SeedSequence | None = 0,
        *,
        burn_in: int = 100,
        spacing: int = 50,
        prior: float | None = None,
    ) -> list[pd.DataFrame]:
        """Multiple imputations by data augmentation (cat's ``da.cat`` + ``imp.cat``).

        One chain from the estimate: an I-step draws the missing cells of
        every unit given its observed cells and the current table; a P-step
        draws the table from its posterior given the completed counts and a
        Dirichlet ``prior`` (default the fit's), by one cycle of Bayesian IPF
        (an exact Dirichlet draw for the saturated model).  After
        ``burn_in`` steps an imputation is taken, then one every
        ``spacing`` steps.

        Rows with a count column stand for that many units; each unit is
        imputed, and a row whose units get different completions is split
        into several rows (same index label, counts summing to the
        original).  Complete rows, and the order of rows, are unchanged;
        a row with count 0 gets one completion and keeps count 0.  Without
        a count column every row is one unit and the index is unchanged.

        Returns
        -------
        list of DataFrame
            ``m`` completed copies of the data with the original dtypes.
        """
        data = self._require_data("impute")
        estimate = self.theta
        for name, value, least in (("m", m, 1), ("burn_in", burn_in, 0), ("spacing", spacing, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")
        prior = self.prior if prior is None else _validate_prior(prior)
        if prior <= 0:
            raise InputError(
                f"imputation needs a prior > 0 (a proper Dirichlet posterior), got {prior!r}"
            )
        rng = np.random.default_rng(
            seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        )
        free = self.model.free
        theta = estimate if np.all(estimate[free] > 0) else free / free.sum()

        def step(theta: np.ndarray) -> np.ndarray:
            completed = kernels.draw_completed_table(theta, data.table, rng)
            return kernels.bayes_ipf_cycle(completed + prior, theta, self.model.margins, free, rng)

        out = []
        for i in range(m):
            for _ in range(burn_in if i == 0 else spacing):
                theta = step(theta)
            rows = kernels.draw_row_completions(theta, data.codes, data.counts, rng)
            out.append(self._completed_frame(rows))
        return out

    def _completed_frame(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
        frame = self.data.frame
        positions = np.concatenate([np.full(len(split), i) for i, (_, split) in enumerate(rows)])
        codes = np.vstack([c for c, _ in rows])
        out = frame.iloc[positions].copy()
        for j, (var, lv) in enumerate(zip(self.variables, self.data.levels, strict=True)):
            dtype = frame[var].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                values: Any = pd.Categorical.from_codes(codes[:, j], dtype=dtype)
            else:
                values = pd.Series(lv.take(codes[:, j]), index=out.index).astype(dtype)
            out[var] = values
        if self.data.counts_column is not None:
            split = np.concatenate([s for _, s in rows])
            out[self.data.counts_column] = pd.Series(split, index=out.index).astype(
                frame[self.data.counts_column].dtype
            )
        return out

    # ----- reporting
    def _summary_head(self) -> list[str]:
        model = (
            "saturated"
            if self.model.saturated
            else _describe_margins(self.model.margins, self.variables)
        )
        levels = ", ".join(
            f"{v} ({len(lv)})" for v, lv in zip(self.variables, self.record.levels, strict=True)
        )
        return [
            "Log-linear model for incomplete categorical data (EM/ECM, as R's cat)",
            f"Variables (levels): {levels}",
            f"Units: {self.n_units:g} in {self.record.n_rows} rows, "
            f"{self.record.n_patterns} missingness patterns",
            f"Model: {model}   prior: {self.prior:g}"
            + ("  (MLE)" if self.prior == 1 else "  (posterior mode)"),
            f"Stopping rule: {self.em.control.describe()}",
            f"Iterations: {self.n_iter}   converged: {self.converged}",
        ]

    def plot(self, kind: str = "trace", ax: Any = None) -> Any:
        """Draw the EM run: ``"trace"`` (log-likelihood per iteration) or ``"stopping"``.

        Returns the Axes; see :func:`emstat.plotting.plot_categorical`.
        """
        from emstat.plotting import plot_categorical

        return plot_categorical(self, kind, ax)

    def summary(self) -> str:
        """A text summary: data, model, convergence, fit and the estimates."""
        lines = self._summary_head()
        if not self.ok:
            return "\n".join([*lines, f"degenerate fit: {self.degenerate}"])
        lines += [
            f"Log-likelihood: {self.loglik:.6f}   parameters: {self.n_params}",
            f"AIC: {self.aic:.4f}   BIC: {self.bic:.4f}   ({CONVENTION_TEXT})",
        ]
        if self.prior != 1:
            lines.append(f"Log-posterior: {self.logpost:.6f}")
        table = self.params
        with pd.option_context("display.max_rows", 200, "display.width", 120):
            lines += ["", table.to_string(index=False, float_format=lambda x: f"{x:.6g}")]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<CategoricalResult {_describe_margins(self.model.margins, self.variables)} "
            f"loglik={self.loglik:.6g} n_iter={self.n_iter}>"
        )

    # ----- persistence
    def to_dict(self) -> dict[str, Any]:
        """The fit as a JSON-ready payload (format ``emstat.CategoricalResult/1``)."""
        from emstat.categorical.saved import fit_to_dict

        return fit_to_dict(self)

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; :func:`emstat.load_fit` reads it back (without the data)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def _same_data(a: PreparedData, b: PreparedData) -> bool:
    if a.variables != b.variables or a.shape != b.shape:
        return False
    if any(not x.equals(y) for x, y in zip(a.levels, b.levels, strict=True)):
        return False
    if not np.array_equal(a.free, b.free):
        return False
    pa, pb = a.table.patterns, b.table.patterns
    return len(pa) == len(pb) and all(
        x.observed == y.observed and np.array_equal(x.counts, y.counts)
        for x, y in zip(pa, pb, strict=True)
    )


def _nested(small: Sequence[tuple[int, ...]], big: Sequence[tuple[int, ...]]) -> bool:
    """Every term of ``small`` lies inside a term of ``big``."""
    return all(any(set(s) <= set(b) for b in big) for s in small)
