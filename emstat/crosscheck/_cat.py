"""Cross-check :func:`emstat.fit_categorical` against R's ``cat::em.cat`` / ``ecm.cat``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emstat.categorical.frontend import CategoricalResult, prepare_data
from emstat.errors import InputError

__all__ = ["CatCheck", "CatInputs", "cat", "cat_inputs", "compare_cat", "margins_vector"]

_R_CAT = r"""
.emstat_cat_run <- function(x, counts, margins, prior, maxits, eps) {
  s <- cat::prelim.cat(x, counts)
  trace <- utils::capture.output(theta <- if (is.null(margins)) {
    cat::em.cat(s, prior = prior, showits = TRUE, maxits = maxits, eps = eps)
  } else {
    cat::ecm.cat(s, margins = margins, prior = prior, showits = TRUE, maxits = maxits, eps = eps)
  })
  text <- paste(trace, collapse = " ")
  steps <- regmatches(text, gregexpr("[0-9]+(?=[.][.][.])", text, perl = TRUE))[[1]]
  list(theta_colmajor = as.numeric(theta), dim = as.integer(dim(theta)),
       loglik = cat::logpost.cat(s, theta),
       iterations = if (length(steps)) max(as.integer(steps)) else NA_integer_,
       version = as.character(utils::packageVersion("cat")))
}
"""


@dataclass(frozen=True, eq=False)
class CatInputs:
    """A DataFrame as ``prelim.cat(x, counts)`` takes it.

    ``x`` holds level codes 1..d_j (NaN where missing), one row per row of
    the frame with a positive count; ``counts`` the units per row.
    """

    x: np.ndarray
    counts: np.ndarray
    variables: tuple[str, ...]
    levels: tuple[pd.Index, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """Levels per variable (the table's dimensions)."""
        return tuple(len(lv) for lv in self.levels)


def cat_inputs(
    data: pd.DataFrame, counts: str | None = None, variables: Sequence[str] | None = None
) -> CatInputs:
    """Turn a frame into cat's matrix of codes and counts, as emstat reads it.

    Levels are a categorical's categories or the sorted distinct values
    (:func:`emstat.categorical.frontend.prepare_data`); code j stands for
    the j-th level.  Rows with count 0 are dropped: emstat ignores them,
    and cat, which keeps them, can stop on them.

    Raises
    ------
    InputError
        When the last level of a variable is never observed: ``prelim.cat``
        takes the number of levels from the largest code, so its table would
        be smaller than emstat's.

    Examples
    --------
    >>> frame = pd.DataFrame(
    ...     {"A": ["a", "b", None, "a"], "B": [1, 2, 2, 1], "n": [3, 1, 4, 0]}
    ... )
    >>> ins = cat_inputs(frame, counts="n")
    >>> ins.x.tolist(), ins.counts.tolist()
    ([[1.0, 1.0], [2.0, 2.0], [nan, 2.0]], [3.0, 1.0, 4.0])
    """
    prepared = prepare_data(data, counts, variables)
    keep = prepared.counts > 0
    x = prepared.codes[keep].astype(float) + 1.0
    x[prepared.codes[keep] < 0] = np.nan
    for j, name in enumerate(prepared.variables):
        if np.nanmax(x[:, j]) < len(prepared.levels[j]):
            raise InputError(
                f"variable {name!r}: its last level {prepared.levels[j][-1]!r} is never "
                "observed, and cat's prelim.cat would drop it"
            )
    return CatInputs(x, prepared.counts[keep], prepared.variables, prepared.levels)


def margins_vector(
    margins: Sequence[Sequence[str] | str] | None, variables: Sequence[str]
) -> list[int] | None:
    """emstat's margins as cat's vector: 1-based variable numbers, 0 between terms.

    Examples
    --------
    >>> margins_vector([["V1", "V2"], ["V3", "V4"]], ["V1", "V2", "V3", "V4"])
    [1, 2, 0, 3, 4]
    >>> margins_vector(None, ["V1"]) is None
    True
    """
    if margins is None:
        return None
    if isinstance(margins, str):
        raise InputError(f"margins must be a list of lists of names, got the string {margins!r}")
    out: list[int] = []
    for i, term in enumerate(margins):
        names = [term] if isinstance(term, str) else list(term)
        unknown = [n for n in names if n not in variables]
        if unknown or not names:
            raise InputError(f"margin {names} names no known variables; variables: {variables}")
        if i:
            out.append(0)
        out.extend(list(variables).index(n) + 1 for n in names)
    return out


def _theta_colmajor(fit: CategoricalResult) -> np.ndarray:
    shape = tuple(len(lv) for lv in fit.cell_index.levels)
    probs = fit.probabilities.reindex(fit.cell_index).to_numpy(dtype=float)
    return probs.reshape(shape).ravel(order="F")


@dataclass(frozen=True, eq=False)
class CatCheck:
    """emstat's and cat's cell probabilities side by side, with the verdict."""

    table: pd.DataFrame
    loglik: tuple[float, float]
    iterations: tuple[int, float]
    tol: float
    call: str
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def max_abs_diff(self) -> float:
        """Largest absolute difference of a cell probability."""
        return float(self.table["abs_diff"].max())

    @property
    def loglik_rel_diff(self) -> float:
        """Relative difference of the log-likelihoods."""
        a, b = self.loglik
        return abs(a - b) / max(abs(a), abs(b), 1e-300)

    @property
    def agree(self) -> bool:
        """Every cell within ``tol`` (absolute) and the log-likelihoods (relative)."""
        return self.max_abs_diff <= self.tol and self.loglik_rel_diff <= self.tol

    def summary(self) -> str:
        """The table and the verdict as text."""
        text = self.table.to_string(index=False, float_format=lambda v: f"{v:.10g}", na_rep="NA")
        its = "NA" if math.isnan(self.iterations[1]) else str(int(self.iterations[1]))
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return (
            f"emstat vs R {self.call}" + (f" ({versions})" if versions else "") + "\n"
            "both: cat's stopping rule, every cell |old - new| <= 1e-4 |old|, uniform start\n\n"
            f"{text}\n\nloglik: emstat {self.loglik[0]:.10f}, R {self.loglik[1]:.10f} "
            f"(relative difference {self.loglik_rel_diff:.1e})\n"
            f"iterations: emstat {self.iterations[0]}, R {its}\n"
            f"largest |theta difference| {self.max_abs_diff:.1e} (tol {self.tol:g}): "
            + ("AGREE" if self.agree else "DISAGREE")
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)


def compare_cat(
    fit: CategoricalResult, r: Mapping[str, Any], tol: float = 1e-6, call: str = "cat"
) -> CatCheck:
    """Compare an emstat fit with R's answer.

    ``r`` holds ``theta_colmajor`` (R's array in column-major order),
    ``dim``, ``loglik`` (``logpost.cat`` without prior) and optionally
    ``iterations`` and ``version``: what :func:`cat` gets from R, and the
    ``estimates`` entries of the frozen reference files.
    """
    ours = _theta_colmajor(fit)
    theirs = np.asarray(r["theta_colmajor"], dtype=float).ravel()
    dims = tuple(int(v) for v in np.atleast_1d(r["dim"]))
    shape = tuple(len(lv) for lv in fit.cell_index.levels)
    if dims != shape or theirs.size != ours.size:
        raise InputError(f"R's table has dimensions {dims}, emstat's {shape}")
    levels = [fit.cell_index.levels[i] for i in range(len(shape))]
    names = list(fit.cell_index.names)
    # Column-major order: the first variable varies fastest.
    colmajor = pd.MultiIndex.from_product(levels[::-1], names=names[::-1])
    table = colmajor.to_frame(index=False)[names]
    table["theta_emstat"] = ours
    table["theta_r"] = theirs
    table["abs_diff"] = np.abs(ours - theirs)
    iterations = r.get("iterations")
    return CatCheck(
        table=table,
        loglik=(float(fit.loglik), float(r["loglik"])),
        iterations=(int(fit.n_iter), math.nan if iterations is None else float(iterations)),
        tol=float(tol),
        call=call,
        versions={"cat": str(r["version"])} if r.get("version") else {},
    )


def _r_call_text(margins: list[int] | None, prior: float) -> str:
    if margins is None:
        return f"cat::em.cat(s, prior = {prior:g})"
    return f"cat::ecm.cat(s, margins = c({', '.join(map(str, margins))}), prior = {prior:g})"


def cat(
    data: pd.DataFrame,
    margins: Sequence[Sequence[str] | str] | None = None,
    prior: float = 1.0,
    counts: str | None = None,
    *,
    variables: Sequence[str] | None = None,
    tol: float = 1e-6,
) -> CatCheck:
    """Fit with emstat and with R's cat (``em.cat``, or ``ecm.cat`` given margins); compare.

    Both start from the uniform table and stop when every cell changes by
    at most 1e-4 of its value (cat's defaults, ``maxits = 1000``).

    Raises
    ------
    RPackageMissingError
        When R lacks cat: "R package 'cat' is not installed;
        install.packages('cat') in R".
    OptionalDependencyError, RError
        When rpy2/R is missing, or R fails (R's message).
    """
    from emstat import _r
    from emstat.categorical.frontend import CAT_CONTROL, fit_categorical

    inputs = cat_inputs(data, counts, variables)
    mvec = margins_vector(margins, inputs.variables)
    ro = _r.r_session()
    _r.require_r_package("cat")
    ro.r(_R_CAT)
    out = _r.r_call(
        ro.globalenv[".emstat_cat_run"],
        _r.to_r_matrix(inputs.x, inputs.variables),
        ro.vectors.FloatVector(inputs.counts.tolist()),
        None if mvec is None else ro.vectors.IntVector(mvec),
        float(prior),
        int(CAT_CONTROL.max_iter),
        float(CAT_CONTROL.tol),
    )
    fit = fit_categorical(
        data,
        counts,
        variables=variables,
        margins=margins,
        prior=prior,
        control=CAT_CONTROL,
    )
    return compare_cat(fit, _r.to_python(out.value), tol, _r_call_text(mvec, prior))
