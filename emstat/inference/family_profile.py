"""Profile log-likelihoods of the parameters of a fit of any component family.

Generic through the family's free parametrisation (``FiniteMixture.to_free``
/ ``from_free``): the reported parameters are affine in the free ones (a
free coordinate itself, or one minus others: the last weight, a category's
last probability).  Holding a reported parameter at ``v`` fixes one free
coordinate (solved from the affine constraint when the parameter is a
dependent one), and the observed-data log-likelihood is maximised directly
over the remaining free coordinates by L-BFGS-B, each on its link scale
(logit for probabilities and weights, log for rates and variances), started
from the MLE (or the neighbouring profile point's optimum) moved onto the
constraint.  A point where a dependent parameter leaves its space scores a
large finite penalty, so the optimiser's line search steps back from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize

from emstat.errors import DegenerateFitError, EmstatError, InputError
from emstat.mixture.finite import FamilyData, FiniteMixture

__all__ = ["FamilyProfiles"]

Array = NDArray[np.float64]

_EPS = 1e-12  # how close to an edge a free coordinate may go (its link stays finite)
_PENALTY = 1e30  # the objective outside the parameter space
_OPTIONS = {"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000}


def _link(values: Array, scales: list[str]) -> Array:
    out = np.asarray(values, dtype=float).copy()
    for j, scale in enumerate(scales):
        if scale == "logit":
            p = min(max(out[j], _EPS), 1 - _EPS)
            out[j] = math.log(p / (1 - p))
        elif scale == "log":
            out[j] = math.log(max(out[j], _EPS))
    return out


def _unlink(values: Array, scales: list[str]) -> Array:
    out = np.asarray(values, dtype=float).copy()
    for j, scale in enumerate(scales):
        if scale == "logit":
            out[j] = 1.0 / (1.0 + math.exp(-out[j])) if out[j] > -700 else 0.0
        elif scale == "log":
            out[j] = math.exp(min(out[j], 700.0))
    return out


def _bounds_of(scale: str) -> tuple[float, float]:
    if scale == "logit":
        return 0.0, 1.0
    if scale == "log":
        return 0.0, math.inf
    return -math.inf, math.inf


@dataclass(frozen=True, eq=False)
class _FamilyProfile:
    """The profile log-likelihood of reported row ``row``: ``loglik(value, start)``."""

    owner: FamilyProfiles
    row: int
    l_max: float
    bounds: tuple[float, float]

    def loglik(self, value: float, start: Array | None = None) -> tuple[float, Array | None]:
        return self.owner.constrained_max(self.row, value, start)


@dataclass(frozen=True, eq=False)
class FamilyProfiles:
    """What every profile of one family fit shares: the model, the data and the maximum.

    ``jacobian`` maps the free parameters to the reported ones (constant:
    the map is affine), ``own[q]`` is the reported row that free coordinate
    ``q`` is, and ``scales`` are the reported rows' link scales.
    """

    model: FiniteMixture
    data: FamilyData
    table: pd.DataFrame
    labels: list[str]
    mle: Array  # free parameters
    jacobian: Array
    offset: Array  # reported = offset + jacobian @ free
    own: list[int]
    scales: list[str]
    l_max: float

    @classmethod
    def of(cls, fit: Any, level: float) -> FamilyProfiles:
        theta = fit._require_ok()
        if fit.data_ is None:
            raise InputError("profile intervals refit the data, which this fit does not keep")
        model: FiniteMixture = fit._model
        table = fit.conf_int(level)
        labels = [f"{c}:{p}" for c, p in zip(table["component"], table["parameter"], strict=True)]
        free = model.to_free(theta)
        reported = model.reported(theta)
        jacobian = np.column_stack(
            [model.reported(model.from_free(free + e)) - reported for e in np.eye(free.size)]
        ).reshape(reported.size, free.size)
        jacobian = np.round(jacobian, 12)
        own = []
        for q in range(free.size):
            unit = np.flatnonzero((jacobian[:, q] == 1.0) & (np.abs(jacobian).sum(axis=1) == 1.0))
            if unit.size != 1:  # pragma: no cover - every family's free coordinate is a parameter
                raise InputError("this family's free parameters are not its reported ones")
            own.append(int(unit[0]))
        _, _, part_scales = model.family.rows(theta.components)
        scales: list[str] = [s for _ in range(model.k) for s in ["logit", *part_scales]]
        setup = cls(
            model,
            fit.data_,
            table,
            labels,
            free,
            jacobian,
            reported - jacobian @ free,
            own,
            scales,
            float(fit.loglik),
        )
        top, _ = setup._maximise(np.ones(free.size, dtype=bool), free.copy(), None)
        return replace(setup, l_max=max(top, float(fit.loglik)))

    def profilable(self) -> list[int]:
        """Rows with a profile: every free parameter, and a weight or probability that is
        one minus others (not a weight fixed by the user or by k = 1)."""
        return [r for r in range(len(self.labels)) if np.any(self.jacobian[r] != 0)]

    def profile(self, row: int) -> _FamilyProfile:
        return _FamilyProfile(self, row, self.l_max, _bounds_of(self.scales[row]))

    def _loglik(self, free: Array) -> float:
        reported = self.offset + self.jacobian @ free
        for value, scale in zip(reported, self.scales, strict=True):
            low, high = _bounds_of(scale)
            if not low - 1e-14 <= value <= high + 1e-14:
                return -math.inf
        try:
            with np.errstate(all="ignore"):
                value = self.model.loglik(self.model.from_free(free), self.data)
        except (DegenerateFitError, EmstatError, FloatingPointError, np.linalg.LinAlgError):
            return -math.inf
        return value if math.isfinite(value) else -math.inf

    def _maximise(self, moving: NDArray[np.bool_], free: Array, solve: Any) -> tuple[float, Array]:
        """The largest log-likelihood over the ``moving`` free coordinates, the rest as in
        ``free`` (and the held one ``solve``d from the others after each move)."""
        scales = [self.scales[self.own[q]] for q in np.flatnonzero(moving)]

        def full(u: Array) -> Array:
            out = free.copy()
            out[moving] = _unlink(u, scales)
            return out if solve is None else solve(out)

        def objective(u: Array) -> float:
            value = self._loglik(full(u))
            return -value if math.isfinite(value) else _PENALTY

        if not moving.any():
            return self._loglik(full(np.empty(0))), full(np.empty(0))
        start = _link(free[moving], scales)
        result = minimize(objective, start, method="L-BFGS-B", options=_OPTIONS)
        best = result.x if result.fun <= objective(start) else start
        point = full(best)
        return self._loglik(point), point

    def constrained_max(
        self, row: int, value: float, start: Array | None = None
    ) -> tuple[float, Array | None]:
        """The profile log-likelihood of reported ``row`` at ``value`` and its maximiser."""
        g = self.jacobian[row]
        free = (self.mle if start is None else start).copy()
        direct = [q for q in range(free.size) if self.own[q] == row]
        if direct:
            q = direct[0]
        else:  # one minus others: solve for the largest of them, the furthest from its edge
            candidates = np.flatnonzero(g != 0)
            q = int(candidates[np.argmax(free[candidates])])
        moving = np.ones(free.size, dtype=bool)
        moving[q] = False

        def solve(point: Array) -> Array:
            rest = self.offset[row] + g @ point - g[q] * point[q]
            point = point.copy()
            point[q] = (value - rest) / g[q]
            return point

        free = solve(free)
        if not math.isfinite(self._loglik(free)):
            # the start left the space: pull the other coordinates of the constraint in
            moved = self._onto(solve, q, free)
            if moved is None:
                return -math.inf, None
            free = moved
        loglik, point = self._maximise(moving, free, solve)
        return (loglik, point) if math.isfinite(loglik) else (-math.inf, None)

    def _onto(self, solve: Any, q: int, free: Array) -> Array | None:
        """A feasible start on the constraint: the coordinates (but ``q``) of every
        one-minus-others parameter that left its space shrunk until it is back."""
        reported = self.offset + self.jacobian @ free
        bad = [
            r
            for r, (v, s) in enumerate(zip(reported, self.scales, strict=True))
            if not _bounds_of(s)[0] <= v <= _bounds_of(s)[1]
        ]
        support = np.zeros(free.size, dtype=bool)
        for r in bad:
            support |= self.jacobian[r] != 0
        support[q] = False
        for shrink in (0.9, 0.5, 0.1, 0.01):
            trial = free.copy()
            trial[support] *= shrink
            trial = solve(trial)
            if math.isfinite(self._loglik(trial)):
                return trial
        return None
