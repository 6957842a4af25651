"""Cheap refits of a fitted mixture to resampled data, for the bootstrap and the jackknife.

A refitter holds what every refit shares, computed once: the data about the
fit's centre, the fitted responsibilities ``z``, the EM model and the
stopping rule.  Each refit starts from the fit, as mclust's
``MclustBootstrap`` does (an M-step from the resampled rows' fitted ``z``,
or the fitted parameters' ``z`` of a parametric sample), skips the input
checks the fit already passed, computes no standard errors, and aligns its
components to the fitted ones.  It returns the estimates in the row order
of the fit's ``params``, or None when the refit is degenerate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from emstat.engine import EMControl, fit_em
from emstat.errors import EmstatError, InputError
from emstat.mixture import gaussian
from emstat.mixture.align import align_components, match_components
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.finite import FamilyData, FiniteMixture, MixtureTheta
from emstat.mixture.gaussian import GaussianParams, reported_vector
from emstat.mixture.model import GaussianMixtureModel

__all__ = ["KINDS", "FamilyRefitter", "GaussianRefitter", "Refitter", "refitter_for"]

Array = NDArray[np.float64]

#: Resampling schemes, as mclust's ``MclustBootstrap(type = ...)``.
KINDS = ("bs", "wlbs", "pb", "jk")

Refitter = Any  # GaussianRefitter | FamilyRefitter: ``n_units``, ``refit(kind, b, rng)``


def _resampled_rows(kind: str, b: int, n: int, rng: np.random.Generator) -> NDArray[np.intp] | None:
    """The rows of refit ``b``: drawn with replacement (bs), all but row b (jk), or all."""
    if kind == "bs":
        return rng.integers(n, size=n)
    if kind == "jk":
        return np.delete(np.arange(n), b)
    return None


def _wlbs_weights(n: int, rng: np.random.Generator) -> Array:
    """Dirichlet weights (exponential draws, scaled as mclust scales them: by their maximum)."""
    w = rng.exponential(size=n)
    return np.asarray(w / w.max(), dtype=float)


@dataclass(frozen=True, eq=False)
class GaussianRefitter:
    """Refits of a Gaussian mixture fit (see the module docstring)."""

    model: GaussianMixtureModel
    start: GaussianParams  # the fit, about ``centre``
    centre: Array
    x: Array | None  # the rows fitted, about ``centre`` (None: parametric bootstrap only)
    case_weights: Array | None
    z: Array | None  # responsibilities of the rows at the fit
    n_draw: int  # rows of a parametric sample
    control: EMControl
    metric: Array  # pooled covariance: the metric of the alignment
    whiten: Array  # its inverse's Cholesky factor

    @property
    def n_units(self) -> int:
        return self.n_draw if self.x is None else int(self.x.shape[0])

    def _sample(self, kind: str, b: int, rng: np.random.Generator) -> tuple[Any, Array]:
        start = self.start
        if kind == "pb":
            x, _ = gaussian.draw_mixture(
                start.weights, start.means, start.covariances, self.n_draw, rng
            )
            log_resp, _ = gaussian.log_responsibilities(x, start)
            return x, np.exp(log_resp)
        if self.x is None or self.z is None:  # pragma: no cover - refused by refitter_for
            raise InputError(f"the {kind!r} bootstrap needs the data fitted")
        rows = _resampled_rows(kind, b, self.x.shape[0], rng)
        weights = self.case_weights
        if kind == "wlbs":
            draw = _wlbs_weights(self.x.shape[0], rng)
            weights = draw if weights is None else weights * draw
        x, z = (self.x, self.z) if rows is None else (self.x[rows], self.z[rows])
        if weights is not None and rows is not None:
            weights = weights[rows]
        return (x if weights is None else gaussian.WeightedRows(x, weights)), z

    def refit(self, kind: str, b: int, rng: np.random.Generator) -> Array | None:
        data, z = self._sample(kind, b, rng)
        try:
            stats0 = self.model.stats_from_responsibilities(data, z)
            if self.model.k == 1:
                theta = self.model.m_step(stats0, None)
            else:
                n_obs = float(
                    z.shape[0]
                    if not isinstance(data, gaussian.WeightedRows)
                    else data.weights.sum()
                )
                em = fit_em(
                    self.model, data, stats0=stats0, control=self.control, n_obs=n_obs, warn=False
                )
                if not em.ok or em.theta is None:
                    return None
                theta = em.theta
        except (EmstatError, FloatingPointError, np.linalg.LinAlgError):
            return None
        perm = _aligned(self.start.means, theta.means, self.whiten, self.metric)
        return reported_vector(
            theta.weights[perm], theta.means[perm] + self.centre, theta.covariances[perm]
        )


def _aligned(reference: Array, means: Array, whiten: Array, metric: Array) -> NDArray[np.intp]:
    """:func:`align_components`, with a shortcut for the common case of a refit whose
    components each stay nearest their own: the sum of the row minima bounds every
    assignment's cost from below, so the identity attaining it is optimal."""
    diff = (means[:, None, :] - reference[None, :, :]) @ whiten
    cost = np.einsum("ijd,ijd->ij", diff, diff)
    if np.all(np.diag(cost) <= cost.min(axis=1)):
        return np.arange(means.shape[0])
    return align_components(reference, means, metric)


