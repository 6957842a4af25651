"""Numpy kernels for incomplete categorical data (what R's ``cat`` computes).

The complete-data table is an ndarray with one axis per variable (C order:
axis ``j`` is variable ``j``).  Incomplete rows are grouped by missingness
pattern; each pattern holds the table of counts over its observed axes.
Nothing here knows pandas.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emstat.errors import DegenerateFitError, InputError

__all__ = [
    "IncompleteTable",
    "PatternCounts",
    "bayes_ipf_cycle",
    "cell_covariance",
    "draw_completed_table",
    "draw_row_completions",
    "e_step",
    "ipf_cycle",
    "loglinear_basis",
    "n_loglinear_params",
    "observed_loglik",
    "prior_penalty",
]

Margin = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class PatternCounts:
    """Counts of the units that share one missingness pattern.

    Parameters
    ----------
    observed
        The observed axes, increasing.
    counts
        Counts over the observed axes, shape ``(shape[a] for a in observed)``.
    """

    observed: tuple[int, ...]
    counts: np.ndarray


@dataclass(frozen=True, eq=False)
class IncompleteTable:
    """The observed data: the full table's shape and the counts per pattern."""

    shape: tuple[int, ...]
    patterns: tuple[PatternCounts, ...]

    @property
    def total(self) -> float:
        """The number of units."""
        return float(sum(p.counts.sum() for p in self.patterns))


def missing_axes(observed: Sequence[int], ndim: int) -> tuple[int, ...]:
    """The axes not in ``observed``."""
    seen = set(observed)
    return tuple(a for a in range(ndim) if a not in seen)


def _broadcast_counts(pattern: PatternCounts, ndim: int) -> np.ndarray:
    """The pattern's counts with size-1 axes where variables are missing."""
    shape = [1] * ndim
    for axis, size in zip(pattern.observed, pattern.counts.shape, strict=True):
        shape[axis] = size
    return pattern.counts.reshape(shape)


def _pattern_margin(theta: np.ndarray, pattern: PatternCounts) -> np.ndarray:
    """Sum of ``theta`` over the pattern's missing axes, keeping dimensions."""
    mis = missing_axes(pattern.observed, theta.ndim)
    return theta.sum(axis=mis, keepdims=True) if mis else theta


def e_step(theta: np.ndarray, data: IncompleteTable) -> tuple[np.ndarray, float]:
    """Expected complete-data cell counts and the observed-data log-likelihood.

    ``theta`` need not sum to one (cat's ``estepc``); the log-likelihood is
    that of ``theta / theta.sum()``.  Units with count 0 carry no likelihood
    and are ignored.

    Raises
    ------
    DegenerateFitError
        When units with a positive count fall where ``theta`` is zero.
    """
    total = float(theta.sum())
    if not total > 0:
        raise DegenerateFitError("every cell probability is zero")
    expected = np.zeros_like(theta, dtype=float)
    loglik = 0.0
    for pattern in data.patterns:
        counts = _broadcast_counts(pattern, theta.ndim)
        margin = _pattern_margin(theta, pattern)
        positive = np.broadcast_to(counts > 0, margin.shape)
        counts_b = np.broadcast_to(counts, margin.shape)
        if np.any(margin[positive] <= 0):
            raise DegenerateFitError(
                "the model gives probability zero to an observed event "
                "(a cell or margin with a positive count was driven to zero)"
            )
        ratio = np.zeros(margin.shape)
        np.divide(counts_b, margin, out=ratio, where=positive)
        expected += theta * ratio
        loglik += float(np.sum(counts_b[positive] * np.log(margin[positive] / total)))
    return expected, loglik


def observed_loglik(theta: np.ndarray, data: IncompleteTable) -> float:
    """Observed-data log-likelihood of the (normalised) table ``theta``."""
    return e_step(theta, data)[1]


def prior_penalty(theta: np.ndarray, prior: float, free: np.ndarray) -> float:
    """``sum (prior - 1) log p`` over free cells with ``p > 0`` (cat's logpost term)."""
    if prior == 1.0:
        return 0.0
    p = theta / theta.sum()
    cells = free & (p > 0)
    return float((prior - 1.0) * np.sum(np.log(p[cells])))


