"""The finite-mixture structure over any component family.

A mixture of k components of a :class:`~emstat.families.ProductFamily` as
the engine sees it: the E-step takes log-sum-exp responsibilities (weighted
by the case weights), the family sums its statistics, and the M-step turns
the component totals into weights (unless the weights are fixed) and the
family's statistics into its parameters.  The statistics add over rows, so
chunks of rows may be summed in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from emstat.engine import Chunk, add_stats
from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import ColumnData, ProductFamily, check_nonempty, zero_density_error

__all__ = [
    "FamilyData",
    "FiniteMixture",
    "MixtureStats",
    "MixtureTheta",
    "RowChunks",
    "log_responsibilities",
]


@dataclass(frozen=True)
class FamilyData:
    """Encoded columns of the rows fitted, with their case weights (None: all 1)."""

    blocks: tuple[ColumnData, ...]
    case_weights: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.blocks[0].values.shape[0])

    def total_weight(self) -> float:
        return float(self.n if self.case_weights is None else self.case_weights.sum())

    def take(self, rows: np.ndarray) -> FamilyData:
        weights = None if self.case_weights is None else self.case_weights[rows]
        return FamilyData(tuple(block.take(rows) for block in self.blocks), weights)


@dataclass(frozen=True, eq=False)
class RowChunks:
    """A :class:`FamilyData` streamed in blocks of ``chunk_rows`` rows, each a
    :class:`~emstat.engine.Chunk` that carries its row positions."""

    data: FamilyData
    chunk_rows: int

    def chunks(self) -> list[Chunk]:
        starts = range(0, self.data.n, self.chunk_rows)
        return [
            Chunk(
                self.data.take(np.arange(s, min(s + self.chunk_rows, self.data.n))),
                rows=np.arange(s, min(s + self.chunk_rows, self.data.n)),
            )
            for s in starts
        ]

    def map_reduce(self, e_step: Any) -> tuple[Any, float]:
        total: Any = None
        loglik = 0.0
        for chunk in self.chunks():
            stats, part = e_step(chunk)
            total = stats if total is None else add_stats(total, stats)
            loglik += part
        return total, loglik


@dataclass(frozen=True, eq=False)
class MixtureTheta:
    """Mixing weights (k,) and the family's per-column (k, m) parameter arrays."""

    weights: np.ndarray
    components: tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class MixtureStats:
    """Total (weighted) responsibility per component, the family's statistics, and
    ``Σ_i w_i log z_i,c(i)`` at the hard assignment c (ICL's entropy term)."""

    nk: np.ndarray
    components: tuple[np.ndarray, ...]
    classification_loglik: float = math.nan


