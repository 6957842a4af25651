"""Profile-likelihood intervals of named parameters of a mixture fit, for every family.

The profile log-likelihood of a parameter at a value ``v`` is the largest
log-likelihood of the fits with that parameter held at ``v``.  For a
Gaussian fit's weights, means and 1-D variances it comes from EM with the
constraint in the M-step (:class:`ConstrainedMixture`), started from the MLE
moved onto the constraint: a weight held fixed (the others rescaled to fill
the rest), one coordinate of a component's mean held fixed (the others and
the covariance by conditional M-steps, an ECM), or a component's variance
held fixed.  The variances and covariances of a multivariate fit (every
covariance model, a shared one such as EEE's common covariance included)
are held by direct maximisation of the observed-data log-likelihood over
the model's other free parameters in its own coordinates, the chart of
:mod:`emstat.mixture.stderr`, by Newton steps along the constraint: every
iterate keeps the covariances positive definite and in the model.  The
covariances a diagonal model fixes at 0 have no profile.

The interval is where ``2 (l_max - l_profile(v)) <= chi2_1(level)``, its ends
found by Brent's method on brackets stepped out from the estimate, each
constrained fit started from the optimum at the neighbouring value; an end
that reaches the edge of the parameter space without crossing is that edge,
and one beyond which the constrained fits fail stops at the last value with
a fit; the table's note says which.  The other families' profiles
(:mod:`emstat.inference.family_profile`) maximise the log-likelihood
directly over their free parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.stats import chi2

from emstat.engine import EMControl, fit_em
from emstat.errors import EmstatError, InputError
from emstat.mixture import gaussian
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.gaussian import GaussianParams, GaussianStats
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.stderr import (
    _build_chart,
    _chart_point,
    _loglik_derivatives,
    _weighted_loglik,
)
from emstat.results import wald_z

__all__ = [
    "PROFILE_CONTROL",
    "ConstrainedMixture",
    "Constraint",
    "profile_conf_int",
    "profile_loglik",
]

Array = NDArray[np.float64]

#: The stopping rule of the constrained refits (and of the unconstrained maximum).
PROFILE_CONTROL = EMControl(tol=1e-11, criterion="rel", max_iter=20_000)
_MAX_BRACKET_STEPS = 40


@dataclass(frozen=True)
class Constraint:
    """A parameter of component ``component`` (0-based) held at ``value``.

    ``kind`` is ``"weight"``, ``"mean"`` or ``"var"``; ``coord`` the column.
    """

    kind: str
    component: int
    coord: int
    value: float


def _constrained_weights(weights: np.ndarray, c: Constraint) -> np.ndarray:
    others = np.delete(np.arange(weights.shape[0]), c.component)
    out = np.empty_like(weights)
    out[c.component] = c.value
    out[others] = weights[others] / weights[others].sum() * (1.0 - c.value)
    return out


@dataclass(frozen=True)
class ConstrainedMixture:
    """A Gaussian mixture whose M-step holds one parameter fixed (see the module docstring)."""

    base: GaussianMixtureModel
    constraint: Constraint

    def e_step(self, theta: GaussianParams, data: Any) -> tuple[GaussianStats, float]:
        return self.base.e_step(theta, data)

    def parameter_vector(self, theta: GaussianParams) -> np.ndarray:
        return theta.vector()

    def m_step(self, stats: GaussianStats, previous: GaussianParams | None) -> GaussianParams:
        c = self.constraint
        theta = self.base.reference_m_step(stats, previous)
        weights, means, covariances = theta.weights, theta.means, theta.covariances
        if c.kind == "weight":
            weights = _constrained_weights(weights, c)
        elif c.kind == "mean":
            means = stats.means.copy()
            j, a = c.component, c.coord
            shift = c.value - means[j, a]
            # ECM: the other coordinates' conditional M-step given the previous covariance
            sigma = (covariances if previous is None else previous.covariances)[j]
            means[j] += sigma[:, a] / sigma[a, a] * shift
            means[j, a] = c.value
            offset = stats.means - means
            scatter = stats.scatter()
            if scatter.ndim == 2:
                scatter = scatter + stats.nk[:, None] * offset**2
            else:
                scatter = scatter + stats.nk[:, None, None] * np.einsum(
                    "ki,kj->kij", offset, offset
                )
            prior = None if previous is None else previous.covariances
            covariances = self.base.covariance.m_step_trusted(stats.nk, scatter, prior)
        else:  # a variance (1-D): every component shares it under an equal-volume model
            covariances = covariances.copy()
            if self.base.covariance.name in ("E", "EII"):
                covariances[:] = c.value
            else:
                covariances[c.component] = c.value
        return gaussian.gaussian_params(
            weights, means, covariances, diagonal=self.base.covariance.scatter == "diag"
        )


def _on_constraint(params: GaussianParams, c: Constraint, equal: bool) -> GaussianParams:
    """The parameters moved onto the constraint: the start of its EM."""
    weights, means, covariances = params.weights, params.means.copy(), params.covariances.copy()
    if c.kind == "weight":
        weights = _constrained_weights(weights, c)
    elif c.kind == "mean":
        means[c.component, c.coord] = c.value
    elif equal:
        covariances[:] = c.value
    else:
        covariances[c.component] = c.value
    diagonal = bool(params.diagonal)
    return gaussian.gaussian_params(weights, means, covariances, diagonal=diagonal)


@dataclass(frozen=True, eq=False)
class _Profile:
    """The profile log-likelihood of one parameter of one fit (data about its centre)."""

    base: GaussianMixtureModel
    data: Any
    mle: GaussianParams
    l_max: float
    kind: str
    component: int
    coord: int
    control: EMControl
    centre: float  # added to a mean's value: the data are about the fit's centre

    def loglik(self, value: float, start: GaussianParams | None = None) -> tuple[float, Any]:
        c = Constraint(self.kind, self.component, self.coord, value - self.centre)
        equal = self.base.covariance.name in ("E", "EII")
        try:
            theta0 = _on_constraint(start or self.mle, c, equal)
            em = fit_em(
                ConstrainedMixture(self.base, c),
                self.data,
                theta0=theta0,
                control=self.control,
                warn=False,
            )
        except (EmstatError, FloatingPointError, np.linalg.LinAlgError):
            return -math.inf, None
        if not em.ok:
            return -math.inf, None
        return float(em.loglik), em.theta


# --------------------------------------------------------------------------- #
# covariance entries of multivariate fits: direct maximisation in the chart
# --------------------------------------------------------------------------- #

#: Most Newton steps of one constrained maximisation.
_NEWTON_STEPS = 60
#: The maximisation stops when a Newton step would gain less log-likelihood than this.
_GAIN_TOL = 1e-11
#: After a full Newton step that promised less than this the rest is below _GAIN_TOL
#: (the steps converge quadratically): no further step is taken.
_LAST_GAIN = 1e-7
_HALVINGS = 20
_RESTORE_STEPS = 30
#: The largest gain of log-likelihood one Newton step may promise (longer steps are
#: shortened): the fit follows the profile's path rather than leap to a degenerate spike.
_MAX_GAIN = 2.0
#: Most halvings of the way from a start to a value it cannot reach in one line.
_CONTINUATION_DEPTH = 4
#: Most halvings of a bracket step whose constrained fit fails.
_FAILED_HALVINGS = 6


def _entry_jets(chart: Any, j: int, a: int, b: int) -> tuple[Array, Array]:
    """Gradient and Hessian at 0 of entry ``(a, b)`` of component ``j``'s covariance in the
    chart's coordinates (only its covariance coordinates move it)."""
    orient = chart.orientations[j]
    cols = chart.cov_index[j]
    grad = np.zeros(chart.n_free)
    hess = np.zeros((chart.n_free, chart.n_free))
    grad[cols] = (orient @ chart.d_m[j] @ orient.T)[:, a, b]
    hess[np.ix_(cols, cols)] = (orient @ chart.d2_m[j] @ orient.T)[:, :, a, b]
    return grad, hess


