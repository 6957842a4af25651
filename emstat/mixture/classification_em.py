"""Classification EM (CEM) and stochastic EM (SEM) over any mixture model.

Both replace EM's soft E-step by a hard partition and keep the model's
M-step, so one wrapper serves the Gaussian mixture (every covariance model)
and the finite mixtures of the other families:

* ``"cem"`` (Celeux & Govaert 1992): each E-step classifies every row to its
  most probable component (ties to the lowest), each M-step fits that
  partition.  The objective is the classification log-likelihood
  ``C = Σ_i w_i log(π_{z_i} f_{z_i}(x_i))``, which never decreases; the
  stopping rule follows it, and as there are finitely many partitions CEM
  reaches one that repeats, where ``C`` stops changing and every rule stops.
* ``"sem"`` (Celeux & Diebolt 1985): each E-step draws ``z_i ~
  Multinomial(z_i1 .. z_ik)`` from a seeded generator (a row of whole case
  weight ``w`` draws ``w`` labels; under other weights one label carries the
  row's weight), each M-step fits the draw.  It is not
  monotone; as flexmix's ``classify = "SEM"`` does, the stopping rule is
  applied to the observed-data log-likelihood, with flexmix's defaults
  (:data:`SEM_CONTROL`) unless a rule is given, and the estimate reported
  is the last iterate (flexmix's ``"random"`` would keep the best one).

Either way the log-likelihood a result reports (and BIC uses) is the
observed-data log-likelihood at the final parameters; ICL's entropy term is
that of the soft responsibilities there, as for EM.

Examples
--------
>>> import emstat
>>> fit = emstat.fit_mixture(emstat.load_dataset("faithful"), k=2, algorithm="cem")
>>> round(fit.loglik, 4), round(fit.objective, 4)  # observed-data, classification
(-1130.2832, -1130.4955)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from emstat.engine import Chunk, EMControl, EMResult, fit_em
from emstat.errors import InputError
from emstat.mixture import finite, gaussian
from emstat.mixture.model import GaussianMixtureModel

__all__ = [
    "ALGORITHMS",
    "SEM_CONTROL",
    "Algorithm",
    "HardEM",
    "algorithm_text",
    "best_run",
    "cem_then_em",
    "check_algorithm",
    "final_partition",
    "hard_model",
    "loaded_algorithm",
    "saved_algorithm",
]

Algorithm = Literal["em", "cem", "sem"]
ALGORITHMS: tuple[Algorithm, ...] = ("em", "cem", "sem")

#: SEM's stopping rule unless one is given: flexmix's FLXcontrol defaults
#: (relative change of the log-likelihood below 1e-6, at most 200 iterations).
SEM_CONTROL = EMControl(tol=1e-6, criterion="rel", max_iter=200)

_TEXT = {
    "em": "EM; objective: the log-likelihood",
    "cem": "classification EM (hard assignments); objective: the classification "
    "log-likelihood sum_i log(pi_z f_z(x_i)) = {objective:.6f}",
    "sem": "stochastic EM (assignments drawn each iteration, seeded; the last iterate, "
    "as flexmix's SEM); stopping rule on the observed-data log-likelihood",
}


def check_algorithm(algorithm: Any) -> Algorithm:
    """``algorithm`` if it is one of :data:`ALGORITHMS` (InputError naming the choices)."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    return algorithm


def algorithm_text(algorithm: str, objective: float = math.nan) -> str:
    """What the algorithm did and what it maximised, for summaries and reports."""
    return "algorithm: " + _TEXT[algorithm].format(objective=objective)