def log_responsibilities(
    family: ProductFamily, theta: MixtureTheta, data: FamilyData
) -> tuple[np.ndarray, np.ndarray]:
    """``log z_ik`` (n, k) and each row's log density under the mixture (n,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        joint = family.log_density(theta.components, data.blocks) + np.log(theta.weights)[None, :]
        # log-sum-exp by hand: scipy's costs more than the E-step on small data
        top = joint.max(axis=1)
        top = np.where(np.isfinite(top), top, 0.0)
        row = top + np.log(np.exp(joint - top[:, None]).sum(axis=1))
        return joint - row[:, None], row


@dataclass(frozen=True, eq=False)
class FiniteMixture:
    """k components of ``family``; ``fixed_weights`` keeps the mixing weights as given."""

    family: ProductFamily
    k: int
    fixed_weights: np.ndarray | None = None

    def e_step(self, theta: MixtureTheta, data: FamilyData | Chunk) -> tuple[MixtureStats, float]:
        rows: FamilyData = data.values if isinstance(data, Chunk) else data
        return self._e_step(theta, rows)

    def _e_step(self, theta: MixtureTheta, data: FamilyData) -> tuple[MixtureStats, float]:
        # One compiled pass where the family has one (a single count column).
        fused = self.family.fused_e_step(
            theta.weights, theta.components, data.blocks, data.case_weights
        )
        if fused is not None:
            stats = MixtureStats(fused.nk, fused.stats, fused.classification_loglik)
            return stats, fused.loglik
        return self.numpy_e_step(theta, data)

    def numpy_e_step(self, theta: MixtureTheta, data: FamilyData) -> tuple[MixtureStats, float]:
        """The E-step from the (n, k) log responsibilities: any family; the compiled
        passes' reference."""
        log_resp, row = log_responsibilities(self.family, theta, data)
        if not np.isfinite(row).all():
            raise zero_density_error(int(np.flatnonzero(~np.isfinite(row))[0]))
        resp = np.exp(log_resp)
        best = log_resp[np.arange(data.n), np.argmax(log_resp, axis=1)]
        if data.case_weights is not None:
            resp *= data.case_weights[:, None]
            loglik = float(data.case_weights @ row)
            classification = float(data.case_weights @ best)
        else:
            loglik = float(row.sum())
            classification = float(best.sum())
        return self.stats_from_weighted(data, resp, classification), loglik

    def stats_from_weighted(
        self, data: FamilyData, resp: np.ndarray, classification: float = math.nan
    ) -> MixtureStats:
        """Statistics of responsibilities already multiplied by the case weights."""
        return MixtureStats(resp.sum(axis=0), self.family.stats(data.blocks, resp), classification)

    def stats_from_responsibilities(self, data: FamilyData, resp: np.ndarray) -> MixtureStats:
        if data.case_weights is not None:
            resp = resp * data.case_weights[:, None]
        return self.stats_from_weighted(data, resp)

    def m_step(self, stats: MixtureStats, previous: MixtureTheta | None) -> MixtureTheta:
        check_nonempty(stats.nk)
        weights = stats.nk / stats.nk.sum() if self.fixed_weights is None else self.fixed_weights
        return MixtureTheta(weights, self.family.m_step(stats.components))

    def parameter_vector(self, theta: MixtureTheta) -> np.ndarray:
        return np.concatenate([theta.weights, *(c.reshape(-1) for c in theta.components)])

    def n_params(self) -> int:
        """Free parameters: the family's and k - 1 weights (none when the weights are fixed)."""
        return self.family.n_free(self.k) + (0 if self.fixed_weights is not None else self.k - 1)

    # --- the free parametrisation, for the observed information --------------------
    def to_free(self, theta: MixtureTheta) -> np.ndarray:
        weights = theta.weights[:-1] if self.fixed_weights is None else np.empty(0)
        return np.concatenate([weights, self.family.to_free(theta.components)])

    def from_free(self, free: np.ndarray) -> MixtureTheta:
        if self.fixed_weights is None:
            head = free[: self.k - 1]
            weights = np.append(head, 1.0 - head.sum())
            rest = free[self.k - 1 :]
        else:
            weights, rest = self.fixed_weights, free
        return MixtureTheta(weights, self.family.from_free(rest, self.k))

    def reported(self, theta: MixtureTheta) -> np.ndarray:
        """Estimates in the row order of a result's ``params``: per component, weight then
        the family's parameters."""
        _, values, _ = self.family.rows(theta.components)
        return np.concatenate([theta.weights[:, None], values], axis=1).reshape(-1)

    def loglik(self, theta: MixtureTheta, data: FamilyData) -> float:
        _, row = log_responsibilities(self.family, theta, data)
        return float(row.sum() if data.case_weights is None else data.case_weights @ row)


def check_fixed_weights(weights: Any, k: int) -> np.ndarray | None:
    """Validate user-fixed mixing weights: k finite positive numbers summing to 1."""
    if weights is None:
        return None
    array = np.asarray(weights, dtype=float).reshape(-1)
    if array.shape[0] != k:
        raise InputError(f"fixed weights give {array.shape[0]} numbers; k = {k}")
    if not np.isfinite(array).all() or (array <= 0).any():
        raise InputError(f"fixed weights must be finite and > 0, got {array.tolist()}")
    if abs(array.sum() - 1.0) > 1e-9:
        raise InputError(f"fixed weights sum to {array.sum():.6g}, not 1")
    return array