def _chart_params(chart: Any, theta: Array, diagonal: bool) -> GaussianParams | None:
    """The parameters at chart coordinates ``theta``, or None where a covariance degenerates."""
    weights, means, covariances = _chart_point(chart, theta)
    try:
        return gaussian.gaussian_params(weights, means, covariances, diagonal=diagonal)
    except (EmstatError, FloatingPointError, np.linalg.LinAlgError):
        return None


@dataclass(frozen=True, eq=False)
class _EntryProfile:
    """The profile log-likelihood of entry ``(a, b)`` of component ``component``'s covariance
    in a multivariate fit.

    Holding the entry at ``v``, the observed-data log-likelihood is maximised
    over the model's other free parameters in its own coordinates: the local
    chart of :mod:`emstat.mixture.stderr` (log-volume, log-shape and
    rotation coordinates, shared as the model's letters say), re-centred at
    each iterate.  Each step is a Newton step in the tangent space of the
    constraint with the analytic Hessian of the Lagrangian (the entry's own
    curvature times its multiplier included), inside a trust region,
    followed by a move back onto the constraint along the direction that
    changes the entry at the least cost of log-likelihood, and step halving
    until the log-likelihood rises: every iterate satisfies the constraint and
    the model's constraints, and every covariance stays positive definite.  A
    start that cannot be moved onto the constraint in one line goes by way of
    the constrained maximum half-way there.
    """

    model: str
    data: Array
    case_weights: Array | None
    mle: GaussianParams
    l_max: float
    component: int
    entry: tuple[int, int]
    diagonal: bool

    def _loglik(self, params: GaussianParams) -> float:
        try:
            value = _weighted_loglik(self.data, params, self.case_weights)
        except (EmstatError, FloatingPointError):
            return -math.inf
        return value if math.isfinite(value) else -math.inf

    def _entry(self, chart: Any, theta: Array) -> tuple[float, GaussianParams | None]:
        params = _chart_params(chart, theta, self.diagonal)
        if params is None:
            return math.nan, None
        a, b = self.entry
        return float(params.covariances[self.component, a, b]), params

    def _restore(
        self, chart: Any, theta: Array, direction: Array, value: float
    ) -> GaussianParams | None:
        """The point ``theta + t direction`` of ``chart`` where the entry is ``value`` (secant
        on ``t``; ``direction`` moves the entry by about one per unit), or None."""
        a, b = self.entry
        size = math.sqrt(
            chart.covariances[self.component, a, a] * chart.covariances[self.component, b, b]
        )
        tol = 1e-13 * max(size, abs(value))
        before, params = self._entry(chart, theta)
        if params is None:
            return None
        t_prev, miss_prev = 0.0, before - value
        if abs(miss_prev) <= tol:
            return params
        t = -miss_prev
        for _ in range(_RESTORE_STEPS):
            reached, params = self._entry(chart, theta + t * direction)
            if params is None:
                return None
            miss = reached - value
            if abs(miss) <= tol:
                return params
            if miss == miss_prev:
                return None
            t_prev, t, miss_prev = t, t - miss * (t - t_prev) / (miss - miss_prev), miss
        return None

    def _local(self, params: GaussianParams) -> tuple[Any, Array, Array, float]:
        """The chart at ``params``, the Newton step along the constraint in it, the
        direction that moves the entry by one at least cost of log-likelihood, and the
        step's predicted gain.

        Both come from the curvature of the Lagrangian (the log-likelihood's
        Hessian less the multiplier times the entry's own); where it is not
        concave along a direction (far from the maximum) that direction's
        curvature counts by its size, so the step still goes uphill.
        """
        j, (a, b) = self.component, self.entry
        chart = _build_chart(params, self.model)
        hess, size, score = _loglik_derivatives(self.data, params, chart, self.case_weights)
        grad, curvature = _entry_jets(chart, j, a, b)
        # each coordinate in the unit of its terms, so that the systems are well scaled
        scale = 1.0 / np.sqrt(np.maximum(size, 1e-12 * max(float(size.max()), 1e-300)))
        g, n = score * scale, grad * scale
        multiplier = float(g @ n) / float(n @ n)
        lagrangian = -(hess - multiplier * curvature) * scale[:, None] * scale[None, :]
        towards = _positive_solve(lagrangian, n)
        normal = scale * towards / float(n @ towards)
        basis = np.linalg.qr(n[:, None], mode="complete")[0][:, 1:]  # the tangent space
        along = basis.T @ g
        coefficients = _positive_solve(basis.T @ lagrangian @ basis, along)
        return chart, scale * (basis @ coefficients), normal, 0.5 * float(along @ coefficients)

    def _maximise(self, params: GaussianParams, value: float) -> tuple[float, GaussianParams]:
        """Newton steps on the constraint from ``params`` until the gain is below tolerance."""
        current = self._loglik(params)
        for _ in range(_NEWTON_STEPS):
            chart, step, normal, gain = self._local(params)
            if not gain > _GAIN_TOL:
                break
            if current > self.l_max + _ABOVE_MAX:
                break  # above the estimate's maximum: no point of this profile (see _end)
            if gain > _MAX_GAIN:  # a trust region: stay near the path from the estimate
                step, gain = step * math.sqrt(_MAX_GAIN / gain), _MAX_GAIN
            for halving in range(_HALVINGS):
                trial = self._restore(chart, step * 0.5**halving, normal, value)
                reached = -math.inf if trial is None else self._loglik(trial)
                if trial is not None and reached > current:
                    params, current = trial, reached
                    break
            else:
                break
            if halving == 0 and gain < _LAST_GAIN:
                break
        return current, params

    def _fit_at(self, value: float, start: GaussianParams) -> tuple[float, GaussianParams] | None:
        """The constrained maximum from ``start`` moved onto the constraint, or None."""
        chart, _, normal, _ = self._local(start)
        params = self._restore(chart, np.zeros(chart.n_free), normal, value)
        return None if params is None else self._maximise(params, value)

    def _continued(
        self, value: float, start: GaussianParams, depth: int
    ) -> tuple[float, GaussianParams] | None:
        """:meth:`_fit_at`, or, when ``start`` cannot be moved onto the constraint in one
        line (a covariance that a rotation alone cannot reach), by way of the constrained
        maximum half-way there."""
        found = self._fit_at(value, start)
        if found is not None or depth >= _CONTINUATION_DEPTH:
            return found
        a, b = self.entry
        here = float(start.covariances[self.component, a, b])
        middle = self._continued(0.5 * (here + value), start, depth + 1)
        return None if middle is None else self._continued(value, middle[1], depth + 1)

    def loglik(self, value: float, start: GaussianParams | None = None) -> tuple[float, Any]:
        try:
            found = self._continued(value, start or self.mle, 0)
        except (EmstatError, FloatingPointError, np.linalg.LinAlgError):
            return -math.inf, None
        if found is None or not math.isfinite(found[0]):
            return -math.inf, None
        return found


