"""A thin, lazy bridge to R through rpy2 (the ``[r]`` extra).

Nothing here imports rpy2 at module import time: :func:`r_session` does, and
raises :class:`emstat.errors.OptionalDependencyError` naming the extra when
rpy2 (or R itself) is missing.  Every call into R goes through
:func:`r_call`, which runs the R function inside ``tryCatch`` and turns an R
error into one :class:`emstat.errors.RError` carrying R's own message; R's
warnings are collected instead of printed.

Data frames cross with their column names, row names and factor levels
intact (:func:`to_r_dataframe`, :func:`from_r_dataframe`); R lists come back
as dicts of numpy arrays and scalars (:func:`to_python`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat._optional import require
from emstat.errors import EmstatError, InputError, OptionalDependencyError, RError

__all__ = [
    "RPackageMissingError",
    "RResult",
    "from_r_dataframe",
    "r_call",
    "r_has_package",
    "r_session",
    "require_r_package",
    "to_python",
    "to_r_dataframe",
    "to_r_matrix",
    "to_r_vector",
]

EXTRA = "r"

# R helpers, defined once per session in the global environment (hidden names).
_R_HELPERS = r"""
.emstat_try <- function(f, args) {
  warns <- character()
  value <- withCallingHandlers(
    tryCatch(do.call(f, args), error = function(e) {
      call <- conditionCall(e)
      where <- if (is.call(call)) paste(deparse(call[[1]]), collapse = "") else ""
      structure(list(message = conditionMessage(e), where = where),
                class = "emstat_r_error")
    }),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  ok <- !inherits(value, "emstat_r_error")
  list(ok = ok, value = if (ok) value else NULL,
       message = if (ok) "" else value$message,
       where = if (ok) "" else value$where,
       warnings = warns)
}
.emstat_data_frame <- function(cols, nms, rn) {
  names(cols) <- nms
  if (is.null(rn)) rn <- .set_row_names(if (length(cols)) length(cols[[1]]) else 0L)
  structure(cols, class = "data.frame", row.names = rn)
}
.emstat_factor <- function(codes, levels, ordered) {
  structure(codes, levels = levels,
            class = if (ordered) c("ordered", "factor") else "factor")
}
.emstat_describe_df <- function(df) {
  list(names = names(df),
       automatic_rownames = .row_names_info(df) < 0L,
       rownames = as.character(row.names(df)),
       columns = lapply(df, function(col) list(
         kind = if (is.factor(col)) "factor" else typeof(col),
         ordered = is.ordered(col),
         levels = if (is.factor(col)) levels(col) else NULL,
         values = if (is.factor(col)) as.integer(col) else col,
         na = is.na(col))))
}
"""


class RPackageMissingError(OptionalDependencyError):
    """An R package a cross-check needs is not installed in R."""


@dataclass(frozen=True)
class RResult:
    """What :func:`r_call` got back: the R value and R's warnings."""

    value: Any
    warnings: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def r_session() -> Any:
    """Import rpy2, start R, define emstat's helpers; return ``rpy2.robjects``.

    Raises
    ------
    OptionalDependencyError
        When rpy2 is not installed or R cannot be started; the message names
        the extra (``pip install 'emstat[r]'``).
    """
    # Starting R sets LD_LIBRARY_PATH to R's and the system's library folders; child
    # processes (worker pools, Dask nannies) would then load the system's libssl
    # beside Python's own and fail to import ssl.  R is loaded by then: restore it.
    library_path = os.environ.get("LD_LIBRARY_PATH")
    try:
        robjects = require("rpy2.robjects", EXTRA)
    except OptionalDependencyError:
        raise
    except Exception as exc:  # rpy2 raises assorted errors when R itself is unusable
        raise OptionalDependencyError(
            f"R could not be started through rpy2 ({type(exc).__name__}: {exc}); "
            f"install R >= 4.2 and pip install 'emstat[r]'"
        ) from exc
    finally:
        if library_path is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = library_path
    robjects.r(_R_HELPERS)
    return robjects


def r_has_package(name: str) -> bool:
    """True when R can load package ``name`` (``requireNamespace``)."""
    ro = r_session()
    found = ro.r["requireNamespace"](name, quietly=True)
    return bool(found[0])


def require_r_package(name: str) -> None:
    """Attach R package ``name`` quietly, or raise :class:`RPackageMissingError`.

    The message is one line: ``R package 'cat' is not installed;
    install.packages('cat') in R``.
    """
    if not r_has_package(name):
        raise RPackageMissingError(
            f"R package {name!r} is not installed; install.packages({name!r}) in R"
        )
    ro = r_session()
    ro.r(f"suppressPackageStartupMessages(library({name}))")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def r_call(function: str | Any, *args: Any, **kwargs: Any) -> RResult:
    """Call an R function (a name like ``"mclust::Mclust"`` or an R closure).

    Positional and keyword arguments must already be R objects (see
    :func:`to_r_vector`, :func:`to_r_matrix`, :func:`to_r_dataframe`);
    ``None`` becomes ``NULL``.

    Raises
    ------
    RError
        With R's message, on one line, when the R function fails.
    """
    ro = r_session()
    f = ro.r(function) if isinstance(function, str) else function
    null = ro.NULL
    pos = [null if a is None else a for a in args]
    named = {k: (null if v is None else v) for k, v in kwargs.items()}
    arglist = ro.r["list"](*pos, **named)
    out = ro.globalenv[".emstat_try"](f, arglist)
    ok = bool(out.rx2("ok")[0])
    warns = tuple(str(w) for w in out.rx2("warnings"))
    if not ok:
        where = str(out.rx2("where")[0])
        message = _one_line(out.rx2("message")[0])
        label = where if where else (function if isinstance(function, str) else "R")
        raise RError(f"R error in {label}(): {message}")
    return RResult(out.rx2("value"), warns)


# --------------------------------------------------------------------------- to R


def to_r_vector(values: Any) -> Any:
    """A 1-D array or list to an R atomic vector, NaN/None as ``NA``.

    float -> double, integer -> integer, bool -> logical, anything else ->
    character.
    """
    ro = r_session()
    series = pd.Series(values)
    missing = series.isna().to_numpy()
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ro.vectors.BoolVector(
            [ro.NA_Logical if m else bool(v) for v, m in zip(series, missing, strict=True)]
        )
    if pd.api.types.is_integer_dtype(dtype):
        return ro.vectors.IntVector(
            [ro.NA_Integer if m else int(v) for v, m in zip(series, missing, strict=True)]
        )
    if pd.api.types.is_float_dtype(dtype):
        return ro.vectors.FloatVector(
            [ro.NA_Real if m else float(v) for v, m in zip(series, missing, strict=True)]
        )
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return ro.vectors.StrVector(
            [ro.NA_Character if m else str(v) for v, m in zip(series, missing, strict=True)]
        )
    raise InputError(f"cannot pass values of dtype {dtype} to R")


def to_r_matrix(values: np.ndarray, colnames: Sequence[str] | None = None) -> Any:
    """A 2-D float array to an R numeric matrix (column names kept)."""
    ro = r_session()
    a = np.asarray(values, dtype=float)
    if a.ndim != 2:
        raise InputError(f"a matrix for R must be 2-D, got shape {a.shape}")
    flat = [ro.NA_Real if math.isnan(v) else float(v) for v in a.ravel(order="F")]
    m = ro.r["matrix"](ro.vectors.FloatVector(flat), nrow=a.shape[0], ncol=a.shape[1])
    if colnames is not None:
        m = ro.r["structure"](
            m,
            dimnames=ro.r["list"](ro.NULL, ro.vectors.StrVector([str(c) for c in colnames])),
        )
    return m


def _r_factor(column: pd.Series) -> Any:
    ro = r_session()
    codes = np.asarray(column.cat.codes, dtype=np.int64)
    levels = [str(c) for c in column.cat.categories]
    if len(set(levels)) != len(levels):
        raise InputError(f"column {column.name!r}: its categories are not distinct as text")
    r_codes = ro.vectors.IntVector([ro.NA_Integer if c < 0 else int(c) + 1 for c in codes])
    return ro.globalenv[".emstat_factor"](
        r_codes, ro.vectors.StrVector(levels), bool(column.cat.ordered)
    )


def _r_column(name: str, column: pd.Series) -> Any:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _r_factor(column)
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or pd.api.types.is_complex_dtype(
        column.dtype
    ):
        raise InputError(f"column {name!r} has dtype {column.dtype}, which emstat cannot send to R")
    return to_r_vector(column)


def _row_names(index: pd.Index) -> list[str] | None:
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return None
    labels = [str(v) for v in index]
    return labels if len(set(labels)) == len(labels) else None


def to_r_dataframe(frame: pd.DataFrame) -> Any:
    """A pandas DataFrame to an R ``data.frame``.

    Numeric, boolean and text columns become double, integer, logical and
    character vectors (missing values as ``NA``); pandas categoricals become
    factors with the same levels in the same order (ordered ones become
    ordered factors).  Column names are kept as they are (no
    ``make.names``); a non-default, unique index becomes the row names.

    Raises
    ------
    InputError
        For a column of a type R cannot hold here (dates, complex numbers)
        or duplicated column names.
    """
    ro = r_session()
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError(f"column names repeat: {names}")
    cols = [_r_column(name, frame[col]) for name, col in zip(names, frame.columns, strict=True)]
    rn = _row_names(frame.index)
    return ro.globalenv[".emstat_data_frame"](
        ro.r["list"](*cols),
        ro.vectors.StrVector(names),
        ro.NULL if rn is None else ro.vectors.StrVector(rn),
    )


# --------------------------------------------------------------------------- from R


def _column_from_r(info: Mapping[str, Any]) -> pd.Series | pd.Categorical:
    kind = info["kind"]
    na = np.atleast_1d(np.asarray(info["na"], dtype=bool))
    if kind == "factor":
        raw = np.atleast_1d(np.asarray(info["values"], dtype=float))
        codes = np.where(na, 0.0, raw).astype(np.int64) - 1
        codes[na] = -1
        levels = pd.Index([] if info["levels"] is None else list(np.atleast_1d(info["levels"])))
        return pd.Categorical.from_codes(codes, categories=levels, ordered=bool(info["ordered"]))
    values = np.atleast_1d(info["values"])
    if kind == "double":
        out = values.astype(float)
        out[na] = np.nan
        return pd.Series(out)
    if kind == "integer":
        ints = [None if m else int(v) for v, m in zip(values, na, strict=True)]
        return pd.Series(pd.array(ints, dtype="Int64"))
    if kind == "logical":
        flags = [None if m else bool(v) for v, m in zip(values, na, strict=True)]
        return pd.Series(pd.array(flags, dtype="boolean"))
    if kind == "character":
        return pd.Series(
            [None if m else str(v) for v, m in zip(values, na, strict=True)], dtype=object
        )
    raise InputError(f"cannot bring an R column of type {kind!r} into pandas")


def from_r_dataframe(rdf: Any) -> pd.DataFrame:
    """An R ``data.frame`` to pandas: factors become categoricals with their levels.

    Integer and logical columns become pandas' nullable ``Int64`` and
    ``boolean`` (R's ``NA`` as ``<NA>``); doubles stay float (``NA`` as NaN);
    character columns become object columns (``NA`` as None).  Automatic
    row names give a RangeIndex, others a text index.
    """
    ro = r_session()
    info = to_python(ro.globalenv[".emstat_describe_df"](rdf))
    names = [str(n) for n in np.atleast_1d(info["names"])] if info["names"] is not None else []
    columns = info["columns"]
    col_infos = list(columns.values()) if isinstance(columns, dict) else list(columns or [])
    data = {name: _column_from_r(ci) for name, ci in zip(names, col_infos, strict=True)}
    n = len(np.atleast_1d(info["rownames"])) if info["rownames"] is not None else 0
    index: pd.Index = (
        pd.RangeIndex(n)
        if bool(info["automatic_rownames"])
        else pd.Index([str(v) for v in np.atleast_1d(info["rownames"])])
    )
    frame = pd.DataFrame(
        {
            name: (np.asarray(col) if isinstance(col, pd.Series) else col)
            for name, col in data.items()
        },
        index=index,
    )
    for name, col in data.items():  # keep nullable dtypes that np.asarray would drop
        if isinstance(col, pd.Series):
            frame[name] = col.array
    return frame


def _atomic_to_python(obj: Any, ro: Any) -> Any:
    na = np.asarray(ro.r["is.na"](obj), dtype=bool)
    dims = obj.do_slot("dim") if "dim" in list(obj.list_attrs()) else None
    if isinstance(obj, ro.vectors.StrVector):
        texts = [None if m else str(v) for v, m in zip(obj, na, strict=True)]
        arr: np.ndarray = np.array(texts, dtype=object)
    elif isinstance(obj, ro.vectors.BoolVector):
        arr = np.array(
            [bool(v) if not m else False for v, m in zip(obj, na, strict=True)], dtype=bool
        )
        if na.any():
            arr = np.where(na, np.nan, arr.astype(float))
    else:
        arr = np.asarray(obj, dtype=float)
        arr[na] = np.nan
        if isinstance(obj, ro.vectors.IntVector) and not na.any():
            arr = arr.astype(np.int64)
    if dims is not None:
        return arr.reshape(tuple(int(d) for d in dims), order="F")
    return arr[0] if arr.size == 1 else arr


def to_python(obj: Any) -> Any:
    """An R value to plain Python: named lists to dicts, vectors to arrays.

    ``NULL`` -> None; a length-1 vector without ``dim`` -> a scalar; a
    vector with ``dim`` -> an array of that shape (R's column-major order
    respected); ``NA`` -> NaN (None in character vectors).
    """
    ro = r_session()
    if obj is ro.NULL or obj is None or isinstance(obj, type(ro.NULL)):
        return None
    if isinstance(obj, ro.vectors.ListVector) or (
        isinstance(obj, ro.vectors.Vector) and str(ro.r["typeof"](obj)[0]) == "list"
    ):
        items = [to_python(v) for v in obj]
        names = obj.names
        if names is not ro.NULL and names is not None and len(names) == len(items):
            return {str(k): v for k, v in zip(names, items, strict=True)}
        return items
    if isinstance(obj, ro.vectors.Vector):
        return _atomic_to_python(obj, ro)
    raise EmstatError(f"cannot convert an R object of class {list(obj.rclass)} to Python")