def observed_information_std_errors(
    model: FiniteMixture, theta: MixtureTheta, data: FamilyData
) -> tuple[np.ndarray, str | None]:
    """Standard errors of the reported parameters from the observed information.

    The Hessian of the observed-data log-likelihood in the free parameters is
    taken by central differences; the reported parameters' covariance follows
    by the delta method.  A parameter estimated on the edge of its space (a
    probability at 0 or 1, a rate at 0) is held fixed, as in a fit constrained
    there: the free coordinates that move it leave the information, the other
    parameters keep their standard errors, and the reason names the boundary
    ones.  Where the information is still not positive definite, every
    standard error is NaN and the reason says why.
    """
    from statsmodels.tools.numdiff import approx_fprime, approx_hess3

    free = model.to_free(theta)
    size = model.reported(theta).shape[0]
    if free.size == 0:
        return np.zeros(size), None
    jacobian = approx_fprime(free, lambda v: model.reported(model.from_free(v)), centered=True)
    jacobian = np.atleast_2d(jacobian)
    boundary = _boundary_rows(model, theta)
    held = np.zeros(free.size, dtype=bool)
    if boundary.any():
        held = (np.abs(jacobian[boundary]) > 1e-8).any(axis=0)
    keep = ~held
    names = _reported_labels(model, theta)
    note = None
    if boundary.any():
        where = ", ".join(names[i] for i in np.flatnonzero(boundary))
        note = (
            f"{where} on the boundary of the parameter space (held fixed there: no standard "
            "error; the others' are those of the fit constrained there)"
        )
    if not keep.any():
        return np.full(size, np.nan), note

    def loglik(v: np.ndarray) -> float:
        full = free.copy()
        full[keep] = v
        try:
            return model.loglik(model.from_free(full), data)
        except (DegenerateFitError, FloatingPointError):
            return -math.inf

    hessian = approx_hess3(free[keep], loglik)
    if not np.isfinite(hessian).all():
        return np.full(size, np.nan), note or "the log-likelihood is not smooth around the estimate"
    info = -0.5 * (hessian + hessian.T)
    values, vectors = np.linalg.eigh(info)
    if values.size and values[0] <= 1e-10 * max(float(np.max(np.abs(values))), 1.0):
        kept_names = [i for i in range(free.size) if keep[i]]
        moved = np.abs(jacobian[:, kept_names] @ vectors[:, 0])
        top = [names[i] for i in np.argsort(-moved)[:3] if moved[i] > 1e-6]
        what = "not positive definite (not a local maximum)" if values[0] < 0 else "singular"
        return np.full(size, np.nan), (
            f"the observed information is {what} along {', '.join(top) or 'a direction'}"
        )
    covariance = (vectors / values) @ vectors.T
    sub = jacobian[:, keep]
    variance = np.einsum("ij,jk,ik->i", sub, covariance, sub)
    se = np.sqrt(np.maximum(variance, 0.0))
    # a row the held coordinates move (the boundary ones) has no standard error
    se[(np.abs(jacobian[:, held]) > 1e-8).any(axis=1)] = np.nan
    return se, note


#: A probability this close to 0 or 1, or a rate this small relative to the
#: largest of its column, is on the edge of the parameter space.
_EDGE_PROBABILITY = 1e-8
_EDGE_RATE_RTOL = 1e-7


def _reported_labels(model: FiniteMixture, theta: MixtureTheta) -> list[str]:
    names, _, _ = model.family.rows(theta.components)
    return [f"{j + 1}:{name}" for j in range(model.k) for name in ["weight", *names]]


def _boundary_rows(model: FiniteMixture, theta: MixtureTheta) -> np.ndarray:
    """Which reported parameters sit on the edge of the space (row order of ``reported``)."""
    _, values, scales = model.family.rows(theta.components)
    on_edge = np.zeros(values.shape, dtype=bool)
    for j, scale in enumerate(scales):
        column = values[:, j]
        # EM reaches an edge only in the limit: within these of it counts as on it
        if scale == "logit":
            on_edge[:, j] = (column <= _EDGE_PROBABILITY) | (column >= 1 - _EDGE_PROBABILITY)
        elif scale == "log":
            on_edge[:, j] = column <= _EDGE_RATE_RTOL * np.max(np.abs(column))
    weights = np.zeros((model.k, 1), dtype=bool)
    return np.concatenate([weights, on_edge], axis=1).reshape(-1)