def _positive_solve(matrix: Array, vector: Array) -> Array:
    """``M^{-1} v`` with ``M``'s eigenvalues replaced by their sizes (floored): a metric."""
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    values = np.maximum(np.abs(values), max(1e-10 * float(np.max(np.abs(values))), 1e-14))
    return np.asarray(vectors @ ((vectors.T @ vector) / values), dtype=float)


def _parse(label: Any, labels: Sequence[str]) -> int:
    if isinstance(label, tuple) and len(label) == 2:
        label = f"{label[0]}:{label[1]}"
    if not isinstance(label, str) or label not in labels:
        raise InputError(
            f"no parameter {label!r} in this fit; the parameters are {', '.join(labels)}"
        )
    return list(labels).index(label)


_FAILED = (
    "stops at {value:.6g}, the last value whose constrained fit succeeds (beyond it the "
    "fits degenerate, do not converge or leave the estimate's local maximum)"
)
#: A constrained fit this far above the maximum has left the estimate's local maximum
#: (for a degenerate spike or another mode): it is no point of this profile.
_ABOVE_MAX = 1e-3


def _fitted(value: float, l_max: float) -> bool:
    return math.isfinite(value) and value <= l_max + _ABOVE_MAX


def _end(
    profile: Any,
    estimate: float,
    step: float,
    bound: float,
    threshold: float,
    max_evaluations: int,
) -> tuple[float, str]:
    """One end of the interval: step out until the deviance passes ``threshold``, then Brent.

    A value whose constrained fit fails is not a crossing: the step is halved
    towards the last value with a fit, and when no fit is found the end is
    that value, with the reason.
    """
    inside, start = estimate, None
    known = {estimate: profile.l_max}  # values already fitted: Brent starts from its bracket
    for i in range(1, _MAX_BRACKET_STEPS + 1):
        candidate = estimate + step * 2 ** (i - 1)
        if (step > 0 and candidate >= bound) or (step < 0 and candidate <= bound):
            candidate = inside + (bound - inside) * 0.5
            if abs(candidate - bound) < 1e-10 * max(abs(bound), 1.0):
                return bound, "reaches the edge of the parameter space"
        value, theta = profile.loglik(candidate, start)
        for _ in range(_FAILED_HALVINGS):
            if _fitted(value, profile.l_max):
                break
            candidate = inside + 0.5 * (candidate - inside)
            value, theta = profile.loglik(candidate, start)
        else:
            return inside, _FAILED.format(value=inside)
        known[candidate] = value
        if 2.0 * (profile.l_max - value) > threshold:

            def signed_root(v: float, warm: Any = start) -> float:
                # the root of the deviance is nearly linear in v: Brent converges in a few steps
                reached = known[v] if v in known else profile.loglik(v, warm)[0]
                if not _fitted(reached, profile.l_max):
                    raise _FitFailed(v)
                return math.sqrt(max(2.0 * (profile.l_max - reached), 0.0)) - math.sqrt(threshold)

            xtol = 1e-7 * abs(step)
            try:
                root = brentq(signed_root, inside, candidate, xtol=xtol, maxiter=max_evaluations)
            except _FitFailed:
                return inside, _FAILED.format(value=inside)
            return float(root), ""
        inside, start = candidate, start if theta is None else theta
    return inside, "the profile is still below the cut-off far from the estimate"


