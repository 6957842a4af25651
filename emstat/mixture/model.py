"""The Gaussian mixture as the engine sees it: an E-step and an M-step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emstat.errors import DegenerateFitError
from emstat.mixture import gaussian
from emstat.mixture.covariance import CovarianceModel
from emstat.mixture.gaussian import GaussianParams, GaussianStats

__all__ = ["GaussianMixtureModel"]

# mclust treats a component whose total responsibility is this small as empty.
_MIN_COMPONENT_WEIGHT = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True)
class GaussianMixtureModel:
    """A k-component Gaussian mixture with one of mclust's covariance models."""

    covariance: CovarianceModel
    k: int

    def e_step(self, theta: GaussianParams, data: np.ndarray) -> tuple[GaussianStats, float]:
        return gaussian.e_step(data, theta, self.covariance.scatter)

    def m_step(self, stats: GaussianStats, previous: GaussianParams | None) -> GaussianParams:
        if (stats.nk <= _MIN_COMPONENT_WEIGHT).any():
            empty = np.flatnonzero(stats.nk <= _MIN_COMPONENT_WEIGHT)
            raise DegenerateFitError(
                f"component {int(empty[0]) + 1} is empty "
                f"(total responsibility {stats.nk[empty[0]]:.3g})"
            )
        covariances = self.covariance.m_step_trusted(
            stats.nk, stats.scatter(), None if previous is None else previous.covariances
        )
        return gaussian.gaussian_params(
            stats.nk / stats.nk.sum(),
            stats.means,
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

    def stats_from_responsibilities(self, x: np.ndarray, resp: np.ndarray) -> GaussianStats:
        return gaussian.stats_from_responsibilities(x, resp, self.covariance.scatter)