def gaussian_refitter(fit: Any, control: EMControl) -> GaussianRefitter:
    """The refitter of a :class:`~emstat.mixture.result.MixtureResult`."""
    params = fit._require_ok()
    covariance = get_covariance_model(fit.model, fit.d)
    if fit.k == 1:
        from emstat.mixture.fit import _one_component_equivalent

        covariance = get_covariance_model(_one_component_equivalent(covariance.name), fit.d)
    centre = np.asarray(params.center, dtype=float)
    start = params.shifted(-centre)
    start = gaussian.gaussian_params(
        start.weights, start.means, start.covariances, diagonal=covariance.scatter == "diag"
    )
    metric = np.tensordot(start.weights, start.covariances, axes=1)
    x = case_weights = z = None
    data = fit.data_
    if isinstance(data, gaussian.WeightedRows):
        x, case_weights = np.asarray(data.x, dtype=float) - centre, data.weights
    elif isinstance(data, np.ndarray):
        x = np.asarray(data, dtype=float) - centre
    if x is not None:
        log_resp, _ = gaussian.log_responsibilities(x, start)
        z = np.exp(log_resp)
    return GaussianRefitter(
        model=GaussianMixtureModel(covariance, fit.k),
        start=start,
        centre=centre,
        x=x,
        case_weights=case_weights,
        z=z,
        n_draw=max(round(fit.n), 2),
        control=control,
        metric=metric,
        whiten=np.asarray(np.linalg.cholesky(np.linalg.inv(metric)), dtype=float),
    )


def _link(values: Array, scales: Sequence[str]) -> Array:
    """Parameters on the link scale (log rates, logit probabilities), to match components."""
    out = np.asarray(values, dtype=float).copy()
    for j, scale in enumerate(scales):
        if scale == "log":
            out[:, j] = np.log(np.clip(out[:, j], 1e-12, None))
        elif scale == "logit":
            p = np.clip(out[:, j], 1e-12, 1 - 1e-12)
            out[:, j] = np.log(p / (1 - p))
    return out


@dataclass(frozen=True, eq=False)
class FamilyRefitter:
    """Refits of a fit of another component family (Poisson, binomial, categorical, ...)."""

    fit: Any  # the FamilyMixtureResult
    model: FiniteMixture
    theta: MixtureTheta
    data: FamilyData | None
    control: EMControl

    @property
    def n_units(self) -> int:
        return int(self.fit.n_rows) if self.data is None else self.data.n

    def _sample(self, kind: str, b: int, rng: np.random.Generator) -> FamilyData:
        if kind == "pb":
            frame = self.fit.sample(self.n_units, seed=rng).drop(columns="component")
            return FamilyData(self.model.family.encode(frame))
        if self.data is None:  # pragma: no cover - refused by refitter_for
            raise InputError(f"the {kind!r} bootstrap needs the data fitted")
        if kind == "wlbs":
            draw = _wlbs_weights(self.data.n, rng)
            weights = self.data.case_weights
            return FamilyData(self.data.blocks, draw if weights is None else weights * draw)
        rows = _resampled_rows(kind, b, self.data.n, rng)
        return self.data if rows is None else self.data.take(rows)

    def refit(self, kind: str, b: int, rng: np.random.Generator) -> Array | None:
        try:
            data = self._sample(kind, b, rng)
            em = fit_em(self.model, data, theta0=self.theta, control=self.control, warn=False)
        except (EmstatError, FloatingPointError, np.linalg.LinAlgError):
            return None
        if not em.ok or em.theta is None:
            return None
        return self.aligned(em.theta)

    def aligned(self, theta: MixtureTheta) -> Array:
        """A refit's estimates in the fit's ``params`` order, its components matched to the
        fitted ones on the family's link scale."""
        family = self.model.family
        _, fitted, scales = family.rows(self.theta.components)
        _, values, _ = family.rows(theta.components)
        match = match_components(_link(fitted, scales), _link(values, scales))
        perm = np.empty_like(match)
        perm[match] = np.arange(match.shape[0])
        aligned = MixtureTheta(theta.weights[perm], tuple(c[perm] for c in theta.components))
        return np.asarray(self.model.reported(aligned), dtype=float)


def family_refitter(fit: Any, control: EMControl) -> FamilyRefitter:
    """The refitter of a :class:`~emstat.mixture.family_fit.FamilyMixtureResult`."""
    return FamilyRefitter(fit, fit._model, fit._require_ok(), fit.data_, control)


def refitter_for(fit: Any, kind: str, control: EMControl | None) -> Refitter:
    """The refitter of a Gaussian or family fit; an InputError when ``kind`` needs data it lacks."""
    from emstat.mixture.result import MixtureResult

    refitter: Refitter
    if isinstance(fit, MixtureResult):
        refitter = gaussian_refitter(fit, control or fit.control)
        has_data = refitter.x is not None
    else:
        refitter = family_refitter(fit, control or fit.control)
        has_data = refitter.data is not None
    if kind != "pb" and not has_data:
        raise InputError(
            f"the {kind!r} bootstrap resamples the rows fitted, which this fit does not keep "
            "(loaded from a file, or data out of core); use kind='pb'"
        )
    return refitter