class _FitFailed(Exception):
    """A constrained fit inside a bracket failed."""


@dataclass(frozen=True, eq=False)
class _Setup:
    """What every profile of one fit shares: its data about the centre and the maximum."""

    table: pd.DataFrame
    labels: list[str]
    base: GaussianMixtureModel
    data: Any
    mle: GaussianParams
    l_max: float
    centre: np.ndarray
    control: EMControl
    positions: dict[str, tuple[int, ...]]  # a parameter's place in (mean | covariance)

    def profile(self, row: int) -> _Profile | _EntryProfile:
        parameter = str(self.table["parameter"].iloc[row])
        kind = parameter.split("[")[0]
        component = int(self.table["component"].iloc[row]) - 1
        if kind in ("var", "cov") and self.mle.d > 1:
            return self.entry_profile(component, parameter)
        coord = self.positions[parameter][0] if kind == "mean" else 0
        return _Profile(
            self.base,
            self.data,
            self.mle,
            self.l_max,
            kind,
            component,
            coord,
            self.control,
            float(self.centre[coord]) if kind == "mean" else 0.0,
        )

    def entry_profile(self, component: int, parameter: str) -> _EntryProfile:
        a, b = self.positions[parameter]
        if isinstance(self.data, gaussian.WeightedRows):
            x, case_weights = self.data.x, self.data.weights
        else:
            x, case_weights = self.data, None
        return _EntryProfile(
            self.base.covariance.name,
            x,
            case_weights,
            self.mle,
            self.l_max,
            component,
            (a, b),
            self.base.covariance.scatter == "diag",
        )