def _other_axes(margin: Margin, ndim: int) -> tuple[int, ...]:
    return tuple(a for a in range(ndim) if a not in margin)


def ipf_cycle(
    table: np.ndarray, fit: np.ndarray, margins: Sequence[Margin], zero_share: float
) -> np.ndarray:
    """One cycle of iterative proportional fitting, as cat's ``ipf``.

    ``fit`` is raked to each margin of ``table`` in turn.  Within a margin
    cell whose fitted total is non-zero, cells below ``zero_share`` times the
    average fitted cell are set to zero and the others scaled by ``table
    total / fitted total``; margin cells with fitted total zero are left
    alone.  cat takes the average over ``table``; once raked, ``fit`` has
    the same total, and measuring against ``fit`` itself keeps the rule
    free of scale (a start of ones is not zeroed when cells hold 1e7 units).
    """
    fit = np.array(fit, dtype=float, copy=True)
    for margin in margins:
        eps = zero_share * float(fit.sum()) / fit.size
        rest = _other_axes(margin, fit.ndim)
        sumt = table.sum(axis=rest, keepdims=True) if rest else table
        sumf = fit.sum(axis=rest, keepdims=True) if rest else fit.copy()
        nonzero = np.broadcast_to(sumf != 0, fit.shape)
        factor = np.ones_like(sumf)
        np.divide(sumt, sumf, out=factor, where=sumf != 0)
        raked = np.where(fit >= eps, fit * factor, 0.0)
        fit = np.where(nonzero, raked, fit)
    return fit


