"""The Gaussian mixture as the engine sees it: an E-step and an M-step."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np

from emstat.errors import DegenerateFitError
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
        """One compiled call for the closed-form models, EEV, VEV and EVV; else the numpy M-step.

        The compiled M-step never declares a fit degenerate: where it doubts,
        the reference M-step decides, so both paths give the same parameters
        (to rounding) and the same errors.
        """
        stats = self.regularised(stats)
        if self.prior is not None:  # the compiled M-steps know no prior
            return self._numpy_m_step(stats, previous)
        compiled = _compiled_m_step(self.covariance.name, stats)
        if compiled is None:
            compiled = _orientation_m_step(self.covariance, stats, previous)
        if compiled is not None:
            return compiled
        return self._numpy_m_step(stats, previous)

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


@cache
def _compiled_kernel(name: str) -> tuple[Callable[..., Any], tuple[Any, ...], bool, int] | None:
    """The compiled M-step of model ``name``, its fixed arguments, whether it is
    diagonal, and its success status; None for a model without one.

    Decided once per model, not once per EM iteration.
    """
    form = _CLOSED_FORM.get(name)
    if form is None:
        return None
    from emstat.mixture import _mstep_kernels as kernels  # numba: a dependency, no fallback

    diagonal, equal_volume, shape = form
    rounding = gaussian.ROUNDING_FACTOR * _EPS
    if diagonal:
        shape_code = {"I": kernels.SHAPE_I, "E": kernels.SHAPE_E, "V": kernels.SHAPE_V}[shape]
        diagonal_options = (equal_volume, shape_code, _MIN_COMPONENT_WEIGHT, rounding)
        return kernels.diagonal_m_step, diagonal_options, True, kernels.OK
    full_options = (equal_volume, _MIN_COMPONENT_WEIGHT, rounding)
    return kernels.full_m_step, full_options, False, kernels.OK


def _compiled_m_step(name: str, stats: GaussianStats) -> GaussianParams | None:
    """The M-step of a closed-form model in one compiled call, or None.

    None when the model has no compiled M-step, numba is missing, or the
    kernel doubts the result (an empty or singular component): the numpy
    M-step then decides, with its messages.
    """
    compiled = _compiled_kernel(name)
    if compiled is None:
        return None
    kernel, options, diagonal, ok = compiled
    weights, means, covariances, prec_chol, half_log_det, status = kernel(
        stats.nk, stats.sums, stats.second, *options
    )
    if status != ok:
        return None
    return GaussianParams(weights, means, covariances, prec_chol, half_log_det, diagonal)


# The models with varying orientation, whose compiled M-step is in
# _mstep_orientation_kernels: it warm-starts from the previous covariances and
# takes the model's inner_tol.
_ORIENTATION = frozenset({"EEV", "VEV", "EVV"})


def _orientation_m_step(
    covariance: CovarianceModel, stats: GaussianStats, previous: GaussianParams | None
) -> GaussianParams | None:
    """The M-step of EEV, VEV or EVV in one compiled call, or None.

    None for another model, for ``mclust_compatible`` (which keeps the numpy
    M-step), or when the kernel doubts (an empty or singular component, a
    capped inner iteration, undetermined eigenvectors): the numpy M-step then
    decides, with its messages and warnings.
    """
    name = covariance.name
    if name not in _ORIENTATION or covariance.mclust_compatible or stats.second.ndim != 3:
        return None
    from emstat.mixture import _mstep_orientation_kernels as kernels

    d = stats.sums.shape[1]
    previous_covariances = (
        np.empty((0, d, d)) if previous is None else np.ascontiguousarray(previous.covariances)
    )
    options = kernels.options(
        name, _MIN_COMPONENT_WEIGHT, gaussian.ROUNDING_FACTOR * _EPS, covariance.inner_tol
    )
    weights, means, covariances, prec_chol, half_log_det, status = kernels.orientation_m_step(
        stats.nk, stats.sums, stats.second, previous_covariances, options
    )
    if status != kernels.OK:
        return None
    return GaussianParams(weights, means, covariances, prec_chol, half_log_det, False)