def _setup(fit: Any, level: float, control: EMControl | None) -> _Setup:
    theta_fit = fit._require_ok()
    if not isinstance(fit.data_, np.ndarray | gaussian.WeightedRows):
        raise InputError("profile intervals refit the data, which this fit does not keep")
    table = fit.conf_int(level)
    labels = [f"{c}:{p}" for c, p in zip(table["component"], table["parameter"], strict=True)]
    control = control or PROFILE_CONTROL
    covariance = get_covariance_model(fit.model, fit.d)
    base = GaussianMixtureModel(covariance, fit.k)
    centre = np.asarray(theta_fit.center, dtype=float)
    start = theta_fit.shifted(-centre)
    start = gaussian.gaussian_params(
        start.weights, start.means, start.covariances, diagonal=covariance.scatter == "diag"
    )
    if isinstance(fit.data_, gaussian.WeightedRows):
        data: Any = gaussian.WeightedRows(fit.data_.x - centre, fit.data_.weights)
    else:
        data = np.asarray(fit.data_, dtype=float) - centre
    top = fit_em(base, data, theta0=start, control=control, warn=False)
    mle = top.theta if top.ok and top.theta is not None else start
    l_max = max(float(top.loglik) if top.ok else -math.inf, float(fit.loglik))
    positions = dict(gaussian.parameter_names(list(fit.columns)))
    return _Setup(table, labels, base, data, mle, l_max, centre, control, positions)


