"""Standard errors of a hidden Markov model: the observed information, numerically.

The log-likelihood (by the forward pass) is differentiated twice by central
differences in free coordinates around the estimate:

- each row of the start distribution and of the transition matrix in
  log-ratios to its largest free entry, so a step never leaves the simplex;
  fixed entries (structural zeros included) are not coordinates, and
  neither is an entry estimated at 0 (on the boundary: its standard error
  is NaN, with the reason);
- the emission parameters of a family in coordinates that keep every step
  inside the space (log-ratios of level probabilities, logits, logs of
  rates; an estimate on the edge is held there, with the reason), or for
  Gaussian emissions in the Gaussian mixture's local chart of the
  covariance model (:mod:`emstat.mixture.stderr`); emission parameters
  fixed by the user are not coordinates (their standard error is NaN,
  noted "fixed").

The reported parameters' standard errors follow by the delta method.  Per
sequence start distributions are held at their estimates (the others' are
conditional on them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emstat.errors import DegenerateFitError
from emstat.hmm.model import Constraint, HMMData, HMMModel, HMMTheta

__all__ = ["observed_information_std_errors", "reported"]

# A probability this small is on the boundary: a step of numerical
# differentiation in its log-ratio would be a step of its order of magnitude.
_BOUNDARY = 1e-8


def reported(model: HMMModel, theta: HMMTheta) -> np.ndarray:
    """Estimates in the row order of ``HMMResult.params``: per state, the start
    (when shared), the transitions out of it, the emission parameters."""
    _, values, _ = model.emission.rows(theta.emission)
    blocks = [theta.trans, values]
    if not model.per_sequence:
        blocks.insert(0, theta.start[:, None])
    return np.concatenate(blocks, axis=1).reshape(-1)


@dataclass(frozen=True)
class _SimplexChart:
    """Log-ratio coordinates of the free, interior entries of stochastic rows."""

    values: np.ndarray  # (rows, k) at the estimate
    moving: np.ndarray  # (rows, k) bool: entries that are coordinates or their reference
    reference: np.ndarray  # (rows,) column of each row's reference entry, -1 for none

    @classmethod
    def of(cls, values: np.ndarray, constraint: Constraint) -> _SimplexChart:
        moving = constraint.free & (values > _BOUNDARY)
        reference = np.full(values.shape[0], -1)
        for i in range(values.shape[0]):
            if moving[i].sum() >= 2:
                reference[i] = int(np.argmax(np.where(moving[i], values[i], -1.0)))
            else:
                moving[i] = False
        return cls(values, moving, reference)

    @property
    def size(self) -> int:
        return int(self.moving.sum() - (self.reference >= 0).sum())

    def coordinates(self) -> np.ndarray:
        out = []
        for i, r in enumerate(self.reference):
            if r < 0:
                continue
            cols = [j for j in np.flatnonzero(self.moving[i]) if j != r]
            out.extend(np.log(self.values[i, cols] / self.values[i, r]))
        return np.asarray(out, dtype=float)

    def point(self, v: np.ndarray) -> np.ndarray:
        out = self.values.copy()
        at = 0
        for i, r in enumerate(self.reference):
            if r < 0:
                continue
            cols = [j for j in np.flatnonzero(self.moving[i]) if j != r]
            logits = np.zeros(len(cols) + 1)
            logits[1:] = v[at : at + len(cols)]
            at += len(cols)
            share = self.values[i, self.moving[i]].sum()
            weights = np.exp(logits - logits.max())
            weights *= share / weights.sum()
            out[i, r] = weights[0]
            out[i, cols] = weights[1:]
        return out

    def boundary(self, constraint: Constraint) -> np.ndarray:
        """Entries estimated at 0 that were free to move."""
        return constraint.free & (self.values <= _BOUNDARY)


def observed_information_std_errors(
    model: HMMModel, theta: HMMTheta, data: HMMData
) -> tuple[np.ndarray, list[str]]:
    """Standard errors of :func:`reported` and a note per entry ("" where it has a value)."""
    from statsmodels.tools.numdiff import approx_fprime, approx_hess3

    size = reported(model, theta).shape[0]
    notes = [""] * size
    start_chart = None
    if not model.per_sequence:
        start_chart = _SimplexChart.of(theta.start[None, :], model.start_constraint)
    trans_chart = _SimplexChart.of(theta.trans, model.trans_constraint)
    edge = model.emission.edge(theta.emission)
    free_e, back_e, emission_reason = model.emission.chart(
        theta.emission, _held(model, theta, edge)
    )
    if emission_reason is not None:
        free_e, back_e = np.empty(0), lambda _v: theta.emission
    sizes = [0 if start_chart is None else start_chart.size, trans_chart.size, free_e.size]
    free = np.concatenate(
        [
            np.empty(0) if start_chart is None else start_chart.coordinates(),
            trans_chart.coordinates(),
            free_e,
        ]
    )

    def unpack(v: np.ndarray) -> HMMTheta:
        a, b = sizes[0], sizes[0] + sizes[1]
        start = theta.start if start_chart is None else start_chart.point(v[:a])[0]
        return HMMTheta(start, trans_chart.point(v[a:b]), back_e(v[b:]))

    _mark(notes, model, theta, start_chart, trans_chart, emission_reason, edge)
    given = _given(model, theta)
    if free.size == 0:
        return _finish(np.zeros(size), notes, given), notes

    def loglik(v: np.ndarray) -> float:
        try:
            return model.loglik(unpack(v), data)
        except (DegenerateFitError, FloatingPointError, np.linalg.LinAlgError):
            return -math.inf

    hessian = approx_hess3(free, loglik)
    reason = _covariance_problem(hessian)
    if reason is None:
        covariance = np.linalg.inv(-hessian)
        jacobian = approx_fprime(free, lambda v: reported(model, unpack(v)), centered=True)
        variance = np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian)
        se = np.sqrt(np.maximum(variance, 0.0))
    else:
        se = np.full(size, np.nan)
        notes = [note or reason for note in notes]
    return _finish(se, notes, given), notes


def _held(model: HMMModel, theta: HMMTheta, edge: np.ndarray) -> np.ndarray | None:
    """The emission parameters that are not coordinates: fixed ones at their values,
    those on the edge of the space at their estimates (NaN elsewhere)."""
    fixed = model.emission_fixed
    if fixed is None and not edge.any():
        return None
    _, values, _ = model.emission.rows(theta.emission)
    held = np.full(values.shape, np.nan) if fixed is None else fixed.copy()
    held[edge] = values[edge]
    return held


def _given(model: HMMModel, theta: HMMTheta) -> np.ndarray:
    """The reported entries that are emission parameters held at given values."""
    held = np.zeros_like(theta.trans, dtype=bool)
    if not model.per_sequence:
        held = np.zeros((model.k, model.k + 1), dtype=bool)
    fixed = model.emission_fixed
    if fixed is None:
        fixed = np.full(model.emission.rows(theta.emission)[1].shape, np.nan)
    return np.concatenate([held, ~np.isnan(fixed)], axis=1).reshape(-1)


def _covariance_problem(hessian: np.ndarray) -> str | None:
    if not np.isfinite(hessian).all():
        return "the log-likelihood is not smooth around the estimate"
    try:
        covariance = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        return "the observed information is singular"
    if not (np.linalg.eigvalsh((covariance + covariance.T) / 2) > 0).all():
        return "the observed information is not positive definite"
    return None


def _finish(se: np.ndarray, notes: list[str], given: np.ndarray) -> np.ndarray:
    """NaN where a note says there is no standard error; 0 where a chain's value is fixed
    (an emission parameter held at a given value, ``given``, has none: NaN)."""
    out = se.copy()
    for i, note in enumerate(notes):
        if note == "fixed" and not given[i]:
            out[i] = 0.0
        elif note:
            out[i] = np.nan
    return out


def _mark(
    notes: list[str],
    model: HMMModel,
    theta: HMMTheta,
    start_chart: _SimplexChart | None,
    trans_chart: _SimplexChart,
    emission_reason: str | None,
    edge: np.ndarray,
) -> None:
    """A note for every reported entry without a standard error of its own."""
    k = model.k
    _, values, _ = model.emission.rows(theta.emission)
    m = values.shape[1]
    shared = 0 if start_chart is None else 1
    width = shared + k + m
    for i in range(k):
        row = i * width
        if start_chart is not None:
            notes[row] = _entry_note(model.start_constraint, start_chart, 0, i)
        for j in range(k):
            notes[row + shared + j] = _entry_note(model.trans_constraint, trans_chart, i, j)
        for c in range(m):
            if model.emission_fixed is not None and not np.isnan(model.emission_fixed[i, c]):
                notes[row + shared + k + c] = "fixed"
            elif edge[i, c]:
                notes[row + shared + k + c] = "on the boundary (held at its estimate)"
            elif emission_reason is not None:
                notes[row + shared + k + c] = emission_reason


def _entry_note(constraint: Constraint, chart: _SimplexChart, i: int, j: int) -> str:
    if not constraint.free[i, j]:
        return "fixed"
    if chart.values[i, j] <= _BOUNDARY:
        return "on the boundary (estimated at 0)"
    if constraint.free[i].sum() == 1:
        return "fixed"  # the only free entry of its row: set by the fixed ones
    if chart.reference[i] < 0:
        return "on the boundary (the other free entries of its row are estimated at 0)"
    return ""