def gamma_draws(shape_params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma(shape, 1) draws; a shape of zero gives zero."""
    out = np.zeros(shape_params.shape)
    positive = shape_params > 0
    out[positive] = rng.gamma(shape_params[positive])
    return out


def bayes_ipf_cycle(
    hyper: np.ndarray,
    theta: np.ndarray,
    margins: Sequence[Margin],
    free: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One cycle of Bayesian IPF (cat's ``bipf``): a posterior draw step.

    ``hyper`` holds the Dirichlet posterior hyperparameters (counts + prior)
    and ``free`` marks the cells that are not structural zeros.  With the
    single full margin the cycle is an exact Dirichlet draw.
    """
    theta = np.where(free, theta, 0.0)
    hyper = np.where(free, hyper, 0.0)
    for margin in margins:
        rest = _other_axes(margin, theta.ndim)
        sumt = hyper.sum(axis=rest, keepdims=True) if rest else hyper
        sumf = theta.sum(axis=rest, keepdims=True) if rest else theta.copy()
        g = gamma_draws(sumt, rng)
        factor = np.zeros_like(sumf)
        np.divide(g, sumf, out=factor, where=sumf > 0)
        theta = theta * factor
        total = theta.sum()
        if not total > 0:
            raise DegenerateFitError("a posterior draw gave an all-zero table")
        theta = theta / total
    return theta


def _conditional_rows(
    theta: np.ndarray, pattern: PatternCounts
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Conditional distribution of the missing cells for each observed cell.

    Returns an array of shape ``(n observed cells, n missing cells)`` (rows
    in C order of the observed axes, columns in C order of the missing axes)
    and the missing axes.
    """
    mis = missing_axes(pattern.observed, theta.ndim)
    moved = np.moveaxis(theta, list(pattern.observed), list(range(len(pattern.observed))))
    n_obs_cells = int(np.prod([theta.shape[a] for a in pattern.observed], dtype=int))
    joint = moved.reshape(n_obs_cells, -1)
    sums = joint.sum(axis=1, keepdims=True)
    uniform = np.full_like(joint, 1.0 / joint.shape[1])
    cond = np.divide(joint, sums, out=uniform, where=sums > 0)
    return cond, mis


def draw_completed_table(
    theta: np.ndarray, data: IncompleteTable, rng: np.random.Generator
) -> np.ndarray:
    """I-step: a completed table drawn given the observed data and ``theta``."""
    table = np.zeros(theta.shape)
    for pattern in data.patterns:
        if len(pattern.observed) == theta.ndim:
            table += pattern.counts
            continue
        cond, mis = _conditional_rows(theta, pattern)
        n = pattern.counts.reshape(-1).astype(np.int64)
        check = n > 0
        if np.any(cond[check].sum(axis=1) <= 0):
            raise DegenerateFitError("observed units fall where the drawn table is zero")
        draws = rng.multinomial(n, cond / cond.sum(axis=1, keepdims=True))
        shape_obs = [theta.shape[a] for a in pattern.observed]
        shape_mis = [theta.shape[a] for a in mis]
        block = draws.reshape(shape_obs + shape_mis)
        table += np.moveaxis(block, list(range(theta.ndim)), list(pattern.observed) + list(mis))
    return table


def draw_row_completions(
    theta: np.ndarray,
    codes: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Draw the missing codes of each row given its observed codes.

    Parameters
    ----------
    theta
        Cell probabilities.
    codes
        ``(n rows, n variables)`` level codes, ``-1`` where missing.
    counts
        Units per row.  A row with count ``n`` is split multinomially over
        its completions; a row with count 0 gets one completion drawn.

    Returns
    -------
    list of (completions, split counts)
        Per row: ``(k, n variables)`` completed codes and their ``k``
        positive counts (a complete row returns itself).
    """
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for row, n in zip(codes, counts, strict=True):
        mis = np.flatnonzero(row < 0)
        if mis.size == 0:
            out.append((row[None, :].copy(), np.array([n])))
            continue
        index = tuple(int(c) if c >= 0 else slice(None) for c in row)
        slab = np.asarray(theta[index], dtype=float).reshape(-1)
        total = slab.sum()
        if not total > 0:
            raise DegenerateFitError(f"observed codes {row.tolist()} have probability zero")
        probs = slab / total
        units = int(n) if n > 0 else 1
        draws = rng.multinomial(units, probs)
        cells = np.flatnonzero(draws)
        mis_shape = [theta.shape[a] for a in mis]
        filled = np.repeat(row[None, :], cells.size, axis=0)
        filled[:, mis] = np.column_stack(np.unravel_index(cells, mis_shape))
        split = draws[cells] if n > 0 else np.zeros(1, dtype=draws.dtype)
        out.append((filled, split))
    return out


def loglinear_basis(
    shape: tuple[int, ...], margins: Sequence[Margin], cells: np.ndarray
) -> np.ndarray:
    """An orthonormal basis of the log-linear model's free directions.

    Columns span the indicators of every margin's cells, restricted to the
    flat cell indices ``cells``, with the constant direction projected out
    (it is not identified under the softmax).

    Returns
    -------
    ndarray
        ``(len(cells), rank)``; ``rank`` is the number of free parameters.
    """
    grid = np.unravel_index(np.arange(int(np.prod(shape))), shape)
    blocks = []
    for margin in margins:
        mshape = [shape[a] for a in margin]
        label = (
            np.ravel_multi_index([grid[a] for a in margin], mshape)
            if margin
            else np.zeros(grid[0].size, dtype=int)
        )
        width = int(np.prod(mshape)) if margin else 1
        blocks.append(np.eye(width)[label])
    design = np.hstack(blocks)[cells]
    design = design - design.mean(axis=0, keepdims=True)
    if design.size == 0:
        return np.zeros((cells.size, 0))
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    rank = int(np.sum(s > s.max() * max(design.shape) * np.finfo(float).eps)) if s.size else 0
    return u[:, :rank]


# Counting parameters with structural zeros needs a dense (free cells x margin
# cells) design and its SVD; beyond this many entries it would run for minutes.
MAX_DESIGN_ENTRIES = 1 << 22


def _maximal_margins(margins: Sequence[Margin]) -> list[Margin]:
    """The margins not contained in another (the others add no parameters)."""
    unique = list(dict.fromkeys(tuple(sorted(m)) for m in margins))
    return [m for m in unique if not any(set(m) < set(o) for o in unique)]


def _hierarchical_terms(margins: Sequence[Margin]) -> set[Margin]:
    """Every non-empty subset of every margin: the model's interaction terms."""
    terms: set[Margin] = set()
    for margin in _maximal_margins(margins):
        for size in range(1, len(margin) + 1):
            terms.update(itertools.combinations(margin, size))
    return terms


def n_loglinear_params(shape: tuple[int, ...], margins: Sequence[Margin], free: np.ndarray) -> int:
    """Free parameters of a hierarchical log-linear model, less the constant.

    The rank of :func:`loglinear_basis` over the free cells, without forming
    it where a closed form exists: the saturated model has one parameter per
    free cell less one, and with no structural zeros each interaction term
    ``S`` brings ``prod_{a in S} (levels_a - 1)``.  Only structural zeros in
    a smaller model need the dense rank.

    Raises
    ------
    InputError
        When that dense design would exceed :data:`MAX_DESIGN_ENTRIES`.
    """
    n_free = int(free.sum())
    if any(len(m) == len(shape) for m in margins):
        return max(n_free - 1, 0)
    if n_free == free.size:
        return sum(math.prod(shape[a] - 1 for a in term) for term in _hierarchical_terms(margins))
    kept = _maximal_margins(margins)
    width = sum(math.prod(shape[a] for a in m) for m in kept)
    if n_free * width > MAX_DESIGN_ENTRIES:
        raise InputError(
            f"counting the parameters of this model with structural zeros needs a "
            f"{n_free:,} x {width:,} matrix, beyond the limit of {MAX_DESIGN_ENTRIES:,} entries; "
            "use smaller margins or fewer levels"
        )
    return int(loglinear_basis(shape, kept, np.flatnonzero(free.reshape(-1))).shape[1])


def _pattern_indicators(
    shape: tuple[int, ...], data: IncompleteTable, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrix (groups x cells) of the cells each observed group covers."""
    position = np.full(int(np.prod(shape)), -1)
    position[cells] = np.arange(cells.size)
    rows: list[np.ndarray] = []
    weights: list[float] = []
    flat_ids = np.arange(int(np.prod(shape))).reshape(shape)
    for pattern in data.patterns:
        moved = np.moveaxis(flat_ids, list(pattern.observed), list(range(len(pattern.observed))))
        groups = moved.reshape(pattern.counts.size, -1)
        for ids, n in zip(groups, pattern.counts.reshape(-1), strict=True):
            if n <= 0:
                continue
            indicator = np.zeros(cells.size)
            where = position[ids]
            indicator[where[where >= 0]] = 1.0
            rows.append(indicator)
            weights.append(float(n))
    return np.array(rows).reshape(len(rows), cells.size), np.array(weights)


def cell_covariance(
    p: np.ndarray,
    data: IncompleteTable,
    margins: Sequence[Margin],
    free: np.ndarray,
    prior: float = 1.0,
) -> np.ndarray:
    """Covariance of the cell probabilities from the observed information.

    The model is ``p = softmax(X beta)`` over the cells with ``p > 0`` that
    are not structural zeros, ``X`` from :func:`loglinear_basis`.  The
    observed information of the observed-data log-likelihood (plus the
    Dirichlet log-prior when ``prior != 1``) is computed analytically in
    ``beta`` and mapped to ``p`` by the delta method.  Cells outside the
    support get variance NaN.

    Returns
    -------
    ndarray
        ``(ncells, ncells)`` covariance over all cells (flat C order).
    """
    shape = p.shape
    flat = (p / p.sum()).reshape(-1)
    cells = np.flatnonzero(free.reshape(-1) & (flat > 0))
    q = flat[cells]
    x = loglinear_basis(shape, margins, cells)
    b, n = _pattern_indicators(shape, data, cells)
    s = b @ q
    total = n.sum()
    u = b.T @ (n / s)
    bwb = b.T @ (b * (n / s**2)[:, None])
    hess = np.diag(q * (u - total)) + total * np.outer(q, q) - np.outer(q, q) * bwb
    if prior != 1.0:
        hess -= (prior - 1.0) * cells.size * (np.diag(q) - np.outer(q, q))
    info = -(x.T @ hess @ x)
    cov_beta = np.linalg.pinv(info, hermitian=True)
    jac = (np.diag(q) - np.outer(q, q)) @ x
    cov_q = jac @ cov_beta @ jac.T
    cov = np.full((flat.size, flat.size), np.nan)
    cov[np.ix_(cells, cells)] = cov_q
    return cov