def _profilable(fit: Any, table: pd.DataFrame) -> list[int]:
    """Rows with a profile: every free parameter (not the weight of k = 1, nor a
    covariance a diagonal model fixes at 0)."""
    diagonal = get_covariance_model(fit.model, fit.d).scatter == "diag"
    return [
        i
        for i, p in enumerate(table["parameter"])
        if (p == "weight" and fit.k > 1)
        or p.startswith(("mean[", "var["))
        or (p.startswith("cov[") and not diagonal)
    ]


def _shared_key(fit: Any, component: int, parameter: str) -> tuple[int, str]:
    """What a row's profile constrains: rows with one key are one parameter of the model
    (a shared covariance's entry in every component; a spherical component's variances)."""
    from emstat.mixture.result import MixtureResult

    if not isinstance(fit, MixtureResult) or not parameter.startswith(("var[", "cov[")):
        return component, parameter
    name = get_covariance_model(fit.model, fit.d).name
    letters = name if len(name) == 3 else f"{name}II"
    if letters[1] == "I" and parameter.startswith("var["):
        parameter = "var"  # a spherical covariance has one variance
    if letters[0] == "E" and letters[1] in "EI" and letters[2] in "EI":
        component = 0  # one covariance for all components
    return component, parameter


def profile_conf_int(
    fit: Any,
    level: float = 0.95,
    parameters: Sequence[Any] | None = None,
    control: EMControl | None = None,
    max_evaluations: int = 100,
) -> pd.DataFrame:
    """Profile-likelihood intervals of ``parameters`` of a Gaussian or family mixture fit.

    Parameters
    ----------
    fit
        A :class:`~emstat.mixture.result.MixtureResult` or
        :class:`~emstat.mixture.family_fit.FamilyMixtureResult` that is
        ``ok`` and keeps its data.
    level
        Confidence level in (0, 1).
    parameters
        Labels ``"component:parameter"`` (``"1:weight"``, ``"2:mean[x]"``,
        ``"1:var[x]"``, ``"2:cov[x,y]"``, ``"2:rate[deaths]"``) or
        (component, parameter) pairs; default: every free parameter (not the
        weight of k = 1, nor a covariance a diagonal model fixes at 0).
    control
        Stopping rule of a Gaussian fit's constrained EM refits (default
        :data:`PROFILE_CONTROL`); the variances and covariances of a
        multivariate fit are maximised by Newton steps until one would gain
        less than 1e-11 in log-likelihood; family fits take none.
    max_evaluations
        Most profile evaluations of Brent's method per end.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: component, parameter, estimate, std_err (the
        Wald one), ci_low, ci_high, note (why an end is the edge of the
        space), scale (``"profile"``) and method (``"profile"``).
    """
    wald_z(level)
    profiles = _profiles(fit, level, control)
    table, labels = profiles.table, profiles.labels
    if parameters is None:
        rows = profiles.rows
    else:
        if isinstance(parameters, str | tuple):
            parameters = [parameters]
        rows = [_parse(label, labels) for label in parameters]
        for i in rows:
            if i not in profiles.rows:
                raise InputError(f"no profile interval for {labels[i]!r}: {profiles.supported}")
    threshold = float(chi2.ppf(level, 1))
    out = []
    ends: dict[tuple[int, str], tuple[float, float, str]] = {}  # one profile per parameter
    for i in rows:
        estimate = float(table["estimate"].iloc[i])
        se = float(table["std_err"].iloc[i])
        key = _shared_key(fit, int(table["component"].iloc[i]), labels[i].split(":", 1)[1])
        if key not in ends:
            profile, (low_bound, high_bound) = profiles.get(i)
            step = se if math.isfinite(se) and se > 0 else 0.1 * max(abs(estimate), 1.0)
            low, note_low = _end(profile, estimate, -step, low_bound, threshold, max_evaluations)
            high, note_high = _end(profile, estimate, step, high_bound, threshold, max_evaluations)
            ends[key] = (
                low,
                high,
                "; ".join(
                    f"{side} end {text}"
                    for side, text in (("lower", note_low), ("upper", note_high))
                    if text
                ),
            )
        low, high, note = ends[key]
        out.append(
            (
                int(table["component"].iloc[i]),
                labels[i].split(":", 1)[1],
                estimate,
                se,
                low,
                high,
                note,
            )
        )
    frame = pd.DataFrame(
        out,
        columns=["component", "parameter", "estimate", "std_err", "ci_low", "ci_high", "note"],
    )
    frame["scale"] = "profile"
    frame["method"] = "profile"
    return frame


