"""The Gaussian mixture as the engine sees it: an E-step and an M-step."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np

from emstat.errors import DegenerateFitError
from emstat.mixture import covariance as covariance_models
from emstat.mixture import gaussian, missing
from emstat.mixture.covariance import CovarianceModel
from emstat.mixture.gaussian import GaussianParams, GaussianStats
from emstat.mixture.prior import ResolvedPrior, map_statistics

__all__ = ["GaussianMixtureModel"]

# mclust treats a component whose total responsibility is this small as empty.
_MIN_COMPONENT_WEIGHT = math.sqrt(np.finfo(float).eps)
_EPS = float(np.finfo(float).eps)

# The closed-form models the compiled M-step serves: name -> (diagonal, equal
# volume, shape letter); the others take the numpy M-step.
_CLOSED_FORM: dict[str, tuple[bool, bool, str]] = {
    "E": (True, True, "I"),
    "V": (True, False, "I"),
    "EII": (True, True, "I"),
    "VII": (True, False, "I"),
    "EEI": (True, True, "E"),
    "EVI": (True, True, "V"),
    "VVI": (True, False, "V"),
    "EEE": (False, True, "E"),
    "VVV": (False, False, "V"),
}

# The iterative models the compiled M-step serves: name -> (kernel in
# ``_mstep_iterative_kernels``, its mclust_compatible twin, diagonal).  They take
# (nk, sums, second, previous covariances, options) with options (min weight,
# rounding, inner tolerance, iteration cap).
_ITERATIVE: dict[str, tuple[str, str, bool]] = {
    "VEI": ("vei_m_step", "vei_m_step", True),  # mclust_compatible changes nothing in VEI
    "VEE": ("vee_m_step", "vee_mclust_m_step", False),
    "EVE": ("eve_m_step", "eve_mclust_m_step", False),
    "VVE": ("vve_m_step", "vve_mclust_m_step", False),
}


@dataclass(frozen=True)
class GaussianMixtureModel:
    """A k-component Gaussian mixture with one of mclust's covariance models.

    ``reg_covar`` > 0 adds ``reg_covar * n_k * I`` to every component's
    scatter before each M-step (scikit-learn's ``reg_covar``): the VVV
    covariances become ``S_k / n_k + reg_covar * I``, and every other model
    is fitted to the ridged scatter under its constraint.

    ``prior`` (a :class:`~emstat.mixture.prior.ResolvedPrior`, its mean in
    the units of the rows EM sees) makes every M-step the posterior mode
    (:mod:`emstat.mixture.prior`); the numpy M-step then serves every model.
    """

    covariance: CovarianceModel
    k: int
    reg_covar: float = 0.0
    prior: ResolvedPrior | None = None

    @property
    def monotone(self) -> bool:
        """EM's log-likelihood never decreases, except with a ridge or a prior.

        Neither M-step maximises the likelihood; MAP EM raises the posterior,
        while the log-likelihood it reports and stops on (as mclust's) may fall.
        """
        return self.reg_covar == 0.0 and self.prior is None

    def e_step(
        self,
        theta: GaussianParams,
        data: np.ndarray | gaussian.WeightedRows | missing.IncompleteRows,
    ) -> tuple[GaussianStats, float]:
        if isinstance(data, missing.IncompleteRows):
            return missing.e_step(data, theta, self.covariance.scatter)
        if isinstance(data, gaussian.WeightedRows):
            return gaussian.weighted_e_step(data, theta, self.covariance.scatter)
        return gaussian.e_step(data, theta, self.covariance.scatter)

    def m_step(self, stats: GaussianStats, previous: GaussianParams | None) -> GaussianParams:
        """One compiled call where a kernel exists; :meth:`reference_m_step` otherwise.

        The closed-form models and the iterative VEI, VEE, EVE and VVE (in
        both modes) have kernels.  The compiled M-step never declares a fit
        degenerate: where it doubts, the reference M-step decides, so both
        paths give the same parameters (to rounding) and the same errors.
        """
        stats = self.regularised(stats)
        if self.prior is not None:  # the compiled M-steps know no prior
            return self._numpy_m_step(stats, previous)
        compiled = _compiled_m_step(self.covariance, stats, previous)
        if compiled is not None:
            return compiled
        return self._numpy_m_step(stats, previous)

    def run_compiled(
        self,
        data: Any,
        theta: GaussianParams,
        control: Any,
        n_iter: int,
        trace: list[float],
        n_obs: float,
    ) -> Any:
        """EM's loop in one compiled call where it can run there, else None (the engine's hook).

        See :func:`emstat.mixture._em_kernels.run_em`.
        """
        from emstat.mixture import _em_kernels

        return _em_kernels.run_em(self, data, theta, control, n_iter, trace, n_obs)

    def regularised(self, stats: GaussianStats) -> GaussianStats:
        """``stats`` with ``reg_covar * n_k`` on the diagonal of each second moment.

        The sums are unchanged, so each scatter about its own mean gains
        exactly ``reg_covar * n_k * I``; ``reg_covar = 0`` returns ``stats`` itself.
        """
        if self.reg_covar == 0.0:
            return stats
        ridge = self.reg_covar * stats.nk
        second = stats.second.copy()
        if second.ndim == 2:
            second += ridge[:, None]
        else:
            diagonal = np.einsum("kii->ki", second)  # a writable view of the diagonals
            diagonal += ridge[:, None]
        return replace(stats, second=second)

    def reference_m_step(
        self, stats: GaussianStats, previous: GaussianParams | None
    ) -> GaussianParams:
        """The M-step in numpy: every model, and every decision that a fit is degenerate."""
        return self._numpy_m_step(self.regularised(stats), previous)

    def _numpy_m_step(
        self, stats: GaussianStats, previous: GaussianParams | None
    ) -> GaussianParams:
        if (stats.nk <= _MIN_COMPONENT_WEIGHT).any():
            empty = np.flatnonzero(stats.nk <= _MIN_COMPONENT_WEIGHT)
            raise DegenerateFitError(
                f"component {int(empty[0]) + 1} is empty "
                f"(total responsibility {stats.nk[empty[0]]:.3g})"
            )
        nk, means, scatter = stats.nk, stats.means, stats.scatter()
        if self.prior is not None:
            means, nk, scatter = map_statistics(
                self.covariance.name, self.prior, stats.nk, means, scatter
            )
        covariances = self.covariance.m_step_trusted(
            nk, scatter, None if previous is None else previous.covariances
        )
        return gaussian.gaussian_params(
            stats.nk / stats.nk.sum(),
            means,
            covariances,
            diagonal=self.covariance.scatter == "diag",
        )

    def parameter_vector(self, theta: GaussianParams) -> np.ndarray:
        return theta.vector()

    def n_params(self, d: int) -> int:
        """Free parameters: covariance parameters, k·d means and k - 1 weights."""
        return self.covariance.n_var_params(self.k, d) + self.k * d + self.k - 1

    def stats_from_labels(self, x: np.ndarray, labels: np.ndarray) -> GaussianStats:
        """Statistics of a hard partition (labels 0..k-1), the start of mclust's EM."""
        resp = np.zeros((x.shape[0], self.k))
        resp[np.arange(x.shape[0]), labels] = 1.0
        return gaussian.stats_from_responsibilities(x, resp, self.covariance.scatter)

    def stats_from_responsibilities(
        self, x: np.ndarray | gaussian.WeightedRows, resp: np.ndarray
    ) -> GaussianStats:
        if isinstance(x, gaussian.WeightedRows):
            resp, x = resp * x.weights[:, None], x.x
        return gaussian.stats_from_responsibilities(x, resp, self.covariance.scatter)


# The models with varying orientation, whose kernel is in _mstep_orientation_kernels
# (mclust_compatible keeps the numpy M-step, which repeats mclust's arithmetic).
_ORIENTATION = frozenset({"EEV", "VEV", "EVV"})

#: What :func:`_compiled_kernel` gives: the kernel, its options, whether the
#: model is diagonal, and the kernel's success status.
CompiledMStep = tuple[Callable[..., Any], tuple[Any, ...], bool, int]


@cache
def _closed_form_kernel(name: str) -> CompiledMStep:
    """The kernel and options of closed-form model ``name`` (decided once per model)."""
    from emstat.mixture import _mstep_kernels as kernels  # numba: a dependency, no fallback

    diagonal, equal_volume, shape = _CLOSED_FORM[name]
    rounding = gaussian.ROUNDING_FACTOR * _EPS
    if diagonal:
        shape_code = {"I": kernels.SHAPE_I, "E": kernels.SHAPE_E, "V": kernels.SHAPE_V}[shape]
        diagonal_options = (equal_volume, shape_code, _MIN_COMPONENT_WEIGHT, rounding)
        return kernels.diagonal_m_step, diagonal_options, True, kernels.OK
    full_options = (equal_volume, _MIN_COMPONENT_WEIGHT, rounding)
    return kernels.full_m_step, full_options, False, kernels.OK


def _compiled_kernel(covariance: CovarianceModel) -> CompiledMStep | None:
    """The compiled M-step of ``covariance``'s model, or None for a model without one.

    Every kernel has the signature ``kernel(nk, sums, second,
    previous_covariances, options) -> (weights, means, covariances, prec_chol,
    half_log_det, status)``; the compiled EM loop
    (:mod:`emstat.mixture._em_kernels`) serves every model listed here.  The
    iterative models' options hold the inner tolerance in force when called
    (the model's ``inner_tol``, else the default) and the inner cap.
    """
    name = covariance.name
    if name in _CLOSED_FORM:
        return _closed_form_kernel(name)
    tol = covariance.inner_tol
    if tol is None:
        tol = covariance_models._inner_tol()
    rounding = gaussian.ROUNDING_FACTOR * _EPS
    if name in _ITERATIVE:
        from emstat.mixture import _mstep_iterative_kernels as iterative

        default, mclust, diagonal = _ITERATIVE[name]
        kernel = getattr(iterative, mclust if covariance.mclust_compatible else default)
        cap = covariance_models.INNER_MAX_ITER
        return kernel, (_MIN_COMPONENT_WEIGHT, rounding, tol, cap), diagonal, iterative.OK
    if name in _ORIENTATION and not covariance.mclust_compatible:
        from emstat.mixture import _mstep_orientation_kernels as orientation

        options = orientation.options(name, _MIN_COMPONENT_WEIGHT, rounding, tol)
        return orientation.orientation_m_step, options, False, orientation.OK
    return None


def _compiled_m_step(
    covariance: CovarianceModel, stats: GaussianStats, previous: GaussianParams | None = None
) -> GaussianParams | None:
    """The M-step of a model with a compiled kernel in one call, or None.

    None when the model has no compiled M-step, or the kernel doubts the
    result (an empty or singular component, an inner loop at its cap or too
    close to a decision): the numpy M-step then decides, with its messages
    and warnings.
    """
    compiled = _compiled_kernel(covariance)
    if compiled is None:
        return None
    kernel, options, diagonal, ok = compiled
    d = stats.sums.shape[1]
    if previous is not None and previous.covariances.shape[1:] == (d, d):
        previous_covariances = np.ascontiguousarray(previous.covariances, dtype=float)
    else:
        previous_covariances = np.empty((0, d, d))
    weights, means, covariances, prec_chol, half_log_det, status = kernel(
        stats.nk, stats.sums, stats.second, previous_covariances, options
    )
    if status != ok:
        return None
    return GaussianParams(weights, means, covariances, prec_chol, half_log_det, diagonal)
