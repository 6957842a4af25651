"""The log-linear model for incomplete categorical data, as the engine sees it.

One class serves R's ``em.cat`` and ``ecm.cat``: the saturated model is the
log-linear model whose single margin is every variable, and one IPF cycle
raking to that margin is exactly ``em.cat``'s M-step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from emstat.categorical import kernels
from emstat.categorical.kernels import IncompleteTable, Margin

__all__ = ["ZERO_THRESHOLD", "LogLinearModel"]

# cat sets fitted cells below this share of the average cell to zero.
ZERO_THRESHOLD = 1e-7


@dataclass(frozen=True, eq=False)
class LogLinearModel:
    """A hierarchical log-linear model fitted by ECM (EM when saturated).

    ``theta`` is kept on cat's count scale (it sums to the number of units
    plus the prior's pseudo-counts) so that the ``param`` stopping rule sees
    exactly what cat's rule sees; divide by its sum for probabilities.

    Parameters
    ----------
    shape
        Levels per variable.
    margins
        Each margin a tuple of axes; ``((0, 1, ..., p-1),)`` is saturated.
    prior
        Dirichlet hyperparameter per cell; 1 gives the MLE, above 1 a
        posterior mode (cat's ``prior``).
    free
        Boolean mask, False on structural zeros.
    """

    shape: tuple[int, ...]
    margins: tuple[Margin, ...]
    prior: float = 1.0
    free: np.ndarray = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.free is None:
            object.__setattr__(self, "free", np.ones(self.shape, dtype=bool))

    @property
    def saturated(self) -> bool:
        """True when one margin holds every variable (em.cat)."""
        return any(len(m) == len(self.shape) for m in self.margins)

    @property
    def n_free_cells(self) -> int:
        """Cells that are not structural zeros."""
        return int(self.free.sum())

    def start(self) -> np.ndarray:
        """cat's default start: one in every cell, zero on structural zeros."""
        return self.free.astype(float)

    def e_step(self, theta: np.ndarray, data: IncompleteTable) -> tuple[np.ndarray, float]:
        """Expected cell counts and the log-posterior (log-likelihood when prior is 1)."""
        expected, loglik = kernels.e_step(theta, data)
        return expected, loglik + kernels.prior_penalty(theta, self.prior, self.free)

    def m_step(self, stats: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """One IPF cycle raking ``previous`` to the margins of counts + prior - 1.

        As cat: fitted cells below ``1e-7`` times the average cell are zeroed
        inside the cycle; for the saturated model, cells below ``1e-7`` times the
        total over the number of free cells are zeroed after the step, as
        em.cat does after normalising.
        """
        table = np.where(self.free, np.maximum(stats + (self.prior - 1.0), 0.0), 0.0)
        fit = self.start() if previous is None else previous
        new = kernels.ipf_cycle(table, fit, self.margins, ZERO_THRESHOLD)
        if self.saturated:
            new = np.where(new < ZERO_THRESHOLD * new.sum() / self.n_free_cells, 0.0, new)
        return new

    def parameter_vector(self, theta: np.ndarray) -> np.ndarray:
        """Every cell, for cat's stopping rule."""
        return np.ravel(theta)

    def n_params(self) -> int:
        """Free parameters: the rank of the model's margins over the free cells, less one."""
        return self._n_params

    @cached_property
    def _n_params(self) -> int:
        # Kept: with structural zeros in a smaller model the count takes an SVD.
        return kernels.n_loglinear_params(self.shape, self.margins, self.free)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` normalised to sum to one."""
        return theta / theta.sum()