def _bounds(kind: str) -> tuple[float, float]:
    if kind == "weight":
        return 0.0, 1.0
    if kind == "var":
        return 0.0, math.inf
    return -math.inf, math.inf


@dataclass(frozen=True, eq=False)
class _Profiles:
    """The profiles of one fit: its table, labels, the rows with a profile, and each
    row's profile (``loglik(value, start)``, ``l_max``) with the edges of its space."""

    table: pd.DataFrame
    labels: list[str]
    rows: list[int]
    get: Callable[[int], tuple[Any, tuple[float, float]]]
    supported: str  # what has a profile, for the error naming a row without one


def _profiles(fit: Any, level: float, control: EMControl | None) -> _Profiles:
    from emstat.mixture.result import MixtureResult

    if not isinstance(fit, MixtureResult):
        from emstat.inference.family_profile import FamilyProfiles

        if control is not None:
            raise InputError(
                "control sets the EM refits of Gaussian profiles; a family fit's profile "
                "maximises its log-likelihood directly (leave control out)"
            )
        family = FamilyProfiles.of(fit, level)

        def get_family(row: int) -> tuple[Any, tuple[float, float]]:
            profile = family.profile(row)
            return profile, profile.bounds

        return _Profiles(
            family.table,
            family.labels,
            family.profilable(),
            get_family,
            "every estimated parameter has one but a weight fixed by the user or by k = 1",
        )
    setup = _setup(fit, level, control)

    def get(row: int) -> tuple[Any, tuple[float, float]]:
        kind = str(setup.table["parameter"].iloc[row]).split("[")[0]
        return setup.profile(row), _bounds(kind)

    return _Profiles(
        setup.table,
        setup.labels,
        _profilable(fit, setup.table),
        get,
        "every free parameter has one but the weight of k = 1 and the covariances a "
        "diagonal model fixes at 0",
    )


def profile_loglik(fit: Any, parameter: Any, values: Sequence[float]) -> np.ndarray:
    """The profile log-likelihood of ``parameter`` (a label) at each of ``values``, for a
    Gaussian or family mixture fit."""
    profiles = _profiles(fit, 0.95, None)
    row = _parse(parameter, profiles.labels)
    if row not in profiles.rows:
        raise InputError(f"no profile for {profiles.labels[row]!r}: {profiles.supported}")
    profile, _ = profiles.get(row)
    return np.array([profile.loglik(float(v))[0] for v in values])
