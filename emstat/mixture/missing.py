"""Gaussian mixtures with missing coordinates: the observed-data likelihood inside EM.

A row with some coordinates missing contributes ``log Σ_k π_k N(x_o; μ_k,o,
Σ_k,oo)``, the density of what was observed.  The E-step takes, for every
component, the conditional Gaussian of the missing part given the observed
part (McLachlan & Krishnan 2008, 2.2; Ghahramani & Jordan 1994)::

    x̂_m = μ_m + Σ_mo Σ_oo⁻¹ (x_o - μ_o),    C = Σ_mm - Σ_mo Σ_oo⁻¹ Σ_om

and fills the usual statistics with their conditional expectations:
``Σ z_ik x̂_ik`` and ``Σ z_ik (x̂_ik x̂_ikᵀ + C_k)`` (C in the missing block).
Those statistics still add over rows and chunks, so every M-step of
:mod:`emstat.mixture.covariance` serves unchanged, and chunked and Dask fits
work as they do with complete rows.

The work is grouped by missingness pattern: the complete rows keep the fused
compiled E-step, and each pattern of incomplete rows takes one factorisation
of ``Σ_k,oo`` per component and vectorised products over its rows.  Rows with
every coordinate missing carry no information and are left out of the fit.

The fit assumes the values are missing at random (MAR): the probability that
a value is missing may depend on what was observed, not on the value itself.

Starts (``hc``, ``quantile``, ``kmeans++``, ``random`` and user labels) are
computed on the complete rows; when fewer than ``10 (d + 1)`` rows are
complete, on every row with its missing cells set to their column's observed
mean.  Either way the first M-step uses those rows only, and every E-step
after it uses all rows with their observed-data likelihood.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from emstat._validation import describe_labels
from emstat.errors import DegenerateFitError, InputError
from emstat.mixture import fused, gaussian
from emstat.mixture.gaussian import GaussianParams, GaussianStats, ScatterKind

__all__ = [
    "MISSING_OPTIONS",
    "IncompleteRows",
    "MissingLayout",
    "MissingSummary",
    "check_missing",
    "conditional_means",
    "draw_missing",
    "e_step",
    "log_responsibilities",
    "numpy_e_step",
]

MISSING_OPTIONS = ("em", "error")

#: What every summary and report says about a fit with missing cells.
MAR_NOTE = "assumes the values are missing at random (observed-data likelihood)"

_LOG_2PI = math.log(2.0 * math.pi)


def check_missing(missing: Any) -> str:
    """``missing`` as one of :data:`MISSING_OPTIONS` (InputError naming the choices)."""
    if not isinstance(missing, str) or missing not in MISSING_OPTIONS:
        raise InputError(
            f"missing must be one of {', '.join(map(repr, MISSING_OPTIONS))}, got {missing!r}"
        )
    return missing


# --- data layout ---------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    """Rows sharing one set of observed columns (at least one observed, one missing)."""

    rows: np.ndarray  # positions among the rows handed to IncompleteRows
    observed: np.ndarray  # column positions observed
    missing: np.ndarray  # column positions missing
    values: np.ndarray  # (n_p, len(observed)) the observed values, C order


@dataclass(frozen=True)
class KernelLayout:
    """The incomplete rows as the compiled E-step reads them.

    ``zero_filled``: the rows in pattern order, missing cells 0; ``blocks``:
    each block's first row, length and pattern (a block holds one pattern);
    ``columns``: each pattern's observed and missing columns (padded to d)
    and how many are observed.
    """

    zero_filled: np.ndarray
    blocks: tuple[np.ndarray, np.ndarray, np.ndarray]
    columns: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class IncompleteRows:
    """Rows with NaN for the missing cells, laid out for the E-step.

    ``complete`` holds the complete rows (C order, for the fused kernel);
    each :class:`Pattern` the observed values of its rows.  Rows with every
    cell missing are in neither: they carry no information.
    """

    complete: np.ndarray
    complete_rows: np.ndarray
    patterns: tuple[Pattern, ...]
    d: int
    n_rows: int  # every row handed in, the empty ones too
    layout: KernelLayout | None = None  # the compiled E-step's (None: no incomplete rows)

    @classmethod
    def from_array(cls, x: np.ndarray) -> IncompleteRows:
        """Group the rows of ``x`` (n, d), NaN marking a missing cell, by pattern."""
        x = np.asarray(x, dtype=np.float64)
        n, d = x.shape
        codes, masks = _pattern_codes(np.isnan(x))
        complete_rows = np.flatnonzero(codes == 0)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        ends = np.r_[starts[1:], n]
        patterns = []
        for a, b in zip(starts, ends, strict=True):
            code = int(sorted_codes[a]) if n else 0
            mask = masks[code]
            if code == 0 or mask.all():
                continue
            rows = order[a:b]
            observed = np.flatnonzero(~mask)
            values = np.ascontiguousarray(x[np.ix_(rows, observed)])
            patterns.append(Pattern(rows, observed, np.flatnonzero(mask), values))
        whole = complete_rows.size == n
        complete = np.ascontiguousarray(x if whole else x[complete_rows])
        if not patterns:
            return cls(complete, complete_rows, (), d, n)
        incomplete = np.concatenate([p.rows for p in patterns])
        layout = KernelLayout(
            np.nan_to_num(x[incomplete], nan=0.0),
            block_layout(np.array([p.rows.size for p in patterns])),
            _pattern_columns(patterns, d),
        )
        return cls(complete, complete_rows, tuple(patterns), d, n, layout)

    @property
    def n_fitted(self) -> int:
        """Rows with at least one observed coordinate."""
        return int(self.complete_rows.size + sum(p.rows.size for p in self.patterns))


#: Rows per block of the compiled E-step (each block holds rows of one pattern).
BLOCK_ROWS = 512


def block_layout(pattern_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First row, length and pattern of every block, for rows sorted by pattern."""
    sizes = np.asarray(pattern_sizes, dtype=np.int64)
    per_pattern = -(-sizes // BLOCK_ROWS)
    pattern = np.repeat(np.arange(sizes.size, dtype=np.int64), per_pattern)
    offset_in_pattern = (
        np.arange(pattern.size, dtype=np.int64)
        - np.repeat(np.cumsum(per_pattern) - per_pattern, per_pattern)
    ) * BLOCK_ROWS
    pattern_start = np.repeat(np.cumsum(sizes) - sizes, per_pattern)
    first = pattern_start + offset_in_pattern
    length = np.minimum(BLOCK_ROWS, sizes[pattern] - offset_in_pattern)
    return first, length, pattern


def _pattern_columns(
    patterns: Sequence[Pattern], d: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pattern's observed columns and missing columns (padded to d), and how many observed."""
    observed = np.zeros((len(patterns), d), dtype=np.int64)
    missing = np.zeros((len(patterns), d), dtype=np.int64)
    n_observed = np.array([p.observed.size for p in patterns], dtype=np.int64)
    for j, p in enumerate(patterns):
        observed[j, : p.observed.size] = p.observed
        missing[j, : p.missing.size] = p.missing
    return observed, missing, n_observed


def _pattern_codes(mask: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One integer per row naming its missingness pattern (0: complete), and each code's mask."""
    d = mask.shape[1]
    if d <= 62:
        codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(d, dtype=np.int64))
        unique = np.unique(codes)
        bits = (unique[:, None] >> np.arange(d)) & 1
        return codes, {int(c): b.astype(bool) for c, b in zip(unique, bits, strict=True)}
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    # code 0 must stay the complete pattern
    shift = 0 if not patterns[0].any() else 1
    codes = inverse.reshape(-1).astype(np.int64) + shift
    table = {int(j + shift): patterns[j] for j in range(patterns.shape[0])}
    if shift:
        table[0] = np.zeros(d, dtype=bool)
    return codes, table


# --- conditional Gaussians -------------------------------------------------------------
@dataclass(frozen=True)
class _Conditional:
    """Each component's Gaussian of one pattern's observed part, and its regression of the rest."""

    log_norm: np.ndarray  # (k,) log π_k - ½ log|Σ_k,oo| - p/2 log 2π
    whiten: np.ndarray  # (k, p, p): (x_o - μ_o) @ whiten[k] has identity covariance
    regression: np.ndarray  # (k, p, q): x̂_m = μ_m + (x_o - μ_o) @ regression[k]
    residual: np.ndarray  # (k, q, q): Σ_mm - Σ_mo Σ_oo⁻¹ Σ_om


def _conditional(theta: GaussianParams, observed: np.ndarray, missing: np.ndarray) -> _Conditional:
    cov = theta.covariances
    s_oo = cov[:, observed[:, None], observed[None, :]]
    s_om = cov[:, observed[:, None], missing[None, :]]
    s_mm = cov[:, missing[:, None], missing[None, :]]
    try:
        chol = np.linalg.cholesky(s_oo)
    except np.linalg.LinAlgError:
        raise DegenerateFitError(
            "a component's covariance of the observed coordinates is not positive definite"
        ) from None
    eye = np.broadcast_to(np.eye(observed.size), s_oo.shape)
    inv_chol = np.linalg.solve(chol, eye)  # L⁻¹
    # U = L⁻ᵀ: Uᵀ Σ_oo U = I; upper triangular (exactly: the compiled E-step skips the rest)
    whiten = np.triu(inv_chol.transpose(0, 2, 1))
    regression = whiten @ (inv_chol @ s_om)  # Σ_oo⁻¹ Σ_om
    residual = s_mm - s_om.transpose(0, 2, 1) @ regression
    with np.errstate(divide="ignore"):
        log_weights = np.log(theta.weights)
    log_det = 2.0 * np.log(np.einsum("kii->ki", chol)).sum(axis=1)
    log_norm = log_weights - 0.5 * (log_det + observed.size * _LOG_2PI)
    return _Conditional(log_norm, whiten, regression, residual)


def _pattern_log_densities(
    values: np.ndarray, observed: np.ndarray, theta: GaussianParams, cond: _Conditional
) -> tuple[np.ndarray, list[np.ndarray]]:
    """log π_k + log N(x_o; μ_k,o, Σ_k,oo), shape (n_p, k), and each component's x_o - μ_k,o."""
    n_p = values.shape[0]
    log_dens = np.empty((n_p, theta.k))
    residuals = []
    for j in range(theta.k):
        r = values - theta.means[j, observed]
        y = r @ cond.whiten[j]
        log_dens[:, j] = cond.log_norm[j] - 0.5 * np.einsum("np,np->n", y, y)
        residuals.append(r)
    return log_dens, residuals


def _normalise(log_dens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    row_loglik = gaussian.logsumexp_rows(log_dens)
    with np.errstate(invalid="ignore"):
        return log_dens - row_loglik[:, None], row_loglik


def _filled(
    pattern: Pattern, theta: GaussianParams, cond: _Conditional, r: np.ndarray, j: int
) -> np.ndarray:
    """Rows of ``pattern`` with their missing cells set to component j's conditional means."""
    full = np.empty((pattern.values.shape[0], theta.d))
    full[:, pattern.observed] = pattern.values
    full[:, pattern.missing] = theta.means[j, pattern.missing] + r @ cond.regression[j]
    return full


def _pattern_e_step(
    pattern: Pattern, theta: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """Expected statistics and observed-data log-likelihood of one pattern's rows."""
    cond = _conditional(theta, pattern.observed, pattern.missing)
    log_dens, residuals = _pattern_log_densities(pattern.values, pattern.observed, theta, cond)
    log_resp, row_loglik = _normalise(log_dens)
    resp = np.exp(log_resp)
    k, d = theta.k, theta.d
    nk = resp.sum(axis=0)
    sums = np.empty((k, d))
    second = np.empty((k, d)) if scatter == "diag" else np.empty((k, d, d))
    mis = pattern.missing
    for j in range(k):
        full = _filled(pattern, theta, cond, residuals[j], j)
        z = resp[:, j]
        sums[j] = z @ full
        if scatter == "diag":
            second[j] = z @ (full * full)
            second[j, mis] += nk[j] * np.diagonal(cond.residual[j])
        else:
            second[j] = (full * z[:, None]).T @ full
            second[j][np.ix_(mis, mis)] += nk[j] * cond.residual[j]
    stats = GaussianStats(nk, sums, second, float(log_resp.max(axis=1).sum()))
    return stats, float(row_loglik.sum())


def _zero_stats(k: int, d: int, scatter: ScatterKind) -> GaussianStats:
    second = np.zeros((k, d)) if scatter == "diag" else np.zeros((k, d, d))
    return GaussianStats(np.zeros(k), np.zeros((k, d)), second, 0.0)


@cache
def _kernels() -> Any:
    """The compiled E-step of incomplete rows (numba is a dependency; tests patch None)."""
    from emstat.mixture import _missing_kernels

    return _missing_kernels


def e_step(
    data: IncompleteRows, theta: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """Expected sufficient statistics of rows with missing cells, and their observed-data loglik.

    The complete rows take the fused E-step of complete data; the incomplete
    rows one compiled pass with each pattern's conditional Gaussians
    (:func:`numpy_e_step` is its reference).
    """
    if _kernels() is None or not fused.available():
        return numpy_e_step(data, theta, scatter)
    if data.complete.shape[0]:
        stats, loglik = gaussian.e_step(data.complete, theta, scatter)
    else:
        stats, loglik = _zero_stats(theta.k, data.d, scatter), 0.0
    if data.layout is None:
        return stats, loglik
    part, part_loglik = _compiled_incomplete_e_step(data, data.layout, theta, scatter)
    return stats + part, loglik + part_loglik


def _compiled_incomplete_e_step(
    data: IncompleteRows, layout: KernelLayout, theta: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The incomplete rows' statistics by the compiled kernel, from each pattern's matrices."""
    k, d, n_patterns = theta.k, data.d, len(data.patterns)
    whiten = np.zeros((n_patterns, k, d, d))
    regression = np.zeros((n_patterns, k, d, d))
    residual = np.zeros((n_patterns, k, d, d))
    log_norm = np.empty((n_patterns, k))
    for p, pattern in enumerate(data.patterns):
        obs, mis = pattern.observed, pattern.missing
        cond = _conditional(theta, obs, mis)
        whiten[p, :, : obs.size, : obs.size] = cond.whiten
        regression[p, :, : obs.size, : mis.size] = cond.regression
        residual[p][:, mis[:, None], mis[None, :]] = cond.residual
        log_norm[p] = cond.log_norm
    observed, missing, n_observed = layout.columns
    nk_pattern, sums, second, loglik, spread = _kernels().incomplete_e_step(
        layout.zero_filled,
        *layout.blocks,
        np.ascontiguousarray(theta.means, dtype=np.float64),
        observed,
        n_observed,
        missing,
        whiten,
        regression,
        log_norm,
        fused.rows_per_logarithm(k),
    )
    # the conditional covariances of the missing block, once per pattern and component
    second += np.einsum("pk,pkab->kab", nk_pattern, residual)
    if scatter == "diag":
        second = np.ascontiguousarray(np.einsum("kii->ki", second))
    stats = GaussianStats(nk_pattern.sum(axis=0), sums, second, -float(spread))
    return stats, float(loglik)


def numpy_e_step(
    data: IncompleteRows, theta: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """:func:`e_step` in numpy: each pattern's rows through its conditional Gaussians."""
    if data.complete.shape[0]:
        stats, loglik = gaussian.numpy_e_step(data.complete, theta, scatter)
    else:
        stats, loglik = _zero_stats(theta.k, data.d, scatter), 0.0
    for pattern in data.patterns:
        part, part_loglik = _pattern_e_step(pattern, theta, scatter)
        stats, loglik = stats + part, loglik + part_loglik
    return stats, loglik


# --- predictions and imputations ------------------------------------------------------
def log_responsibilities(
    x: np.ndarray, theta: GaussianParams, rows: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Log responsibilities (n, k) and row log-likelihoods (n,) of rows with NaN cells.

    Missing coordinates are marginalised: a row's density is that of its
    observed part.  A row with every cell missing has the mixing weights as
    its responsibilities and log-likelihood 0 (the density of nothing).
    """
    data = IncompleteRows.from_array(x)
    n = x.shape[0]
    with np.errstate(divide="ignore"):
        log_resp = np.tile(np.log(theta.weights), (n, 1))
    row_loglik = np.zeros(n)
    if data.complete_rows.size:
        names = None if rows is None else np.asarray(rows)[data.complete_rows]
        lr, ll = gaussian.log_responsibilities(data.complete, theta, rows=names)
        log_resp[data.complete_rows], row_loglik[data.complete_rows] = lr, ll
    for pattern in data.patterns:
        cond = _conditional(theta, pattern.observed, pattern.missing)
        log_dens, _ = _pattern_log_densities(pattern.values, pattern.observed, theta, cond)
        log_resp[pattern.rows], row_loglik[pattern.rows] = _normalise(log_dens)
    return log_resp, row_loglik


def conditional_means(x: np.ndarray, theta: GaussianParams) -> np.ndarray:
    """``x`` with each missing cell replaced by its conditional mean given the row's observed cells.

    ``E[x_m | x_o] = Σ_k z_k(x_o) x̂_k,m``; a row with nothing observed gets
    the mixture's mean.

    Examples
    --------
    >>> one = gaussian.gaussian_params(
    ...     np.array([1.0]), np.zeros((1, 2)), np.array([[[1.0, 0.5], [0.5, 1.0]]])
    ... )
    >>> conditional_means(np.array([[2.0, np.nan], [np.nan, np.nan]]), one).tolist()
    [[2.0, 1.0], [0.0, 0.0]]
    """
    return _fill(x, theta, None)


def draw_missing(x: np.ndarray, theta: GaussianParams, rng: np.random.Generator) -> np.ndarray:
    """``x`` with every missing cell drawn from its conditional distribution under ``theta``.

    Per row: a component from the responsibilities of its observed cells,
    then the missing cells from that component's conditional Gaussian.
    """
    return _fill(x, theta, rng)


def _fill(x: np.ndarray, theta: GaussianParams, rng: np.random.Generator | None) -> np.ndarray:
    out = np.array(x, dtype=float, copy=True)
    data = IncompleteRows.from_array(out)
    empty = np.flatnonzero(np.isnan(out).all(axis=1))
    if empty.size:
        if rng is None:
            out[empty] = theta.weights @ theta.means
        else:
            out[empty], _ = gaussian.draw_mixture(
                theta.weights, theta.means, theta.covariances, empty.size, rng
            )
    for pattern in data.patterns:
        cond = _conditional(theta, pattern.observed, pattern.missing)
        log_dens, residuals = _pattern_log_densities(pattern.values, pattern.observed, theta, cond)
        resp = np.exp(_normalise(log_dens)[0])
        mis = pattern.missing
        fills = np.stack(
            [theta.means[j, mis] + residuals[j] @ cond.regression[j] for j in range(theta.k)],
            axis=1,
        )  # (n_p, k, q)
        if rng is None:
            values = np.einsum("nk,nkq->nq", resp, fills)
        else:
            values = _draw_conditional(resp, fills, cond.residual, rng)
        out[np.ix_(pattern.rows, mis)] = values
    return out


def _draw_conditional(
    resp: np.ndarray, fills: np.ndarray, residual: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One draw per row: a component by ``resp``, then N(fills[component], residual[component])."""
    n, k = resp.shape
    cumulative = np.cumsum(resp, axis=1)
    u = np.asarray(rng.random(n))[:, None] * cumulative[:, -1:]
    component = np.minimum((cumulative < u).sum(axis=1), k - 1)
    chol = np.linalg.cholesky(residual)  # Schur complements of positive definite matrices
    noise = rng.standard_normal((n, fills.shape[2]))
    rows = np.arange(n)
    return fills[rows, component] + np.einsum("nij,nj->ni", chol[component], noise)


# --- what the front end keeps ---------------------------------------------------------
@dataclass(frozen=True)
class MissingSummary:
    """How much was missing, for summaries, reports and saved fits."""

    cells: int  # missing cells among the rows given (dropped rows included)
    total_cells: int
    rows: int  # rows with at least one missing cell (dropped rows included)
    total_rows: int
    dropped: int  # rows with every cell missing, left out of the fit
    by_column: dict[str, int]

    def describe(self) -> str:
        """One line: what was missing and what the fit assumed."""
        share = self.cells / self.total_cells if self.total_cells else 0.0
        dropped = f"; {self.dropped} rows with every value missing left out" if self.dropped else ""
        return (
            f"missing: {self.cells} of {self.total_cells} cells ({share:.1%}) in {self.rows} "
            f"of {self.total_rows} rows{dropped}; the fit {MAR_NOTE}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": self.cells,
            "total_cells": self.total_cells,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "dropped_rows": self.dropped,
            "by_column": dict(self.by_column),
            "assumption": "missing at random",
        }

    @classmethod
    def from_dict(cls, payload: Any) -> MissingSummary:
        """Read :meth:`to_dict`'s payload back (InputError naming a bad field)."""
        if not isinstance(payload, dict):
            raise InputError(f"missing must be an object, got {payload!r}")
        numbers = {}
        for key in ("cells", "total_cells", "rows", "total_rows", "dropped_rows"):
            value = payload.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"missing.{key} must be a whole number >= 0, got {value!r}")
            numbers[key] = value
        by_column = payload.get("by_column", {})
        if not isinstance(by_column, dict) or not all(
            isinstance(c, str) and isinstance(v, int) and not isinstance(v, bool)
            for c, v in by_column.items()
        ):
            raise InputError(f"missing.by_column must map columns to counts, got {by_column!r}")
        return cls(
            numbers["cells"],
            numbers["total_cells"],
            numbers["rows"],
            numbers["total_rows"],
            numbers["dropped_rows"],
            dict(by_column),
        )


def summarise(mask: np.ndarray, columns: Sequence[str]) -> MissingSummary:
    """Counts of a missingness mask (n, d) over ``columns``."""
    per_row = mask.sum(axis=1)
    return MissingSummary(
        cells=int(per_row.sum()),
        total_cells=int(mask.size),
        rows=int(np.count_nonzero(per_row)),
        total_rows=int(mask.shape[0]),
        dropped=int(np.count_nonzero(per_row == mask.shape[1])),
        by_column={str(c): int(v) for c, v in zip(columns, mask.sum(axis=0), strict=True)},
    )


def check_columns_observed(mask: np.ndarray, columns: Sequence[str], where: str = "") -> None:
    """Refuse a column with no observed value: nothing identifies its mean."""
    all_missing = np.asarray(mask.all(axis=0))
    empty = [c for c, gone in zip(columns, all_missing, strict=True) if gone]
    if empty:
        raise InputError(
            f"{where}column {describe_labels(empty)} is entirely missing (NaN in every row); "
            "drop it"
        )


def warn_dropped(dropped: int) -> None:
    """The one warning that counts the rows left out for having no observed value."""
    if dropped:
        warnings.warn(
            f"{dropped} row{'s' if dropped != 1 else ''} with every value missing "
            f"{'were' if dropped != 1 else 'was'} left out (they carry no information)",
            UserWarning,
            stacklevel=4,
        )


@dataclass(frozen=True)
class MissingLayout:
    """Where the missing cells of in-memory data are, as the front end needs it.

    ``kept`` are the positions (in the rows given) of the rows fitted (not
    every cell missing); ``sample_rows`` the positions of the rows the
    starts use, and ``sample_imputed`` whether those are all kept rows with
    column means filled in (too few complete rows) rather than the complete rows.
    """

    summary: MissingSummary
    kept: np.ndarray
    sample_rows: np.ndarray
    sample_imputed: bool

    @property
    def start_rule(self) -> str:
        if self.sample_imputed:
            return "on every row, missing cells set to their column means"
        return "on the complete rows"


#: Starts use the complete rows when there are at least this many per dimension + 1.
MIN_COMPLETE_ROWS_PER_PARAMETER = 10


def start_sample(values: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The rows starts are computed on, their positions, and whether they are mean-filled.

    The complete rows when there are at least ``10 (d + 1)`` of them;
    otherwise every kept row with its missing cells set to the column's mean.
    """
    d = values.shape[1]
    rows = values[kept]
    complete = ~np.isnan(rows).any(axis=1)
    if np.count_nonzero(complete) >= MIN_COMPLETE_ROWS_PER_PARAMETER * (d + 1):
        return rows[complete], kept[complete], False
    filled = np.where(np.isnan(rows), np.nanmean(rows, axis=0), rows)
    return filled, kept, True


@dataclass(frozen=True)
class IncompleteData:
    """The rows a fit with missing cells was given (NaN marking them), kept for ``impute``.

    A fit keeps this in place of its complete rows: its standard errors (the
    observed information of incomplete rows) are not computed.
    """

    values: np.ndarray  # (n, d) the rows given, dropped ones too
    index: Any  # their labels (a pandas Index)


@dataclass(frozen=True)
class PreparedIncomplete:
    """In-memory rows with missing cells, centred and laid out for EM."""

    layout: MissingLayout
    center: np.ndarray
    x: IncompleteRows  # the kept rows, centred
    sample: np.ndarray  # raw rows the starts use (no NaN)


def prepare_incomplete(values: np.ndarray, columns: Sequence[str]) -> PreparedIncomplete:
    """Check rows with NaN cells, warn about empty rows, centre and group the rest by pattern."""
    mask = np.isnan(values)
    check_columns_observed(mask, columns)
    summary = summarise(mask, columns)
    warn_dropped(summary.dropped)
    kept = np.flatnonzero(~mask.all(axis=1))
    spread = np.nanmax(values[kept], axis=0) - np.nanmin(values[kept], axis=0)
    constant = [c for c, s in zip(columns, spread, strict=True) if s == 0]
    if constant:
        raise InputError(
            f"column {describe_labels(constant)} is constant where observed; a Gaussian mixture "
            "needs variation in every column (drop it)"
        )
    center = np.nanmean(values[kept], axis=0)
    sample, sample_rows, imputed = start_sample(values, kept)
    layout = MissingLayout(summary, kept, sample_rows, imputed)
    x = IncompleteRows.from_array(values[kept] - center)
    return PreparedIncomplete(layout, center, x, sample)


# --- imputation -----------------------------------------------------------------------
#: Bootstrap resamples drawn at most per imputation when refits are degenerate.
_BOOTSTRAP_TRIES = 10


def impute_fit(
    fit: Any, theta: GaussianParams, values: np.ndarray, *, m: int | None, seed: Any
) -> list[np.ndarray]:
    """``values`` filled by conditional means (``m`` None) or ``m`` proper multiple imputations.

    See :meth:`emstat.mixture.result.MixtureResult.impute`.
    """
    from emstat._validation import check_seed, check_whole

    center = theta.center
    local = theta.about(center)
    holes = np.isnan(values)

    def keep_observed(filled: np.ndarray) -> np.ndarray:
        # only the missing cells change: observed ones keep every digit
        return np.where(holes, filled, values)

    if m is None:
        return [keep_observed(conditional_means(values - center, local) + center)]
    m = check_whole(m, "m")
    streams = np.random.SeedSequence(check_seed(seed)).spawn(m)
    fitted = _fitted_values(fit)
    draws = []
    for stream in streams:
        rng = np.random.default_rng(stream)
        star = bootstrap_params(fit, theta, fitted, rng)
        draws.append(keep_observed(draw_missing(values - center, star.about(center), rng) + center))
    return draws


def _fitted_values(fit: Any) -> np.ndarray:
    """The rows a fit was made on (NaN cells included), for bootstrap refits."""
    kept = fit.data_
    if isinstance(kept, IncompleteData):
        values = kept.values
    elif isinstance(kept, np.ndarray):
        values = kept
    else:
        raise InputError(
            "multiple imputations refit bootstrap resamples of the fitted rows, which this fit "
            "does not keep (a fit loaded from a file, of weighted rows or of data out of memory)"
        )
    return values[~np.isnan(values).all(axis=1)]


def bootstrap_params(
    fit: Any, theta: GaussianParams, fitted: np.ndarray, rng: np.random.Generator
) -> GaussianParams:
    """Parameters refitted by EM, from ``theta``, to rows of ``fitted`` drawn with replacement.

    A degenerate refit is replaced by another resample (up to 10 times).
    """
    from emstat.engine import fit_em
    from emstat.mixture.covariance import get_covariance_model
    from emstat.mixture.model import GaussianMixtureModel

    model = GaussianMixtureModel(get_covariance_model(fit.model, fit.d), fit.k, fit.reg_covar)
    n = fitted.shape[0]
    for _ in range(_BOOTSTRAP_TRIES):
        rows = fitted[rng.integers(n, size=n)]
        center = np.nanmean(rows, axis=0)
        if np.isnan(center).any():
            continue  # a column with no observed value in this resample
        data = IncompleteRows.from_array(rows - center)
        em = fit_em(model, data, theta0=theta.about(center), control=fit.control, warn=False)
        if em.ok and em.theta is not None:
            return em.theta.shifted(center)
    raise DegenerateFitError(
        f"{_BOOTSTRAP_TRIES} bootstrap refits in a row were degenerate; the parameters' "
        "sampling distribution cannot be drawn from (fit a simpler model)"
    )