@dataclass(frozen=True, eq=False)
class HardEM:
    """``base``'s M-step after a hard E-step: classified (``"cem"``) or drawn (``"sem"``).

    ``base`` is a :class:`~emstat.mixture.model.GaussianMixtureModel` or a
    :class:`~emstat.mixture.finite.FiniteMixture`; ``rng`` draws SEM's
    assignments.  The E-step returns the partition's statistics and the
    observed-data log-likelihood at ``theta``.
    """

    base: Any
    algorithm: Literal["cem", "sem"]
    rng: np.random.Generator | None = None

    @property
    def k(self) -> int:
        return int(self.base.k)

    @property
    def monotone(self) -> bool:
        """CEM's objective never decreases (unless the base model's M-step is ridged);
        SEM's draws make no such promise."""
        return self.algorithm == "cem" and bool(getattr(self.base, "monotone", True))

    def e_step(self, theta: Any, data: Any) -> tuple[Any, float]:
        log_resp, row, weights, rows = _row_terms(self.base, theta, data)
        w = np.ones(row.shape[0]) if weights is None else weights
        labels = np.argmax(log_resp, axis=1)  # the first maximum: ties to the lowest component
        # ICL's entropy term, as EM's E-step gives it; for CEM also C - loglik.
        best = float(w @ log_resp[np.arange(row.shape[0]), labels])
        if self.algorithm == "cem":
            counts = np.zeros_like(log_resp)
            counts[np.arange(row.shape[0]), labels] = w
        else:
            counts = self._draw(np.exp(log_resp), w)
        stats = _stats_of_counts(self.base, rows, counts)
        return replace(stats, classification_loglik=best), float(w @ row)

    def objective(self, theta: Any, stats: Any, loglik: float) -> float:
        """CEM: ``C = loglik + Σ_i w_i max_k log z_ik``; SEM: the log-likelihood."""
        if self.algorithm == "cem":
            return loglik + float(stats.classification_loglik)
        return loglik

    def _draw(self, resp: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if self.rng is None:
            raise InputError("stochastic EM needs a random generator")
        whole = np.all(weights == np.round(weights))
        # clip rounding so the probabilities of a row sum to 1 and none is negative
        resp = np.clip(resp, 0.0, None)
        resp /= resp.sum(axis=1, keepdims=True)
        if whole and np.any(weights != 1.0):
            return self.rng.multinomial(weights.astype(np.int64), resp).astype(float)
        # one draw per row (by the inverse CDF), carrying the row's whole weight
        u = np.asarray(self.rng.random(resp.shape[0]))
        labels = np.minimum((np.cumsum(resp, axis=1) < u[:, None]).sum(axis=1), resp.shape[1] - 1)
        counts = np.zeros_like(resp)
        counts[np.arange(resp.shape[0]), labels] = weights
        return counts

    def m_step(self, stats: Any, previous: Any) -> Any:
        return self.base.m_step(stats, previous)

    def parameter_vector(self, theta: Any) -> np.ndarray:
        return np.asarray(self.base.parameter_vector(theta))

    def stats_from_responsibilities(self, data: Any, resp: np.ndarray) -> Any:
        """The statistics of a start: hardened (each row to its largest responsibility)."""
        labels = np.argmax(resp, axis=1)
        hard = np.zeros_like(resp)
        hard[np.arange(resp.shape[0]), labels] = 1.0
        return self.base.stats_from_responsibilities(data, hard)


def best_run(best: EMResult[Any, Any], runs: list[EMResult[Any, Any]], algorithm: str) -> Any:
    """The restart to keep: CEM's largest objective (what it maximises), else ``best``."""
    valid = [run for run in runs if run.ok]
    if algorithm != "cem" or not valid:
        return best
    return max(valid, key=lambda run: run.objective)


def hard_model(base: Any, algorithm: str, rng: np.random.Generator | None = None) -> Any:
    """``base`` itself for EM, else :class:`HardEM` around it."""
    if algorithm == "em":
        return base
    if algorithm == "sem" and rng is None:
        raise InputError("algorithm='sem' needs a seeded generator")
    return HardEM(base, algorithm, rng)  # type: ignore[arg-type]


def _row_terms(
    base: Any, theta: Any, data: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any]:
    """Log responsibilities, each row's log density, the case weights, and the rows."""
    if isinstance(base, GaussianMixtureModel):
        if isinstance(data, gaussian.WeightedRows):
            log_resp, row = gaussian.log_responsibilities(data.x, theta)
            return log_resp, row, data.weights, data.x
        log_resp, row = gaussian.log_responsibilities(data, theta)
        return log_resp, row, None, data
    rows: finite.FamilyData = data.values if isinstance(data, Chunk) else data
    log_resp, row = finite.log_responsibilities(base.family, theta, rows)
    if not np.isfinite(row).all():
        from emstat.families.base import zero_density_error

        raise zero_density_error(int(np.flatnonzero(~np.isfinite(row))[0]))
    return log_resp, row, rows.case_weights, rows


def _stats_of_counts(base: Any, rows: Any, counts: np.ndarray) -> Any:
    """Statistics of a partition given as (weighted) counts per row and component."""
    if isinstance(base, GaussianMixtureModel):
        return gaussian.stats_from_responsibilities(rows, counts, base.covariance.scatter)
    return base.stats_from_weighted(rows, counts)


def final_partition(model: Any, em: EMResult[Any, Any], data: Any) -> np.ndarray | None:
    """Each row's component (0-based) at a run's final parameters, or None if it failed."""
    if not em.ok:
        return None
    base = model.base if isinstance(model, HardEM) else model
    log_resp, _, _, _ = _row_terms(base, em.theta, data)
    return np.asarray(np.argmax(log_resp, axis=1))


def cem_then_em(
    base: Any, data: Any, stats0: Any, control: EMControl, **options: Any
) -> tuple[Any, str]:
    """The statistics EM starts from after CEM (from ``stats0``) has run, and what was done.

    ``init="cem"``: CEM from the default start, then EM from CEM's final
    partition.  A CEM run that degenerates (a component emptied) leaves the
    default start as it was.
    """
    cem = HardEM(base, "cem")
    run = fit_em(cem, data, stats0=stats0, control=control, warn=False, **options)
    labels = final_partition(cem, run, data)
    if labels is None:
        return stats0, f"degenerate ({run.degenerate}); EM started from the default start"
    k = int(base.k)
    resp = np.zeros((labels.shape[0], k))
    resp[np.arange(labels.shape[0]), labels] = 1.0
    if np.any(resp.sum(axis=0) == 0):
        return stats0, "emptied a component; EM started from the default start"
    return base.stats_from_responsibilities(data, resp), f"{run.n_iter} iterations"


def saved_algorithm(algorithm: str, objective: float) -> dict[str, Any]:
    """The algorithm's fields of a saved fit (none for EM: older files read the same)."""
    if algorithm == "em":
        return {}
    return {"algorithm": algorithm, "objective": objective if math.isfinite(objective) else None}


def loaded_algorithm(fields: Any) -> dict[str, Any]:
    """The algorithm and objective of a saved fit (:func:`saved_algorithm`), each checked."""
    if "algorithm" not in fields.payload:
        return {}
    algorithm = check_algorithm(fields.string("algorithm"))
    return {"algorithm": algorithm, "objective": fields.number("objective", nullable=True)}
